// The access-management screen behind discovery's management_endpoint (docs/CONFORMANCE.md #19,
// #136), over real HTTP with grants from real authorization-code flows: the signed-in persona sees
// the apps it authorized and what each may do, revokes one from the page (CSRF-checked form) or the
// JSON API, and the revoked app's access token (FHIR 401) and refresh token (invalid_grant) stop
// working at once, while other apps and other personas are untouched.
import { describe, it, expect, inject, beforeAll } from 'vitest';
import * as oauth from 'oauth4webapi';
import { BrowserSession, hiddenInputs, unescapeHtml } from './support/browserless';
import { discover, fhirGet, insecure, registerSymmetricClient, runCodeFlow, smartConfiguration } from './support/smart-client';
import type { CompletedFlow, RegisteredClient } from './support/smart-client';

const base = inject('baseUrl');
// Deterministic seed (SEED=42); patients other suites do not use, so per-patient rate limits stay clear.
const PATIENT = 'pat-42-5';
const OTHER_PATIENT = 'pat-42-6';
const SCOPE = 'openid fhirUser launch/patient offline_access patient/Patient.rs patient/Observation.rs';
const PAGE = '/interaction/access';
const API = '/interaction/access/apps';

let as: oauth.AuthorizationServer;

beforeAll(async () => {
  as = await discover(base);
});

function uniqueName(label: string): string {
  return `${label} ${Math.random().toString(36).slice(2, 8)}`;
}

async function authorize(name: string, persona: string, session?: BrowserSession): Promise<{ reg: RegisteredClient; flow: CompletedFlow }> {
  const reg = await registerSymmetricClient(base, { client_name: name });
  const flow = await runCodeFlow(base, as, reg, { scope: SCOPE, interaction: { persona: `Patient/${persona}` }, ...(session ? { session } : {}) });
  expect(flow.tokens.refresh_token).toBeTruthy();
  return { reg, flow };
}

async function refresh(reg: RegisteredClient, refreshToken: string): Promise<{ ok: boolean; error?: string }> {
  const res = await oauth.refreshTokenGrantRequest(as, reg.client, reg.auth(), refreshToken, insecure);
  try {
    await oauth.processRefreshTokenResponse(as, reg.client, res);
    return { ok: true };
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError) return { ok: false, error: err.error };
    throw err;
  }
}

interface AppJson {
  client_id: string;
  client_name: string;
  grants: { id: string; scope: string; scopes: { scope: string; explanation: string }[]; patient: string | null; refresh_token: boolean }[];
}

async function listApps(session: BrowserSession): Promise<AppJson[]> {
  const res = await session.request(new URL(API, base), { headers: { accept: 'application/json' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toContain('no-store');
  return ((await res.json()) as { apps: AppJson[] }).apps;
}

/** The hidden fields of the revoke form inside an app's card on the page. */
function revokeForm(html: string, clientId: string): URLSearchParams {
  const card = [...html.matchAll(/<section[^>]*data-client-id="([^"]*)"[^>]*>([\s\S]*?)<\/section>/g)].find((m) => unescapeHtml(m[1] ?? '') === clientId);
  if (!card) throw new Error(`no card for ${clientId} on the page`);
  const form = new URLSearchParams();
  for (const input of (card[2] ?? '').matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"\/?>/g))
    form.append(unescapeHtml(input[1] ?? ''), unescapeHtml(input[2] ?? ''));
  return form;
}

describe('management_endpoint (docs/CONFORMANCE.md #19, #136)', () => {
  it('discovery advertises it on this origin, and without a signed-in persona it answers 401 with a sign-in form (page) or link (JSON)', async () => {
    const config = await smartConfiguration(base);
    expect(config.management_endpoint).toBe(`${base}${PAGE}`);
    const page = await fetch(`${base}${PAGE}`);
    expect(page.status).toBe(401);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await page.text();
    expect(html).toContain('Sign in to see which apps have access');
    expect(html).toContain(`action="${PAGE}/login"`);
    const json = await fetch(`${base}${API}`);
    expect(json.status).toBe(401);
    expect(await json.json()).toMatchObject({ error: 'login_required', sign_in: `${base}${PAGE}` });
    const del = await fetch(`${base}${API}/some-client`, { method: 'DELETE' });
    expect(del.status).toBe(401);
  });

  it('signs a persona in on the page itself (CSRF-checked, wrong password refused) and out again', async () => {
    const session = new BrowserSession(base);
    const signIn = async (password: string): Promise<Response> => {
      const page = await session.request(new URL(PAGE, base));
      expect(page.status).toBe(401);
      const form = hiddenInputs(await page.text(), `${PAGE}/login`);
      form.set('username', `Patient/${OTHER_PATIENT}`);
      form.set('password', password);
      return session.postForm(`${PAGE}/login`, form);
    };
    const wrong = await signIn('not-the-password');
    expect(wrong.status).toBe(303);
    const refused = await session.request(new URL(wrong.headers.get('location') ?? '', base));
    expect(refused.status).toBe(401);
    expect(unescapeHtml(await refused.text())).toContain('Unknown username or wrong password.');
    const forged = await session.postForm(`${PAGE}/login`, new URLSearchParams({ csrf: 'forged', username: `Patient/${OTHER_PATIENT}`, password: 'sandbox' }));
    expect(new URL(forged.headers.get('location') ?? '', base).searchParams.get('error')).toBe('csrf');

    const ok = await signIn('sandbox');
    expect(ok.status).toBe(303);
    const page = await session.request(new URL(PAGE, base));
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`(Patient/${OTHER_PATIENT})`);
    const out = await session.postForm(`${PAGE}/logout`, hiddenInputs(html, `${PAGE}/logout`));
    expect(out.status).toBe(303);
    expect((await session.request(new URL(PAGE, base))).status).toBe(401);
  });

  it('lists the apps the persona authorized with their scopes explained; another persona sees only its own', async () => {
    const name = uniqueName('Access list app');
    const { reg, flow } = await authorize(name, PATIENT);
    const page = await flow.session.request(new URL(PAGE, base));
    expect(page.status).toBe(200);
    const html = unescapeHtml(await page.text());
    expect(html).toContain(name);
    expect(html).toContain(reg.client.client_id);
    expect(html).toContain('patient/Observation.rs');
    expect(html).toMatch(/refresh token/);
    const apps = await listApps(flow.session);
    const app = apps.find((a) => a.client_id === reg.client.client_id);
    expect(app?.client_name).toBe(name);
    expect(app?.grants).toHaveLength(1);
    expect(app?.grants[0]).toMatchObject({ patient: PATIENT, refresh_token: true });
    expect(app?.grants[0]?.scopes.map((s) => s.scope)).toEqual(expect.arrayContaining(['patient/Observation.rs', 'offline_access']));
    expect(app?.grants[0]?.scopes.every((s) => s.explanation.length > 10)).toBe(true);

    const other = await authorize(uniqueName('Other persona app'), OTHER_PATIENT);
    const otherApps = await listApps(other.flow.session);
    expect(otherApps.map((a) => a.client_id)).toContain(other.reg.client.client_id);
    expect(otherApps.map((a) => a.client_id)).not.toContain(reg.client.client_id);
    // Another persona cannot revoke this persona's grant: nothing of its own to revoke → 404, and the app keeps working.
    const foreign = await other.flow.session.request(new URL(`${API}/${encodeURIComponent(reg.client.client_id)}`, base), {
      method: 'DELETE',
      headers: { origin: new URL(base).origin },
    });
    expect(foreign.status).toBe(404);
    expect((await fhirGet(base, `Patient/${PATIENT}`, flow.tokens.access_token)).status).toBe(200);
  });

  it('the page revokes an app: its access token answers 401, its refresh token invalid_grant; forged or cross-origin forms are refused; other apps keep working', async () => {
    const session = new BrowserSession(base);
    const revoked = await authorize(uniqueName('Revoked app'), PATIENT, session);
    const kept = await authorize(uniqueName('Kept app'), PATIENT, session);
    const page = await session.request(new URL(PAGE, base));
    const html = await page.text();
    const form = revokeForm(html, revoked.reg.client.client_id);
    expect(form.get('csrf')).toBeTruthy();

    const forged = new URLSearchParams(form);
    forged.set('csrf', 'forged');
    expect((await session.postForm(PAGE, forged)).status).toBe(403);
    const crossOrigin = await session.request(new URL(PAGE, base), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: form.toString(),
    });
    expect(crossOrigin.status).toBe(403);
    const anonymous = await fetch(`${base}${PAGE}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(base).origin },
      body: form.toString(),
    });
    expect(anonymous.status).toBe(401);
    expect((await fhirGet(base, `Patient/${PATIENT}`, revoked.flow.tokens.access_token)).status).toBe(200);

    const done = await session.postForm(PAGE, form);
    expect(done.status).toBe(303);
    const after = await session.request(new URL(done.headers.get('location') ?? '', base));
    const afterHtml = unescapeHtml(await after.text());
    expect(afterHtml).toMatch(/Access of Revoked app \w+ revoked/);
    expect(afterHtml).not.toContain(`data-client-id="${revoked.reg.client.client_id}"`);
    expect(afterHtml).toContain(`data-client-id="${kept.reg.client.client_id}"`);

    const fhir = await fhirGet(base, `Patient/${PATIENT}`, revoked.flow.tokens.access_token);
    expect(fhir.status).toBe(401);
    expect(await refresh(revoked.reg, revoked.flow.tokens.refresh_token ?? '')).toEqual({ ok: false, error: 'invalid_grant' });
    expect((await fhirGet(base, `Patient/${PATIENT}`, kept.flow.tokens.access_token)).status).toBe(200);
    expect((await refresh(kept.reg, kept.flow.tokens.refresh_token ?? '')).ok).toBe(true);
  });

  it('the JSON API revokes with DELETE (same origin only); a second DELETE is 404', async () => {
    const session = new BrowserSession(base);
    const { reg, flow } = await authorize(uniqueName('JSON revoked app'), PATIENT, session);
    const url = new URL(`${API}/${encodeURIComponent(reg.client.client_id)}`, base);
    const cross = await session.request(url, { method: 'DELETE', headers: { origin: 'https://evil.example' } });
    expect(cross.status).toBe(403);
    expect((await fhirGet(base, `Patient/${PATIENT}`, flow.tokens.access_token)).status).toBe(200);

    const del = await session.request(url, { method: 'DELETE', headers: { origin: new URL(base).origin } });
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({ client_id: reg.client.client_id, revoked_grants: 1 });
    expect((await fhirGet(base, `Patient/${PATIENT}`, flow.tokens.access_token)).status).toBe(401);
    expect(await refresh(reg, flow.tokens.refresh_token ?? '')).toEqual({ ok: false, error: 'invalid_grant' });
    expect((await listApps(session)).map((a) => a.client_id)).not.toContain(reg.client.client_id);
    expect((await session.request(url, { method: 'DELETE', headers: { origin: new URL(base).origin } })).status).toBe(404);
  });
});
