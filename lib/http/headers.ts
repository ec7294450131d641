/** Request headers as route handlers (Headers), server components and next-auth (a plain object) hold them. */
export type HeaderSource = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

/** A header's value (repeated headers joined with ", "), or null. */
export function headerValue(source: HeaderSource, name: string): string | null {
  if (typeof source.get === 'function') return (source as { get(name: string): string | null }).get(name);
  const v = (source as Record<string, string | string[] | undefined>)[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : (v ?? null);
}

/** The comma-separated entries of a list-valued header, trimmed, empty ones dropped. */
export function headerList(source: HeaderSource, name: string): string[] {
  const v = headerValue(source, name);
  return v === null
    ? []
    : v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
}
