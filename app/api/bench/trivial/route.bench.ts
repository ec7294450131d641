// The trivial route handler benchmarks compare against (npm run bench). Its `.bench.ts` extension
// keeps it out of every build but the benchmark's own (SANDBOX_BENCH_ROUTES=1, next.config.ts).
export function GET(): Response {
  return new Response('ok', { headers: { 'content-type': 'text/plain' } });
}
export const dynamic = 'force-dynamic';
