import { CHRONIC } from './conditions';
import { DAYS_PER_YEAR } from './dates';
import { resolveOptions } from './options';
import type { GenerateOptions, ResolvedOptions } from './options';
import { buildRecord } from './patient';
import type { PatientRecord } from './patient';
import { Rng, patientSeed } from './random';

// US age pyramid (Census 2020, coarse): share of the population per age band.
const AGE_BANDS: readonly (readonly [number, number])[] = [
  [0, 5],
  [5, 18],
  [18, 35],
  [35, 50],
  [50, 65],
  [65, 80],
  [80, 100],
];
const AGE_WEIGHTS = [6, 16, 22, 19, 19, 13, 5];

/** Patient id of the i-th cohort patient of a seed. */
export function cohortPatientId(seed: number, index: number): string {
  return `pat-${seed}-${index}`;
}

function deathChance(years: number): number {
  return years < 50 ? 0.004 : years < 70 ? 0.03 : years < 85 ? 0.1 : 0.25;
}

/** Generates cohort patient `index` from resolved options (no validation). */
export function generateResolved(index: number, o: ResolvedOptions): PatientRecord {
  const rng = new Rng(patientSeed(o.seed, index));
  const def = o.condition ? CHRONIC[o.condition] : undefined;
  const band = rng.weighted(AGE_BANDS, AGE_WEIGHTS);
  const years = o.ageRange ? rng.float(o.minAge, o.maxAge + 0.999) : rng.float(band[0], band[1]);
  const sex = def?.sex ?? (rng.chance(0.5) ? 'female' : 'male');
  const birthDay = o.anchorDay - Math.floor(years * DAYS_PER_YEAR) - 1;
  let deathDay: number | undefined = rng.chance(deathChance(years)) ? o.anchorDay - rng.int(20, 3 * 365) : undefined;
  // Keep a forced condition possible: the patient must have lived past its minimum age.
  if (deathDay !== undefined && (deathDay - birthDay < ((def?.minAge ?? 0) + 1) * DAYS_PER_YEAR || o.condition === 'pregnancy' || deathDay <= birthDay + 30))
    deathDay = undefined;
  return buildRecord({
    id: cohortPatientId(o.seed, index),
    rng,
    anchorDay: o.anchorDay,
    sex,
    birthDay,
    ...(deathDay !== undefined ? { deathDay } : {}),
    ...(o.condition ? { conditions: [o.condition] } : {}),
    historyYears: o.historyYears,
  });
}

/** One cohort patient with everything in their record; patient `index` is the same whatever the cohort size. */
export function generatePatient(index: number, opts: GenerateOptions): PatientRecord {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`index must be a non-negative integer, got ${index}`);
  return generateResolved(index, resolveOptions(opts));
}
