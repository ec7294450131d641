// A parent signs in for a child: the roster minor Mateo Lindgren (Patient/roster-growth) has his
// mother as RelatedPerson/roster-growth-rp1, a proxy persona. A standalone launch signed in as her
// gets the child as patient context and her RelatedPerson as fhirUser, readable with the token
// (docs/CONFORMANCE.md #80); her patient/ and user/ scopes reach the child's compartment and
// nothing of any other patient (docs/CONFORMANCE.md #98, #119).
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type * as oauth from 'oauth4webapi';
import { launchConfig } from '../../lib/launcher/launch-config';
import { serverLib } from './support/ehr-launch';
import { bundleRefs, discover, fhirGet, registerSymmetricClient, runCodeFlow, systemToken, verifyIdToken } from './support/smart-client';

const base = inject('baseUrl');
const PARENT = 'RelatedPerson/roster-growth-rp1';
const CHILD = 'roster-growth';
const OTHER = 'roster-newborn';

let as: oauth.AuthorizationServer;
let system = '';

async function proxyToken(scope: string): Promise<{ access: string; patient: string | undefined; fhirUser: unknown }> {
  const reg = await registerSymmetricClient(base);
  const flow = await runCodeFlow(base, as, reg, { scope, interaction: { persona: PARENT } });
  const claims = await verifyIdToken(as, flow.tokens.id_token ?? '', reg.client.client_id);
  return { access: flow.tokens.access_token, patient: flow.tokens.patient, fhirUser: claims.fhirUser };
}

beforeAll(async () => {
  as = await discover(base);
  system = await systemToken(base, as, 'system/*.rs');
});

describe('related-person (proxy) launch: a parent signs in for a child', () => {
  it('the seeded data links the parent to the child and puts her on the child’s care team', async () => {
    const parent = await fhirGet(base, PARENT, system);
    expect(parent.status).toBe(200);
    expect((parent.body.patient as { reference?: string }).reference).toBe(`Patient/${CHILD}`);
    const teams = await fhirGet(base, `CareTeam?patient=${CHILD}`, system);
    const members = (teams.body.entry ?? []).flatMap((e) =>
      ((e.resource?.participant as { member?: { reference?: string } }[]) ?? []).map((p) => p.member?.reference),
    );
    expect(members).toContain(PARENT);
    const related = await fhirGet(base, `RelatedPerson?patient=${CHILD}`, system);
    expect(bundleRefs(related.body)).toEqual([PARENT]);
  });

  it('standalone launch with patient/ scopes: the child is the patient context and the parent the fhirUser, readable with the token', async () => {
    const { access, patient, fhirUser } = await proxyToken('launch/patient openid fhirUser patient/*.rs');
    expect(patient).toBe(CHILD);
    expect(String(fhirUser)).toMatch(/(^|\/)RelatedPerson\/roster-growth-rp1$/);
    expect((await fhirGet(base, PARENT, access)).status).toBe(200);
    expect((await fhirGet(base, `Patient/${CHILD}`, access)).status).toBe(200);
    const obs = await fhirGet(base, `Observation?patient=${CHILD}&_count=5`, access);
    expect(obs.status).toBe(200);
    expect(obs.body.entry?.length).toBeGreaterThan(0);
    expect((await fhirGet(base, `Patient/${OTHER}`, access)).status).toBe(404);
    expect((await fhirGet(base, `Observation?patient=${OTHER}`, access)).status).toBe(403);
  });

  it('user/ scopes of the parent reach the child’s compartment only, never every patient', async () => {
    const { access, patient } = await proxyToken('openid fhirUser user/*.rs');
    expect(patient).toBe(CHILD);
    const patients = await fhirGet(base, 'Patient?_count=50', access);
    expect(patients.status).toBe(200);
    expect(bundleRefs(patients.body)).toEqual([`Patient/${CHILD}`]);
    // The same search with the system token sees every patient: the restriction is the proxy's.
    expect(bundleRefs((await fhirGet(base, 'Patient?_count=50', system)).body).length).toBeGreaterThan(5);
    const own = await fhirGet(base, `Encounter?patient=${CHILD}&_total=accurate&_count=1`, access);
    const all = await fhirGet(base, 'Encounter?_total=accurate&_count=1', access);
    expect(all.body.total).toBe(own.body.total);
    expect(own.body.total).toBeGreaterThan(0);
    expect((await fhirGet(base, `Patient/${OTHER}`, access)).status).toBe(404);
    // Shared resources (the practitioners on the child's care team) stay readable.
    expect((await fhirGet(base, 'Practitioner?_count=1', access)).status).toBe(200);
  });

  // An EHR launch with no user chosen yet: whoever signs in must be allowed the launch's patient.
  async function ehrLaunch(clientId: string, patientId: string): Promise<string> {
    const { startLaunch } = await serverLib(inject('databaseUrl'));
    const started = await startLaunch(launchConfig(clientId, { launchType: 'provider-ehr', patientIds: [patientId] }), base);
    if (!started.ok || started.kind !== 'ehr') throw new Error('the EHR launch was not created');
    return new URL(started.appUrl).searchParams.get('launch') ?? '';
  }

  it('an EHR launch for the child proceeds with the parent signed in; one for another patient is refused (403)', async () => {
    const reg = await registerSymmetricClient(base);
    const scope = 'launch openid fhirUser user/*.rs';
    const own = await runCodeFlow(base, as, reg, { scope, launch: await ehrLaunch(reg.client.client_id, CHILD), interaction: { persona: PARENT } });
    expect(own.tokens.patient).toBe(CHILD);
    expect((await fhirGet(base, `Patient/${CHILD}`, own.tokens.access_token)).status).toBe(200);
    const other = runCodeFlow(base, as, reg, { scope, launch: await ehrLaunch(reg.client.client_id, OTHER), interaction: { persona: PARENT } });
    await expect(other).rejects.toThrow(/403.*not related to/s);
  });
});
