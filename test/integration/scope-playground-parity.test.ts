// The console's scope playground gives the FHIR API's own verdict: hundreds of generated requests
// (every route the router knows, methods it refuses, other patients named, chains, operations) are
// sent over real HTTP with real tokens — a patient-scoped token with a granular scope, backend
// tokens with narrow and wide scopes, a revoked token — and each answer is compared with the
// playground's verdict for the same token and request.
import { describe, it, expect, inject, beforeAll } from 'vitest';
import type * as oauth from 'oauth4webapi';
import type { evaluatePlaygroundRequest as Evaluate, PlaygroundAnswer } from '../../lib/console/scope-playground';
import { discover, registerPublicClient, runCodeFlow, systemToken } from './support/smart-client';

const base = inject('baseUrl');
// Patients of the shared dataset (SEED=42) that other suites use little: the per-patient rate limit stays far away.
const OWN = 'pat-42-3';
const OTHER = 'pat-42-4';
const LAB = 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory';

interface TokenCase {
  readonly name: string;
  readonly token: string;
  readonly scope: string;
  readonly patientId: string | null;
  readonly tokenStatus?: 'revoked';
}

const tokens: TokenCase[] = [];
let as: oauth.AuthorizationServer;
let evaluatePlaygroundRequest: typeof Evaluate;

async function patientToken(scope: string): Promise<{ token: string; scope: string; patient: string; clientId: string }> {
  const reg = await registerPublicClient(base);
  const flow = await runCodeFlow(base, as, reg, { scope, interaction: { persona: `Patient/${OWN}` } });
  return { token: flow.tokens.access_token, scope: flow.tokens.scope ?? scope, patient: flow.tokens.patient ?? OWN, clientId: reg.client.client_id };
}

beforeAll(async () => {
  // lib/env reads DATABASE_URL once, when first imported: the playground's modules load after it is set.
  process.env.DATABASE_URL = inject('databaseUrl');
  ({ evaluatePlaygroundRequest } = await import('../../lib/console/scope-playground'));
  as = await discover(base);
  const patient = await patientToken(`launch/patient patient/Patient.rs patient/Observation.rs?category=${LAB} patient/Condition.r patient/Encounter.s`);
  tokens.push({ name: 'patient, granular', token: patient.token, scope: patient.scope, patientId: patient.patient });
  const narrow = 'system/Patient.rs system/Observation.cud system/ValueSet.rs';
  tokens.push({ name: 'backend, narrow', token: await systemToken(base, as, narrow), scope: narrow, patientId: null });
  const wide = 'system/*.rs system/Observation.cruds';
  tokens.push({ name: 'backend, wide', token: await systemToken(base, as, wide), scope: wide, patientId: null });
  const revoked = await patientToken('launch/patient patient/*.rs');
  const res = await fetch(as.revocation_endpoint!, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: revoked.token, client_id: revoked.clientId }).toString(),
  });
  expect(res.status).toBe(200);
  tokens.push({ name: 'revoked', token: revoked.token, scope: revoked.scope, patientId: revoked.patient, tokenStatus: 'revoked' });
}, 120_000);

/** Requests over every route of the router, its refusals and the cases a second router got wrong. */
function generatedRequests(): { method: string; path: string }[] {
  const types = ['Patient', 'Observation', 'Condition', 'Encounter', 'MedicationRequest', 'Practitioner', 'ValueSet', 'AuditEvent', 'observation'];
  const out: { method: string; path: string }[] = [];
  for (const t of types) {
    out.push(
      { method: 'GET', path: t },
      { method: 'GET', path: `${t}?patient=${OWN}` },
      { method: 'GET', path: `${t}?patient=${OTHER}` },
      { method: 'GET', path: `${t}?subject=Patient/${OTHER}&_count=1` },
      { method: 'GET', path: `${t}?patient=${OWN},${OTHER}` },
      { method: 'GET', path: `${t}/_search?patient=${OWN}` },
      { method: 'POST', path: `${t}/_search?_count=1` },
      { method: 'GET', path: `${t}/_history?_count=1` },
      { method: 'GET', path: `${t}/no-such-id-1` },
      { method: 'GET', path: `${t}/no-such-id-1/_history` },
      { method: 'GET', path: `${t}/no-such-id-1/_history/1` },
      { method: 'PUT', path: t },
      { method: 'PUT', path: `${t}?identifier=no-such-identifier` },
      { method: 'DELETE', path: `${t}?identifier=no-such-identifier` },
      { method: 'DELETE', path: `${t}?patient=${OTHER}&identifier=no-such-identifier` },
      { method: 'DELETE', path: t },
      { method: 'DELETE', path: `${t}/no-such-id-1` },
      { method: 'POST', path: t },
      { method: 'PATCH', path: `${t}/no-such-id-1` },
      { method: 'GET', path: `${t}/$everything` },
      { method: 'GET', path: `${t}/no-such-id-1/$unknown-op` },
      { method: 'GET', path: `${t}?category=vital-signs&_count=1` },
      { method: 'GET', path: `${t}?_count=1&category=${encodeURIComponent(LAB)}` },
      { method: 'HEAD', path: t },
    );
  }
  out.push(
    { method: 'GET', path: `Patient/${OWN}` },
    { method: 'GET', path: `Patient/${OTHER}` },
    { method: 'GET', path: `Patient/${OWN}/$everything?_count=5` },
    { method: 'GET', path: `Patient/${OTHER}/$everything?_count=5` },
    { method: 'POST', path: `Patient/${OWN}/$everything` },
    { method: 'DELETE', path: `Patient/${OWN}/$everything` },
    { method: 'GET', path: `Patient?_id=${OTHER}` },
    { method: 'GET', path: `Patient?_id=${OWN}` },
    { method: 'GET', path: `Observation?subject:Patient.name=zzz&_count=1` },
    { method: 'GET', path: `Observation?encounter.status=finished&_count=1` },
    { method: 'GET', path: `Patient?_has:Observation:patient:code=no-code&_count=1` },
    { method: 'GET', path: `Patient?_has:Condition:patient:code=no-code&_count=1` },
    { method: 'GET', path: 'ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/administrative-gender' },
    { method: 'GET', path: `DocumentReference/$docref?patient=${OWN}` },
    { method: 'GET', path: 'AuditEvent/no-such-id-1' },
    { method: 'GET', path: 'AuditEvent/no-such-id-1/_history' },
    { method: 'POST', path: 'AuditEvent' },
    { method: 'GET', path: 'metadata' },
    { method: 'POST', path: 'metadata' },
    { method: 'GET', path: '' },
    { method: 'GET', path: 'Patient/a/b/c/d/e' },
    { method: 'GET', path: 'Patient/_bad' },
  );
  return out;
}

/** Whether the server's status is the one the playground's verdict stands for. */
function agrees(answer: PlaygroundAnswer, method: string, status: number): boolean {
  switch (answer.verdict) {
    case 'unauthorized':
      return status === 401;
    case 'denied':
      return status === 403;
    case 'invalid':
      return status === answer.status;
    case 'hidden':
      return status === 404;
    case 'allowed':
    case 'narrowed':
      // Past the door; what is left is decided by the data and the body (404 for an id that is not
      // there or not visible, 400/415 for a missing body, 410 for a deleted resource).
      if (status === 401 || status === 403 || status === 405) return false;
      if (answer.interaction === 'search' && (method === 'GET' || method === 'HEAD')) return status === 200;
      return true;
  }
}

describe('scope playground ↔ FHIR API', () => {
  it('gives the API’s verdict for every generated request and token', async () => {
    const requests = generatedRequests();
    const seen: Record<string, number> = {};
    const disagreements: string[] = [];
    let compared = 0;
    for (const t of tokens) {
      for (const r of requests) {
        const url = `${base}/fhir${r.path ? `/${r.path}` : ''}`;
        const body = r.method === 'POST' && r.path.includes('_search') ? '' : undefined;
        const res = await fetch(url, {
          method: r.method,
          headers: {
            authorization: `Bearer ${t.token}`,
            accept: 'application/fhir+json',
            ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          },
          ...(body !== undefined ? { body } : {}),
        });
        await res.arrayBuffer();
        const answer = evaluatePlaygroundRequest({
          scope: t.scope,
          patientId: t.patientId,
          ...(t.tokenStatus ? { tokenStatus: t.tokenStatus } : {}),
          method: r.method,
          url: `/fhir${r.path ? `/${r.path}` : ''}`,
        });
        compared++;
        seen[answer.verdict] = (seen[answer.verdict] ?? 0) + 1;
        if (!agrees(answer, r.method, res.status))
          disagreements.push(
            `${t.name}: ${r.method} /fhir/${r.path} → server ${res.status}, playground ${answer.verdict} ${answer.status} (${answer.summary})`,
          );
      }
    }
    expect(disagreements).toEqual([]);
    expect(compared).toBeGreaterThan(700);
    // Not vacuous: every verdict occurs many times.
    const least = { allowed: 50, denied: 50, invalid: 50, unauthorized: 50, narrowed: 5, hidden: 3 };
    for (const [v, n] of Object.entries(least)) expect(seen[v] ?? 0, v).toBeGreaterThanOrEqual(n);
  }, 300_000);
});
