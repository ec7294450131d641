/**
 * Named scenarios over HTTP (app/api/scenarios/** re-exports these; README "Scenarios"):
 *
 *   GET    /api/scenarios                    every scenario, the built-in set first
 *   POST   /api/scenarios                    {name, description?, config} or {name?, description?, share}
 *   GET    /api/scenarios/{id}               one scenario
 *   PUT    /api/scenarios/{id}               {name?, description?, config?} (saved scenarios only)
 *   DELETE /api/scenarios/{id}               204 (saved scenarios only)
 *   POST   /api/scenarios/{id}/duplicate     201, a saved copy
 *   POST   /api/scenarios/{id}/share         201, {url}: a share link of its configuration
 *   POST   /api/scenarios/{id}/launch        200, the launch it starts (what the launcher's Launch button does)
 *
 * Errors answer `{"error": "invalid_request" | "not_found" | "conflict", "error_description": …}`.
 */
import { publicOrigin } from '../http/origin';
import { jsonNoStore, mediaType, readBodyText } from '../oauth/http';
import { InvalidRequest } from '../oauth/errors';
import {
  createScenario,
  deleteScenario,
  duplicateScenario,
  findScenario,
  listScenarios,
  scenarioFromShareLink,
  shareScenario,
  updateScenario,
} from './scenarios';
import type { ScenarioResult } from './scenarios';
import { startLaunch } from './start-launch';
import { ensureSampleAppClient, sampleAppClientId } from './sample-app';
import { backendDemoClientId, ensureBackendDemoClient } from './backend-demo';

const ERROR_CODES = { 400: 'invalid_request', 404: 'not_found', 409: 'conflict', 413: 'invalid_request', 415: 'invalid_request' } as const;

function failure(status: keyof typeof ERROR_CODES, description: string): Response {
  return jsonNoStore({ error: ERROR_CODES[status], error_description: description }, status);
}

function answer<T>(result: ScenarioResult<T>, status = 200, shape: (value: T) => unknown = (v) => v): Response {
  return result.ok ? jsonNoStore(shape(result.value), status) : failure(result.status, result.error);
}

async function readJson(req: Request): Promise<Record<string, unknown> | Response> {
  if (mediaType(req) !== 'application/json') return failure(415, 'send JSON (Content-Type: application/json)');
  try {
    const value: unknown = JSON.parse(await readBodyText(req));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return failure(400, 'the body must be a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    return failure(err instanceof InvalidRequest ? 413 : 400, err instanceof InvalidRequest ? err.message : 'the body is not valid JSON');
  }
}

/** The scenario id of `/api/scenarios/{id}[/action]`, decoded, or null. */
function scenarioId(req: Request): string | null {
  const raw = /^\/api\/scenarios\/([^/]+)/.exec(new URL(req.url).pathname)?.[1];
  if (!raw) return null;
  try {
    const id = decodeURIComponent(raw);
    return id.length <= 100 ? id : null;
  } catch {
    return null;
  }
}

function withId(handler: (req: Request, id: string) => Promise<Response>): (req: Request) => Promise<Response> {
  return async (req) => {
    const id = scenarioId(req);
    return id ? handler(req, id) : failure(404, 'no such scenario');
  };
}

/** GET /api/scenarios */
export async function handleListScenarios(): Promise<Response> {
  return jsonNoStore({ scenarios: await listScenarios() });
}

/** POST /api/scenarios */
export async function handleCreateScenario(req: Request): Promise<Response> {
  const body = await readJson(req);
  if (body instanceof Response) return body;
  if (typeof body.share === 'string') return answer(await scenarioFromShareLink(body.share, body), 201);
  return answer(await createScenario(body), 201);
}

/** GET /api/scenarios/{id} */
export const handleGetScenario = withId(async (_req, id) => {
  const scenario = await findScenario(id);
  return scenario ? jsonNoStore(scenario) : failure(404, `no scenario '${id}'`);
});

/** PUT /api/scenarios/{id} */
export const handleUpdateScenario = withId(async (req, id) => {
  const body = await readJson(req);
  if (body instanceof Response) return body;
  return answer(await updateScenario(id, body));
});

/** DELETE /api/scenarios/{id} */
export const handleDeleteScenario = withId(async (_req, id) => {
  const result = await deleteScenario(id);
  return result.ok ? new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } }) : failure(result.status, result.error);
});

/** POST /api/scenarios/{id}/duplicate */
export const handleDuplicateScenario = withId(async (_req, id) => answer(await duplicateScenario(id), 201));

/** POST /api/scenarios/{id}/share */
export const handleShareScenario = withId(async (req, id) => answer(await shareScenario(id, publicOrigin(req)), 201, (url) => ({ url })));

/** POST /api/scenarios/{id}/launch */
export const handleLaunchScenario = withId(async (req, id) => {
  const scenario = await findScenario(id);
  if (!scenario) return failure(404, `no scenario '${id}'`);
  const origin = publicOrigin(req);
  // The built-in apps are registered on first use, as the launcher page does.
  if (scenario.config.clientId === sampleAppClientId()) await ensureSampleAppClient(origin);
  if (scenario.config.clientId === backendDemoClientId()) await ensureBackendDemoClient();
  const started = await startLaunch(scenario.config, origin);
  return started.ok ? jsonNoStore(started) : failure(400, started.error);
});
