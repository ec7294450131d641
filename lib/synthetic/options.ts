import { CHRONIC, CONDITION_KEYS, isConditionKey } from './conditions';
import type { ConditionKey } from './conditions';
import { parseDay, today } from './dates';

/** Options shared by every generator entry point. */
export interface GenerateOptions {
  /** Non-negative integer; the same seed and anchor date give byte-identical output. */
  readonly seed: number;
  /** 'YYYY-MM-DD' every date is relative to (default: today, UTC). Record it to reproduce a dataset. */
  readonly anchorDate?: string;
  /** Cohort condition every generated patient has (see CONDITION_KEYS). */
  readonly condition?: string;
  readonly minAge?: number;
  readonly maxAge?: number;
  /** Years of history before the anchor date (default 5); scales the resources per patient. */
  readonly historyYears?: number;
}

export interface ResolvedOptions {
  readonly seed: number;
  readonly anchorDate: string;
  readonly anchorDay: number;
  readonly condition?: ConditionKey;
  readonly minAge: number;
  readonly maxAge: number;
  /** An age range was asked for (otherwise ages follow the US population). */
  readonly ageRange: boolean;
  readonly historyYears: number;
}

export const MAX_AGE = 105;
export const DEFAULT_HISTORY_YEARS = 4;

/** Validates options and fills defaults; the only place generation reads the clock. */
export function resolveOptions(opts: GenerateOptions): ResolvedOptions {
  if (!Number.isSafeInteger(opts.seed) || opts.seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${opts.seed}`);
  const anchorDate = opts.anchorDate ?? today();
  const anchorDay = parseDay(anchorDate);
  let condition: ConditionKey | undefined;
  if (opts.condition !== undefined) {
    if (!isConditionKey(opts.condition)) throw new RangeError(`unknown condition "${opts.condition}"; expected one of ${CONDITION_KEYS.join(', ')}`);
    condition = opts.condition;
  }
  const historyYears = opts.historyYears ?? DEFAULT_HISTORY_YEARS;
  if (!(historyYears > 0 && historyYears <= 50)) throw new RangeError('historyYears must be in (0, 50]');
  let minAge = opts.minAge ?? 0;
  let maxAge = opts.maxAge ?? MAX_AGE;
  if (!(minAge >= 0 && maxAge <= 120 && minAge <= maxAge)) throw new RangeError(`invalid age range ${minAge}..${maxAge}`);
  if (condition) {
    // A condition only exists from its minimum age (one year of margin so its onset fits).
    const def = CHRONIC[condition];
    minAge = Math.max(minAge, def.minAge + 1);
    maxAge = Math.min(maxAge, def.maxAge ?? maxAge);
    if (minAge > maxAge) throw new RangeError(`no patient aged ${opts.minAge ?? 0}..${opts.maxAge ?? MAX_AGE} can have ${condition}`);
  }
  return {
    seed: opts.seed,
    anchorDate,
    anchorDay,
    ...(condition ? { condition } : {}),
    minAge,
    maxAge,
    ageRange: opts.minAge !== undefined || opts.maxAge !== undefined || condition !== undefined,
    historyYears,
  };
}
