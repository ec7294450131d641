/**
 * The console's JSON and NDJSON endpoints as framework-free `(req) => Promise<Response>` functions
 * (app/api/console/** re-exports them). Every one requires a console session; the app report card
 * also accepts an access token of the client it reports on, so an app's CI can fetch its own.
 */
import { parseAuditFilters, queryAudit, auditNdjsonStream, toAuditJson, decodeAuditPosition, encodeAuditPosition } from './audit';
import { fhirBaseOf, publicOrigin } from '../http/origin';
import { FLOW_KINDS, getFlowDocument, listAllFlows, parseFlowFilters } from './flow-events';
import { curlTranscript, exportCredentials, postmanCollection } from './flow-export';
import { verifyAccessToken } from '../oauth/access-token';
import { bearerToken } from '../oauth/http';
import { currentSandbox } from '../sandbox/context';
import { consoleSessionOrResponse, readConsoleSession } from './auth';
import { getReseedStatus } from './data';
import { buildReportCard } from './report-card';
import { revokeTokenFromConsole } from './tokens';

const NO_STORE = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...NO_STORE, ...headers } });
}

/**
 * GET /api/console/audit?…filters[&since=ISO][&before=cursor][&limit=N] — the newest matching records
 * (live polling with `since`), one page at a time with `before` = the previous answer's `next`.
 */
export async function handleAuditPoll(req: Request): Promise<Response> {
  const session = await consoleSessionOrResponse(req);
  if (session instanceof Response) return session;
  const url = new URL(req.url);
  const filters = parseAuditFilters(url.searchParams);
  const sinceText = url.searchParams.get('since');
  const since = sinceText ? new Date(sinceText) : undefined;
  const limitText = url.searchParams.get('limit');
  const limit = limitText && /^\d{1,4}$/.test(limitText) ? Math.min(Number(limitText), 1000) : 200;
  const before = decodeAuditPosition(url.searchParams.get('before'));
  if (url.searchParams.has('before') && !before) return json({ error: 'invalid_request', error_description: 'before is not a cursor from this server' }, 400);
  const records = await queryAudit(filters, { limit, before, ...(since && !Number.isNaN(since.getTime()) ? { since } : {}) });
  const last = records[records.length - 1];
  // `next`: the cursor of the following (older) page, while a full page came back.
  return json({ records: records.map(toAuditJson), at: new Date().toISOString(), next: last && records.length === limit ? encodeAuditPosition(last) : null });
}

/** GET /api/console/audit.ndjson?…filters[&format=fhir] — every matching record, one JSON object per line. */
export async function handleAuditExport(req: Request): Promise<Response> {
  const session = await consoleSessionOrResponse(req);
  if (session instanceof Response) return session;
  const url = new URL(req.url);
  const format = url.searchParams.get('format') === 'fhir' ? 'fhir' : 'raw';
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return new Response(auditNdjsonStream(parseAuditFilters(url.searchParams), { format }), {
    headers: {
      'content-type': format === 'fhir' ? 'application/fhir+ndjson' : 'application/x-ndjson',
      'content-disposition': `attachment; filename="audit-${stamp}${format === 'fhir' ? '-auditevent' : ''}.ndjson"`,
      ...NO_STORE,
    },
  });
}

/** GET /api/console/reseed — progress of the current or last reseed. */
export async function handleReseedStatus(req: Request): Promise<Response> {
  const session = await consoleSessionOrResponse(req);
  if (session instanceof Response) return session;
  return json(await getReseedStatus());
}

const REPORT_PATH = /^\/api\/console\/clients\/([^/]+)\/report$/;

/** The one dynamic segment of a console API path, decoded; null when absent, malformed or over 200 characters. */
function pathSegment(req: Request, pattern: RegExp): string | null {
  const raw = pattern.exec(new URL(req.url).pathname)?.[1];
  if (raw === undefined) return null;
  try {
    const value = decodeURIComponent(raw);
    return value !== '' && value.length <= 200 ? value : null;
  } catch {
    return null;
  }
}

/**
 * GET /api/console/clients/{clientId}/report — the app report card (lib/console/report-card.ts) as
 * JSON. Authorised by a console session, or by `Authorization: Bearer <access token>` of that same
 * client (any live token the sandbox issued to it), so a CI pipeline can fail a build on `ok: false`.
 */
export async function handleClientReport(req: Request): Promise<Response> {
  const clientId = pathSegment(req, REPORT_PATH);
  if (clientId === null) return json({ error: 'not_found', error_description: 'no such client' }, 404);
  if (req.headers.get('authorization') !== null) {
    const token = bearerToken(req);
    const verified = token ? await verifyAccessToken(token, { sandboxId: currentSandbox().id, fhirBase: fhirBaseOf(req) }) : null;
    if (!verified?.ok)
      return json({ error: 'invalid_token', error_description: verified ? verified.description : 'the Authorization header is not a Bearer token' }, 401, {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
    // A token of another client learns nothing about this one, not even whether it exists.
    if (verified.token.clientId !== clientId) return json({ error: 'not_found', error_description: 'no such client' }, 404);
  } else if (!(await readConsoleSession(req.headers))) {
    return json(
      { error: 'console sign-in required', error_description: 'sign in to the console, or send an access token of this client as a Bearer token' },
      401,
    );
  }
  const report = await buildReportCard(clientId);
  if (!report) return json({ error: 'not_found', error_description: `no client '${clientId.slice(0, 100)}'` }, 404);
  return json(report);
}

const REVOKE_PATH = /^\/api\/console\/tokens\/([^/]+)\/revoke$/;

/**
 * POST /api/console/tokens/{id}/revoke with `{"scope": "token" | "grant"}` (default token) — what
 * the token page's two Revoke buttons do, for scripts: 200 `{ revoked, scope }` saying which it
 * did. JSON only (a cross-site form cannot send it), console session required.
 */
export async function handleTokenRevoke(req: Request): Promise<Response> {
  const session = await consoleSessionOrResponse(req);
  if (session instanceof Response) return session;
  if (!(req.headers.get('content-type') ?? '').toLowerCase().startsWith('application/json')) {
    return json({ error: 'invalid_request', error_description: 'send a JSON body: {"scope": "token"} or {"scope": "grant"}' }, 415);
  }
  let body: unknown;
  try {
    body = JSON.parse(await req.text());
  } catch {
    return json({ error: 'invalid_request', error_description: 'the body is not JSON' }, 400);
  }
  const scope = body !== null && typeof body === 'object' && 'scope' in body ? (body as { scope: unknown }).scope : 'token';
  if (scope !== 'token' && scope !== 'grant') return json({ error: 'invalid_request', error_description: 'scope must be "token" or "grant"' }, 400);
  const id = pathSegment(req, REVOKE_PATH);
  const result = id ? await revokeTokenFromConsole(id, session.user, { scope }) : null;
  if (!result) return json({ error: 'not_found', error_description: 'no such token' }, 404);
  return json(result);
}

/** The origin the sandbox of the request is served at: `{origin}` for the default sandbox, `{origin}/s/{id}` for another. */
function sandboxOrigin(req: Request): string {
  return `${publicOrigin(req)}${currentSandbox().basePath}`;
}

const FLOW_PATH = /^\/api\/console\/flows\/([^/]+)$/;
const FLOW_EXPORT_PATH = /^\/api\/console\/flows\/([^/]+)\/export$/;

/**
 * GET /api/console/flows?client=&user=&patient=&outcome=ok|failed&kind=…[&before=cursor][&limit=N] —
 * every flow, newest first (lib/console/flow-events.ts), one page at a time with `before` = the
 * previous answer's `next`.
 */
export async function handleFlowList(req: Request): Promise<Response> {
  const session = await consoleSessionOrResponse(req);
  if (session instanceof Response) return session;
  const url = new URL(req.url);
  const limitText = url.searchParams.get('limit');
  if (limitText !== null && !/^\d{1,3}$/.test(limitText))
    return json({ error: 'invalid_request', error_description: 'limit must be a number from 1 to 500' }, 400);
  const before = decodeAuditPosition(url.searchParams.get('before'));
  if (url.searchParams.has('before') && !before) return json({ error: 'invalid_request', error_description: 'before is not a cursor from this server' }, 400);
  const kind = url.searchParams.get('kind');
  if (kind !== null && kind !== '' && !(FLOW_KINDS as readonly string[]).includes(kind))
    return json({ error: 'invalid_request', error_description: `kind must be one of ${FLOW_KINDS.join(', ')}` }, 400);
  const outcome = url.searchParams.get('outcome');
  if (outcome !== null && outcome !== '' && outcome !== 'ok' && outcome !== 'failed')
    return json({ error: 'invalid_request', error_description: 'outcome must be ok or failed' }, 400);
  const { items, next } = await listAllFlows(parseFlowFilters(url.searchParams), { limit: limitText ? Number(limitText) : 50, before });
  return json({
    flows: items.map((f) => ({ ...f, at: f.at.toISOString(), href: `${currentSandbox().basePath}/console/flows/${encodeURIComponent(f.id)}` })),
    next: next ? encodeAuditPosition(next) : null,
  });
}

/** GET /api/console/flows/{id} — one flow: its steps in order and, when it failed, the step, rule, spec and advice. */
export async function handleFlowDocument(req: Request): Promise<Response> {
  const session = await consoleSessionOrResponse(req);
  if (session instanceof Response) return session;
  const id = pathSegment(req, FLOW_PATH);
  const flow = id ? await getFlowDocument(id, { origin: sandboxOrigin(req) }) : null;
  if (!flow) return json({ error: 'not_found', error_description: 'no such flow' }, 404);
  const { grantFlow: _grantFlow, ...document } = flow;
  return json({ ...document, href: `${currentSandbox().basePath}/console/flows/${encodeURIComponent(flow.id)}` });
}

/**
 * GET /api/console/flows/{id}/export?format=curl|postman[&tokens=include] — the flow as a runnable
 * shell transcript or a Postman collection v2.1 (lib/console/flow-export.ts). `tokens=include` puts
 * the flow's own access token in while it is still valid; otherwise every credential is a variable.
 */
export async function handleFlowExport(req: Request): Promise<Response> {
  const session = await consoleSessionOrResponse(req);
  if (session instanceof Response) return session;
  const url = new URL(req.url);
  const format = url.searchParams.get('format') ?? 'curl';
  if (format !== 'curl' && format !== 'postman') return json({ error: 'invalid_request', error_description: 'format must be curl or postman' }, 400);
  const id = pathSegment(req, FLOW_EXPORT_PATH);
  const origin = sandboxOrigin(req);
  const flow = id ? await getFlowDocument(id, { origin }) : null;
  if (!flow) return json({ error: 'not_found', error_description: 'no such flow' }, 404);
  const options = { origin, includeTokens: url.searchParams.get('tokens') === 'include' };
  const creds = await exportCredentials(flow, options);
  const name = `flow-${flow.id.slice(0, 40).replace(/[^A-Za-z0-9_-]/g, '_')}`;
  if (format === 'postman')
    return json(postmanCollection(flow, creds, options), 200, { 'content-disposition': `attachment; filename="${name}.postman_collection.json"` });
  return new Response(curlTranscript(flow, creds, options), {
    headers: { 'content-type': 'text/x-shellscript; charset=utf-8', 'content-disposition': `attachment; filename="${name}.sh"`, ...NO_STORE },
  });
}
