/** Largest and smallest instants FHIR dates can take, used for open period ends. */
export const MAX_TIME = 8.64e15;
export const MIN_TIME = -8.64e15;

const datePattern = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * The instant range [start, end] (epoch ms, inclusive) that a FHIR date, dateTime or instant
 * covers at its precision: "2024" is the whole year, "2024-03-05T10:00" one minute.
 * Times without an offset are read as UTC. Returns null when the value is not a FHIR date.
 */
export function dateRange(value: string): [number, number] | null {
  const m = datePattern.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  const month = mo ? Number(mo) - 1 : 0;
  const day = d ? Number(d) : 1;
  if (mo && (month < 0 || month > 11)) return null;
  if (d && (day < 1 || day > 31)) return null;
  const offsetMs = tz && tz !== 'Z' ? (tz[0] === '-' ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) * 60_000 : 0;
  const start = Date.UTC(year, month, day, h ? Number(h) : 0, mi ? Number(mi) : 0, s ? Number(s) : 0, frac ? Math.floor(Number(frac) * 1000) : 0) - offsetMs;
  if (Number.isNaN(start)) return null;
  let end: number;
  if (!mo) end = Date.UTC(year + 1, 0, 1);
  else if (!d) end = Date.UTC(year, month + 1, 1);
  else if (!h) end = Date.UTC(year, month, day + 1);
  else if (!s) end = start + offsetMs + 60_000 - offsetMs;
  else if (!frac) end = start + 1000;
  else end = start + 1;
  if (!h) end -= 0; // whole days are in UTC
  return [start, end - 1];
}
