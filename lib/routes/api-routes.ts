/**
 * The API route table: every path answered by a framework-free lib handler, with its methods and
 * its kind of security headers. Both servers are derived from it:
 *
 * - Next (`next dev`, and `npm start` with API_FAST_PATH=0): each app/…/route.ts is one line,
 *   `export const { GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS } = nextRouteHandlers('<key>')`;
 * - `npm start` (scripts/lib/app-server.mjs): `matchApiRoute` picks the route for a request and
 *   `handleApiRequest` answers it without Next's request pipeline.
 *
 * Both go through `dispatch`, so methods, the automatic HEAD and OPTIONS answers, 405s and security
 * headers are the same whichever server runs them; test/unit/routes/api-routes.test.ts fails when a
 * route file and the table disagree. The interaction screens, next-auth and pages stay with Next.
 */
import {
  handleAuditExport,
  handleAuditPoll,
  handleClientReport,
  handleFlowDocument,
  handleFlowExport,
  handleFlowList,
  handleReseedStatus,
  handleTokenRevoke,
} from '../console/api';
import { handleFhirRequest } from '../fhir/router';
import { handleJwksTool, handleKeyPairTool } from '../launcher/tools-api';
import {
  handleCreateScenario,
  handleDeleteScenario,
  handleDuplicateScenario,
  handleGetScenario,
  handleLaunchScenario,
  handleListScenarios,
  handleShareScenario,
  handleUpdateScenario,
} from '../launcher/scenarios-api';
import { handleHealth } from '../http/health';
import { applyRouteSecurityHeaders } from '../http/security-headers';
import type { RouteHeaderKind } from '../http/security-headers';
import { handleDiscoveryPreflight, handleOpenIdConfiguration, handleSmartConfiguration, handleSmartStyle } from '../oauth/discovery';
import { handleAuthorize } from '../oauth/endpoints/authorize';
import { handleIntrospect } from '../oauth/endpoints/introspect';
import { handleJwks } from '../oauth/endpoints/jwks';
import { handleRegister } from '../oauth/endpoints/register';
import { handleRevoke, handleRevokePreflight } from '../oauth/endpoints/revoke';
import { handleToken, handleTokenPreflight } from '../oauth/endpoints/token';
import { operationOutcome } from '../fhir/outcomes';
import { DEFAULT_SANDBOX, resolveSandbox, runInSandbox, sandboxOfHeaders } from '../sandbox/context';
import type { SandboxContext } from '../sandbox/context';
import { handleJoinPage, handleJoinPost, handleResumePage, handleResumePost } from '../workshop/join';
import {
  handleAttendeeClock,
  handleAttendeeReset,
  handleExerciseEvents,
  handleSandboxClock,
  handleWorkshop,
  handleWorkshopCsv,
  handleWorkshopEvents,
  handleWorkshops,
} from '../console/workshops-api';

/** The methods a route file may export (Next's list). */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

type Handler = (req: Request) => Promise<Response> | Response;

/** One API route. */
export interface ApiRoute {
  /** The route's path as Next spells it (its app/ folder without route groups): `[name]` is one segment, `[[...name]]` an optional catch-all at the end. */
  readonly path: string;
  /** The lib handler of each method; HEAD falls back to GET and OPTIONS to an `Allow` answer, as in Next. */
  readonly methods: Readonly<Partial<Record<HttpMethod, Handler>>>;
  /** Security headers (lib/http/security-headers.ts). */
  readonly headers: RouteHeaderKind;
}

export const API_ROUTES = {
  fhir: {
    path: '/fhir/[[...path]]',
    methods: {
      GET: handleFhirRequest,
      POST: handleFhirRequest,
      PUT: handleFhirRequest,
      PATCH: handleFhirRequest,
      DELETE: handleFhirRequest,
      OPTIONS: handleFhirRequest,
    },
    headers: 'api',
  },
  'smart-configuration': {
    path: '/fhir/.well-known/smart-configuration',
    methods: { GET: handleSmartConfiguration, OPTIONS: handleDiscoveryPreflight },
    headers: 'api',
  },
  'openid-configuration': {
    path: '/.well-known/openid-configuration',
    methods: { GET: handleOpenIdConfiguration, OPTIONS: handleDiscoveryPreflight },
    headers: 'api',
  },
  jwks: { path: '/.well-known/jwks.json', methods: { GET: handleJwks }, headers: 'api' },
  'smart-style': { path: '/smart-style.json', methods: { GET: handleSmartStyle, OPTIONS: handleDiscoveryPreflight }, headers: 'api' },
  // Its answers may be HTML error pages or redirects with their own complete headers (lib/oauth/errors.ts).
  authorize: { path: '/oauth/authorize', methods: { GET: handleAuthorize, POST: handleAuthorize }, headers: 'own' },
  token: { path: '/oauth/token', methods: { POST: handleToken, OPTIONS: handleTokenPreflight }, headers: 'api' },
  introspect: { path: '/oauth/introspect', methods: { POST: handleIntrospect }, headers: 'api' },
  revoke: { path: '/oauth/revoke', methods: { POST: handleRevoke, OPTIONS: handleRevokePreflight }, headers: 'api' },
  register: { path: '/oauth/register', methods: { POST: handleRegister }, headers: 'api' },
  health: { path: '/api/health', methods: { GET: handleHealth }, headers: 'api' },
  'console-audit': { path: '/api/console/audit', methods: { GET: handleAuditPoll }, headers: 'api' },
  'console-audit-export': { path: '/api/console/audit.ndjson', methods: { GET: handleAuditExport }, headers: 'api' },
  'console-reseed': { path: '/api/console/reseed', methods: { GET: handleReseedStatus }, headers: 'api' },
  'console-client-report': { path: '/api/console/clients/[id]/report', methods: { GET: handleClientReport }, headers: 'api' },
  'console-token-revoke': { path: '/api/console/tokens/[id]/revoke', methods: { POST: handleTokenRevoke }, headers: 'api' },
  'console-flows': { path: '/api/console/flows', methods: { GET: handleFlowList }, headers: 'api' },
  'console-flow': { path: '/api/console/flows/[id]', methods: { GET: handleFlowDocument }, headers: 'api' },
  'console-flow-export': { path: '/api/console/flows/[id]/export', methods: { GET: handleFlowExport }, headers: 'api' },
  'tools-jwks': { path: '/api/tools/jwks', methods: { POST: handleJwksTool }, headers: 'api' },
  'tools-key-pair': { path: '/api/tools/key-pair', methods: { POST: handleKeyPairTool }, headers: 'api' },
  scenarios: { path: '/api/scenarios', methods: { GET: handleListScenarios, POST: handleCreateScenario }, headers: 'api' },
  scenario: { path: '/api/scenarios/[id]', methods: { GET: handleGetScenario, PUT: handleUpdateScenario, DELETE: handleDeleteScenario }, headers: 'api' },
  'scenario-duplicate': { path: '/api/scenarios/[id]/duplicate', methods: { POST: handleDuplicateScenario }, headers: 'api' },
  'scenario-share': { path: '/api/scenarios/[id]/share', methods: { POST: handleShareScenario }, headers: 'api' },
  'scenario-launch': { path: '/api/scenarios/[id]/launch', methods: { POST: handleLaunchScenario }, headers: 'api' },
  'console-clock': { path: '/api/console/clock', methods: { POST: handleSandboxClock }, headers: 'api' },
  'console-exercise-events': { path: '/api/console/exercises/events', methods: { GET: handleExerciseEvents }, headers: 'api' },
  workshops: { path: '/api/workshops', methods: { GET: handleWorkshops, POST: handleWorkshops }, headers: 'api' },
  workshop: { path: '/api/workshops/[id]', methods: { GET: handleWorkshop, PATCH: handleWorkshop, DELETE: handleWorkshop }, headers: 'api' },
  'workshop-progress-csv': { path: '/api/workshops/[id]/progress.csv', methods: { GET: handleWorkshopCsv }, headers: 'api' },
  'workshop-events': { path: '/api/workshops/[id]/events', methods: { GET: handleWorkshopEvents }, headers: 'api' },
  'workshop-attendee-reset': { path: '/api/workshops/[id]/attendees/[attendeeId]/reset', methods: { POST: handleAttendeeReset }, headers: 'api' },
  'workshop-attendee-clock': { path: '/api/workshops/[id]/attendees/[attendeeId]/clock', methods: { POST: handleAttendeeClock }, headers: 'api' },
  // The join screens are HTML pages with their own complete headers (lib/workshop/join.tsx).
  'workshop-join': { path: '/w/[code]', methods: { GET: handleJoinPage, POST: handleJoinPost }, headers: 'own' },
  'workshop-resume': { path: '/w/[code]/[secret]', methods: { GET: handleResumePage, POST: handleResumePost }, headers: 'own' },
} as const satisfies Record<string, ApiRoute>;

export type ApiRouteKey = keyof typeof API_ROUTES;

function allowOf(route: ApiRoute): string {
  const allow = new Set<string>(['OPTIONS', ...Object.keys(route.methods)]);
  if (route.methods.GET) allow.add('HEAD');
  return [...allow].sort().join(', ');
}

/** What a method without a handler of its own gets: GET's answer for HEAD, `Allow` for OPTIONS, else 405 (RFC 9110 §15.5.6). */
function fallbackOf(route: ApiRoute, method: string): Handler {
  if (method === 'HEAD' && route.methods.GET) return route.methods.GET;
  if (method === 'OPTIONS') return () => new Response(null, { status: 204, headers: { allow: allowOf(route) } });
  return () => new Response(null, { status: 405, headers: { allow: allowOf(route) } });
}

/** Runs the route's handler for the request's method, in the request's sandbox, and applies the route's security headers. */
async function dispatch(route: ApiRoute, req: Request, sandbox: SandboxContext): Promise<Response> {
  const handler = route.methods[req.method as HttpMethod] ?? fallbackOf(route, req.method);
  if (sandbox === DEFAULT_SANDBOX) return applyRouteSecurityHeaders(await handler(req), route.headers);
  return runInSandbox(sandbox, async () => applyRouteSecurityHeaders(await handler(req), route.headers));
}

/**
 * The answer for a `/s/{id}/…` path naming no sandbox served here, in the protocol's own shape: a
 * FHIR OperationOutcome under `/fhir`, an OAuth error object elsewhere (RFC 6749 §5.2 shape).
 */
export function unknownSandboxResponse(route: ApiRoute): Response {
  const description = 'No sandbox is served at this address (unknown, deleted, or its workshop room is closed).';
  const fhir = route.path === '/fhir/[[...path]]';
  const body = fhir ? operationOutcome('error', 'not-found', description) : { error: 'invalid_request', error_description: description };
  const headers = { 'content-type': fhir ? 'application/fhir+json; charset=utf-8' : 'application/json; charset=utf-8', 'cache-control': 'no-store' };
  return applyRouteSecurityHeaders(new Response(JSON.stringify(body), { status: 404, headers }), route.headers === 'own' ? 'api' : route.headers);
}

/** The request without its `/s/{id}` prefix, as lib handlers see every request (a rewrite may leave it on the URL). */
function withoutSandboxPrefix(req: Request, sandbox: SandboxContext): Request {
  if (!sandbox.basePath) return req;
  const url = new URL(req.url);
  if (!url.pathname.startsWith(`${sandbox.basePath}/`)) return req;
  url.pathname = url.pathname.slice(sandbox.basePath.length);
  return new Request(url, { method: req.method, headers: req.headers, body: req.body, signal: req.signal, duplex: 'half' } as RequestInit);
}

/** The exports of a Next route file for one route of the table (every method: 405s come from the table too). */
export function nextRouteHandlers(key: ApiRouteKey): Record<HttpMethod, (req: Request) => Promise<Response>> {
  const route: ApiRoute = API_ROUTES[key];
  // proxy.ts rewrote a `/s/{id}/…` request to this route and named the sandbox in a header it never
  // takes from the client.
  const handle = async (req: Request) => {
    const sandbox = await sandboxOfHeaders(req.headers);
    if (!sandbox) return unknownSandboxResponse(route);
    return dispatch(route, withoutSandboxPrefix(req, sandbox), sandbox);
  };
  return { GET: handle, HEAD: handle, POST: handle, PUT: handle, DELETE: handle, PATCH: handle, OPTIONS: handle };
}

const exact = new Map<string, ApiRoute>();
const patterns: { pattern: RegExp; catchAll: boolean; route: ApiRoute }[] = [];
for (const route of Object.values(API_ROUTES) as ApiRoute[]) {
  if (!route.path.includes('[')) {
    exact.set(route.path, route);
    continue;
  }
  const source = route.path
    .split('/')
    .slice(1)
    .map((segment) =>
      /^\[\[\.\.\.[^\]]+\]\]$/.test(segment) ? '(?:/.+)?' : /^\[[^\].]+\]$/.test(segment) ? '/[^/]+' : `/${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`,
    )
    .join('');
  patterns.push({ pattern: new RegExp(`^${source}$`), catchAll: route.path.includes('[[...'), route });
}
// As Next: dynamic segments before catch-alls (static paths are looked up first).
patterns.sort((a, b) => Number(a.catchAll) - Number(b.catchAll));

/**
 * The route a request path belongs to, matched as Next matches its route files (static paths
 * before catch-alls), or null. Paths Next would first normalise or redirect (a trailing slash,
 * empty or dot segments, percent-encoded slashes) are left to Next, which owns those rules.
 */
export function matchApiRoute(pathname: string): ApiRoute | null {
  if (pathname.length > 1 && pathname.endsWith('/')) return null;
  if (pathname.includes('//') || /\/\.\.?(\/|$)/.test(pathname) || /%2f|%5c|\\/i.test(pathname)) return null;
  const route = exact.get(pathname);
  if (route) return route;
  for (const p of patterns) if (p.pattern.test(pathname)) return p.route;
  return null;
}

export { splitSandboxPath } from '../sandbox';

/**
 * Answers a request for a path `matchApiRoute` matched, the way the route file would; with
 * `sandboxId` (the request came under `/s/{sandboxId}` and its URL no longer carries the prefix)
 * in that sandbox, or the protocol's 404 when none is served there.
 */
export async function handleApiRequest(route: ApiRoute, req: Request, sandboxId?: string): Promise<Response> {
  if (sandboxId === undefined) return dispatch(route, req, DEFAULT_SANDBOX);
  const sandbox = sandboxId === 'default' ? null : await resolveSandbox(sandboxId);
  return sandbox ? dispatch(route, req, sandbox) : unknownSandboxResponse(route);
}
