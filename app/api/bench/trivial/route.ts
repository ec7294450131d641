// The trivial route handler benchmarks compare against (npm run bench).
export function GET(): Response {
  return new Response('ok', { headers: { 'content-type': 'text/plain' } });
}
export const dynamic = 'force-dynamic';
