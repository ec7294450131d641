import { describe, expect, it } from 'vitest';
import type { AuditFacts } from '../audit/facts';
import { auditedPath, authorizeRequestFacts, estimateEntropyBits } from '../audit/facts';
import type { ObservedRecord, ReportCard } from './report-card';
import { gradeClient } from './report-card';

const APP = { clientId: 'my-app', name: 'My app', clientType: 'public' as const, tokenEndpointAuthMethod: 'none' as const };
const CONFIDENTIAL = { clientId: 'conf', name: 'Conf', clientType: 'confidential-symmetric' as const, tokenEndpointAuthMethod: 'client_secret_basic' as const };
const BACKEND = { clientId: 'svc', name: 'Svc', clientType: 'backend' as const, tokenEndpointAuthMethod: 'private_key_jwt' as const };

let seq = 0;
const T0 = Date.parse('2026-06-01T10:00:00Z');
type RecordInput = Omit<Partial<ObservedRecord>, 'facts'> & { facts?: AuditFacts | null; atMs?: number };
function rec(over: RecordInput): ObservedRecord {
  seq += 1;
  const { facts, atMs, ...rest } = over;
  return {
    id: `r${String(seq).padStart(4, '0')}`,
    at: new Date(atMs ?? T0 + seq * 1000),
    kind: 'fhir',
    method: 'GET',
    endpoint: '/fhir/Patient/p1',
    resourceType: 'Patient',
    scopes: null,
    status: 200,
    errorCode: null,
    detail: null,
    origin: null,
    flags: null,
    ...rest,
    facts: facts ? JSON.stringify(facts) : null,
  };
}

const GOOD_STATE = '3f2b6c1e-9a4d-4e7b-8c2f-1d5e6a7b8c9d';
function authorize(state: string | null = GOOD_STATE, extra: AuditFacts = {}): ObservedRecord {
  const params = new URLSearchParams({ code_challenge: 'x', code_challenge_method: 'S256', aud: 'http://localhost/fhir' });
  if (state !== null) params.set('state', state);
  return rec({
    kind: 'oauth',
    endpoint: '/oauth/authorize',
    resourceType: null,
    status: 303,
    facts: { ...authorizeRequestFacts(params), audMatches: true, redirectUriRegistered: true, ...extra },
  });
}
const token = (grantType: string, scopes: string, extra: RecordInput = {}, facts: AuditFacts = {}) =>
  rec({ kind: 'oauth', endpoint: '/oauth/token', method: 'POST', resourceType: null, scopes, facts: { grantType, authMethod: 'none', ...facts }, ...extra });
const read = (resourceType: string, facts: AuditFacts = { accept: 'application/fhir+json' }, extra: RecordInput = {}) =>
  rec({ resourceType, endpoint: `/fhir/${resourceType}`, scopes: `patient/${resourceType}.rs`, facts, ...extra });

const byId = (card: ReportCard, id: string) => card.checks.find((c) => c.id === id)!;

describe('request facts', () => {
  it('estimates entropy conservatively: a UUID v4 passes 122 bits, short or repetitive values do not', () => {
    expect(estimateEntropyBits(GOOD_STATE)).toBeGreaterThanOrEqual(122);
    expect(estimateEntropyBits('abc123')).toBeLessThan(122);
    expect(estimateEntropyBits('a'.repeat(200))).toBeLessThan(122);
    expect(estimateEntropyBits('0123456789012345')).toBeLessThan(122);
    expect(estimateEntropyBits('')).toBe(0);
  });

  it('redacts credentials from audited URLs and leaves other queries untouched', () => {
    expect(auditedPath(new URL('http://h/fhir/Patient?access_token=eyJ.secret.sig&name=x'))).toBe('/fhir/Patient?access_token=%5Bredacted%5D&name=x');
    expect(auditedPath(new URL('http://h/fhir/Patient?name=x&_count=5'))).toBe('/fhir/Patient?name=x&_count=5');
  });
});

describe('gradeClient (the app report card)', () => {
  it('with nothing observed, every check is not yet seen or not applicable, and the report is ok', () => {
    const card = gradeClient(APP, []);
    expect(card.summary.fail).toBe(0);
    expect(card.ok).toBe(true);
    expect(card.checks.map((c) => c.status).every((s) => s === 'not-seen' || s === 'not-applicable')).toBe(true);
    expect(card.checks.length).toBeGreaterThanOrEqual(13);
    for (const c of card.checks) expect(c.spec).toMatch(/SMART App Launch 2\.2|RFC \d+|FHIR R4/);
  });

  it('a well-behaved app passes the authorization checks', () => {
    const card = gradeClient(APP, [authorize(), authorize('9b1c2d3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e')]);
    for (const id of ['pkce-s256', 'state', 'aud', 'redirect-uri']) expect(byId(card, id).status, id).toBe('pass');
  });

  it('fails PKCE without S256, naming the record', () => {
    const plain = rec({
      kind: 'oauth',
      endpoint: '/oauth/authorize',
      resourceType: null,
      status: 400,
      facts: { ...authorizeRequestFacts(new URLSearchParams({ state: GOOD_STATE, aud: 'x' })) },
    });
    const card = gradeClient(APP, [authorize(), plain]);
    expect(byId(card, 'pkce-s256').status).toBe('fail');
    expect(byId(card, 'pkce-s256').evidence.map((e) => e.auditId)).toEqual([plain.id]);
    expect(card.ok).toBe(false);
  });

  it('fails a missing, guessable or reused state', () => {
    expect(byId(gradeClient(APP, [authorize(null)]), 'state').status).toBe('fail');
    expect(byId(gradeClient(APP, [authorize('12345')]), 'state').status).toBe('fail');
    const reused = gradeClient(APP, [authorize(), authorize()]);
    expect(byId(reused, 'state').status).toBe('fail');
    expect(byId(reused, 'state').evidence[0]!.note).toMatch(/reused/);
  });

  it('fails a wrong aud and an unregistered redirect URI', () => {
    expect(byId(gradeClient(APP, [authorize(GOOD_STATE, { audMatches: false })]), 'aud').status).toBe('fail');
    expect(byId(gradeClient(APP, [authorize(GOOD_STATE, { redirectUriRegistered: false })]), 'redirect-uri').status).toBe('fail');
  });

  it('least privilege: flags granted resource types never read, and wildcards', () => {
    const narrow = gradeClient(APP, [token('authorization_code', 'launch patient/Patient.rs patient/Observation.rs'), read('Patient'), read('Observation')]);
    expect(byId(narrow, 'least-privilege').status).toBe('pass');
    const unused = gradeClient(APP, [token('authorization_code', 'patient/Patient.rs patient/Condition.rs'), read('Patient')]);
    expect(byId(unused, 'least-privilege').status).toBe('fail');
    expect(byId(unused, 'least-privilege').summary).toContain('Condition');
    expect(byId(gradeClient(APP, [token('authorization_code', 'patient/*.rs'), read('Patient')]), 'least-privilege').status).toBe('fail');
  });

  it('refresh: passes when used, fails when the app relaunches although it holds a refresh token', () => {
    expect(
      byId(
        gradeClient(APP, [token('authorization_code', 'offline_access patient/Patient.rs'), token('refresh_token', 'offline_access patient/Patient.rs')]),
        'refresh',
      ).status,
    ).toBe('pass');
    expect(
      byId(
        gradeClient(APP, [token('authorization_code', 'offline_access patient/Patient.rs'), token('authorization_code', 'offline_access patient/Patient.rs')]),
        'refresh',
      ).status,
    ).toBe('fail');
    expect(
      byId(gradeClient(APP, [token('authorization_code', 'patient/Patient.rs'), token('authorization_code', 'patient/Patient.rs')]), 'refresh').status,
    ).toBe('not-seen');
    expect(byId(gradeClient(BACKEND, []), 'refresh').status).toBe('not-applicable');
  });

  it('expired token: refreshing after the 401 passes, repeating the call fails', () => {
    const expired = () => read('Patient', { accept: 'application/fhir+json', tokenExpired: true }, { status: 401 });
    expect(byId(gradeClient(APP, [expired(), token('refresh_token', 'patient/Patient.rs')]), 'expired-token').status).toBe('pass');
    expect(byId(gradeClient(APP, [expired(), expired()]), 'expired-token').status).toBe('fail');
  });

  it('Retry-After: the next request before the wait fails, after it passes', () => {
    const limited = read('Patient', { accept: 'application/fhir+json', retryAfterSeconds: 5 }, { status: 429, atMs: T0 + 100_000 });
    expect(byId(gradeClient(APP, [limited, read('Patient', undefined, { atMs: T0 + 101_000 })]), 'retry-after').status).toBe('fail');
    expect(byId(gradeClient(APP, [limited, read('Patient', undefined, { atMs: T0 + 106_000 })]), 'retry-after').status).toBe('pass');
  });

  it('FHIR hygiene: 403s, compartment breaches, missing Accept, huge _count and tokens in URLs fail', () => {
    expect(byId(gradeClient(APP, [read('Condition', undefined, { status: 403 })]), 'in-scope').status).toBe('fail');
    expect(byId(gradeClient(APP, [read('Condition', undefined, { status: 403, detail: 'simulated error: 403' })]), 'in-scope').status).toBe('pass');
    expect(byId(gradeClient(APP, [read('Patient', undefined, { status: 404, flags: 'suspected-bola' })]), 'compartment').status).toBe('fail');
    expect(byId(gradeClient(APP, [read('Patient', { accept: null })]), 'accept').status).toBe('fail');
    expect(byId(gradeClient(APP, [read('Patient', { accept: 'application/json' })]), 'accept').status).toBe('pass');
    expect(byId(gradeClient(APP, [read('Observation', { accept: 'application/fhir+json', count: 5000 })]), 'paging').status).toBe('fail');
    expect(byId(gradeClient(APP, [read('Observation', { accept: 'application/fhir+json', pagingLink: true })]), 'paging').status).toBe('pass');
    expect(byId(gradeClient(APP, [read('Patient', { accept: 'application/fhir+json', tokenInUrl: true }, { status: 401 })]), 'token-in-url').status).toBe(
      'fail',
    );
    expect(byId(gradeClient(APP, [read('Patient')]), 'token-in-url').status).toBe('pass');
  });

  it('a confidential client using its secret from a browser page fails', () => {
    const fromBrowser = token('authorization_code', 'patient/Patient.rs', { origin: 'https://app.example' }, { authMethod: 'client_secret_basic' });
    expect(byId(gradeClient(CONFIDENTIAL, [fromBrowser]), 'secret-in-browser').status).toBe('fail');
    expect(
      byId(gradeClient(CONFIDENTIAL, [token('authorization_code', 'patient/Patient.rs', {}, { authMethod: 'client_secret_basic' })]), 'secret-in-browser')
        .status,
    ).toBe('pass');
    expect(byId(gradeClient(APP, []), 'secret-in-browser').status).toBe('not-applicable');
  });

  it('backend assertions: replayed jti or a lifetime over five minutes fails', () => {
    const ok = token('client_credentials', 'system/Patient.rs', {}, { authMethod: 'private_key_jwt', assertionLifetimeSeconds: 300 });
    expect(byId(gradeClient(BACKEND, [ok]), 'client-assertion').status).toBe('pass');
    expect(
      byId(
        gradeClient(BACKEND, [token('client_credentials', 'system/Patient.rs', {}, { authMethod: 'private_key_jwt', assertionLifetimeSeconds: 3600 })]),
        'client-assertion',
      ).status,
    ).toBe('fail');
    expect(
      byId(
        gradeClient(BACKEND, [token('client_credentials', 'system/Patient.rs', { status: 401, flags: 'assertion-replay' }, { authMethod: 'private_key_jwt' })]),
        'client-assertion',
      ).status,
    ).toBe('fail');
    expect(byId(gradeClient(BACKEND, []), 'pkce-s256').status).toBe('not-applicable');
  });
});
