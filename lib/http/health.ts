import { getDb, getDbKind } from '../db';

/** GET /api/health: the database kind and whether it answers. */
export async function handleHealth(_req: Request): Promise<Response> {
  const kind = getDbKind();
  const started = performance.now();
  try {
    await getDb().sandbox.count();
    const latencyMs = Math.round((performance.now() - started) * 100) / 100;
    return Response.json({ status: 'ok', database: { kind, ok: true, latencyMs } }, { headers: { 'cache-control': 'no-store' } });
  } catch {
    return Response.json(
      { status: 'unavailable', database: { kind, ok: false } },
      { status: 503, headers: { 'cache-control': 'no-store', 'retry-after': '5' } },
    );
  }
}
