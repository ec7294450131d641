// The app report card over real HTTP: a backend client behaves in ways the card grades (no Accept
// header, a huge _count, its token in the URL, a replayed assertion), then fetches its own report
// with one of its access tokens, as a CI pipeline would.
import { describe, it, expect, inject, beforeAll } from 'vitest';
import * as oauth from 'oauth4webapi';
import type { ReportCard } from '../../lib/console/report-card';
import { clientCredentialsRequest, registerBackendService } from './support/smart-client';

const base = inject('baseUrl');
const issuer = new URL(base);
const insecure = { [oauth.allowInsecureRequests]: true } as const;
let as: oauth.AuthorizationServer;

/** A backend client of its own for each test; the card grades it alone. */
const registerBackendClient = () => registerBackendService(base, { name: 'report card subject', kid: 'report-key', scope: 'system/*.rs' });

async function report(clientId: string, token?: string): Promise<Response> {
  return fetch(`${base}/api/console/clients/${encodeURIComponent(clientId)}/report`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
}

const statusOf = (card: ReportCard, id: string) => card.checks.find((c) => c.id === id)?.status;

beforeAll(async () => {
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }));
});

describe('app report card (GET /api/console/clients/{id}/report)', () => {
  it('grades what the client did, with evidence, for a Bearer token of that client', async () => {
    const client = await registerBackendClient();
    const { clientId } = client;
    const granted = await clientCredentialsRequest(as, client, 'system/Patient.rs system/Observation.rs system/Condition.rs', crypto.randomUUID());
    expect(granted.status).toBe(200);
    const { access_token: token } = (await granted.json()) as { access_token: string };

    // Fresh report: nothing failed yet except what the token request itself shows.
    const fresh = (await (await report(clientId, token)).json()) as ReportCard;
    expect(fresh.clientId).toBe(clientId);
    expect(statusOf(fresh, 'client-assertion')).toBe('pass');
    expect(statusOf(fresh, 'accept')).toBe('not-seen');
    expect(statusOf(fresh, 'pkce-s256')).toBe('not-applicable');

    const auth = { authorization: `Bearer ${token}` };
    // Paging followed: the first page's next link.
    const first = (await (await fetch(`${base}/fhir/Patient?_count=2`, { headers: { ...auth, accept: 'application/fhir+json' } })).json()) as {
      link: { relation: string; url: string }[];
    };
    const next = first.link.find((l) => l.relation === 'next')!.url;
    expect((await fetch(next, { headers: { ...auth, accept: 'application/fhir+json' } })).status).toBe(200);
    // No Accept header (fetch sends */*), and a _count far above the server's cap.
    expect((await fetch(`${base}/fhir/Observation?_count=5000&_summary=count`, { headers: auth })).status).toBe(200);
    // The token in the URL as well as in the header.
    const inUrl = await fetch(`${base}/fhir/Patient?_count=1&access_token=${token}`, { headers: { ...auth, accept: 'application/fhir+json' } });
    expect(inUrl.status).toBeLessThan(500);
    // A replayed assertion (RFC 7523 §3: jti used once).
    const jti = crypto.randomUUID();
    expect((await clientCredentialsRequest(as, client, 'system/Patient.rs', jti)).status).toBe(200);
    expect((await clientCredentialsRequest(as, client, 'system/Patient.rs', jti)).status).toBe(401);

    const res = await report(clientId, token);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const card = (await res.json()) as ReportCard;
    expect(card.ok).toBe(false);
    expect(statusOf(card, 'accept')).toBe('fail');
    expect(statusOf(card, 'paging')).toBe('fail');
    expect(statusOf(card, 'token-in-url')).toBe('fail');
    expect(statusOf(card, 'client-assertion')).toBe('fail');
    expect(statusOf(card, 'in-scope')).toBe('pass');
    expect(statusOf(card, 'least-privilege')).toBe('fail'); // system/*.rs wildcard in registration is not the grant; Condition was granted and never read
    expect(card.checks.find((c) => c.id === 'least-privilege')!.summary).toContain('Condition');
    const tokenInUrl = card.checks.find((c) => c.id === 'token-in-url')!;
    expect(tokenInUrl.evidence).toHaveLength(1);
    // The audit trail never keeps the token that was put in the URL.
    expect(tokenInUrl.evidence[0]!.endpoint).toContain('access_token=%5Bredacted%5D');
    expect(tokenInUrl.evidence[0]!.endpoint).not.toContain(token.slice(-20));
    expect(card.summary.fail).toBe(card.checks.filter((c) => c.status === 'fail').length);
    for (const c of card.checks) expect(c.spec.length).toBeGreaterThan(5);
  });

  it('refuses without credentials (401), with a bad token (401) and with another client’s token (404)', async () => {
    const a = await registerBackendClient();
    const b = await registerBackendClient();
    const tokenOfB = ((await (await clientCredentialsRequest(as, b, 'system/Patient.rs', crypto.randomUUID())).json()) as { access_token: string })
      .access_token;

    const anonymous = await report(a.clientId);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toBeTruthy();
    const bad = await report(a.clientId, 'not-a-token');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/invalid_token/);
    const other = await report(a.clientId, tokenOfB);
    expect(other.status).toBe(404);
    expect((await report('no-such-client', tokenOfB)).status).toBe(404);
    expect((await report(b.clientId, tokenOfB)).status).toBe(200);
  });
});
