/**
 * CORS for the token and revocation endpoints: only origins registered for a public client are
 * echoed (SMART App Launch 2.2 §app-launch CORS; docs/CONFORMANCE.md #66, #182). Confidential clients do
 * not call from browsers and get no CORS headers.
 */
import { getDb } from '../db';
import type { OAuthClient } from './clients';
import { getClient } from './clients';
import type { OAuthCall } from './endpoint';
import { corsFor } from './http';

/** Sets call.corsOrigin when the request's Origin is registered for this public client. */
export async function allowPublicClientOrigin(call: OAuthCall, clientOrId: OAuthClient | string | null): Promise<void> {
  const origin = call.req.headers.get('origin');
  if (!origin || !clientOrId) return;
  const client = typeof clientOrId === 'string' ? await getClient(clientOrId, { sandboxId: call.sandboxId }) : clientOrId;
  if (client?.clientType === 'public' && client.allowedOrigins.includes(origin)) call.corsOrigin = origin;
}

/** OPTIONS preflight: allowed when some public client of the sandbox registered the Origin. */
export async function handleCorsPreflight(req: Request, sandboxId: string): Promise<Response> {
  const origin = req.headers.get('origin');
  if (origin && origin.length < 300) {
    const rows = await getDb().client.findMany({ where: { sandboxId, clientType: 'public' }, select: { metadata: true } });
    const allowed = rows.some((r) => {
      try {
        return ((JSON.parse(r.metadata) as { allowedOrigins?: string[] }).allowedOrigins ?? []).includes(origin);
      } catch {
        return false;
      }
    });
    if (allowed) return new Response(null, { status: 204, headers: corsFor(origin) });
  }
  return new Response(null, { status: 204, headers: { vary: 'Origin' } });
}
