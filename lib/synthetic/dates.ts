const DAY_MS = 86_400_000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 (UTC) of a 'YYYY-MM-DD' date; throws on anything else. */
export function parseDay(date: string): number {
  const m = ISO_DATE.exec(date);
  if (!m) throw new RangeError(`anchorDate must be YYYY-MM-DD, got "${date}"`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const day = ms / DAY_MS;
  if (toDate(day) !== date) throw new RangeError(`anchorDate is not a calendar date: "${date}"`);
  return day;
}

/** Today's date in UTC as 'YYYY-MM-DD': the default anchor, read once when options are resolved. */
export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

// Formatting dates dominates generation time without a cache; a dataset spans a few thousand days.
const dateCache = new Map<number, string>();

/** 'YYYY-MM-DD' of a day number. */
export function toDate(day: number): string {
  let s = dateCache.get(day);
  if (s === undefined) {
    s = new Date(day * DAY_MS).toISOString().slice(0, 10);
    if (dateCache.size < 200_000) dateCache.set(day, s);
  }
  return s;
}

/** FHIR instant/dateTime (UTC, seconds precision) of a day number plus minutes after midnight. */
export function toDateTime(day: number, minute: number): string {
  const d = day + Math.floor(minute / 1440);
  const m = ((minute % 1440) + 1440) % 1440;
  const hh = Math.floor(m / 60);
  const mm = m % 60;
  return `${toDate(d)}T${hh < 10 ? '0' : ''}${hh}:${mm < 10 ? '0' : ''}${mm}:00Z`;
}

export const DAYS_PER_YEAR = 365.25;
export const DAYS_PER_MONTH = 30.44;
