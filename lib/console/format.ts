/** Small pure helpers shared by the console queries and pages (safe in the browser). */

/** Splits a space-separated list (audit flags, scopes), dropping empties. */
export function splitList(text: string | null | undefined): string[] {
  return (text ?? '').split(/\s+/).filter((s) => s !== '');
}

/** "in 4m 12s" / "3h 2m ago" relative to `now`. */
export function relativeTime(at: Date, now: Date = new Date()): string {
  const diff = at.getTime() - now.getTime();
  const text = formatDuration(Math.abs(diff) / 1000);
  return diff >= 0 ? `in ${text}` : `${text} ago`;
}

/** 3725 → "1h 2m 5s". */
export function formatDuration(seconds: number): string {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${r}s`;
  return `${r}s`;
}

/** First value of a Next.js searchParams entry. */
export function firstParam(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Next.js page searchParams → URLSearchParams. */
export function toSearchParams(params: Record<string, string | string[] | undefined>): URLSearchParams {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) for (const one of v) out.append(k, one);
    else if (v !== undefined) out.set(k, v);
  }
  return out;
}
