// The resource types the dataset gained for US Core 6.1 (MedicationDispense, QuestionnaireResponse
// with its Questionnaire, RelatedPerson, Endpoint) are stored, indexed and found by the US Core
// searches, each answer checked against the resources themselves read with a system token: every
// entry must match and none may be missing.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type * as oauth from 'oauth4webapi';
import { discover, systemToken } from './support/smart-client';
import type { FhirJson } from './support/smart-client';

const base = inject('baseUrl');

let as: oauth.AuthorizationServer;
let system = '';

async function searchAll(path: string): Promise<FhirJson[]> {
  const out: FhirJson[] = [];
  let url: string | null = `${base}/fhir/${path}`;
  for (let page = 0; url && page < 200; page++) {
    const res: Response = await fetch(url, { headers: { authorization: `Bearer ${system}`, accept: 'application/fhir+json' } });
    expect(res.status, url).toBe(200);
    const bundle = (await res.json()) as FhirJson;
    for (const e of bundle.entry ?? []) if (e.resource && e.search?.mode !== 'outcome') out.push(e.resource);
    url = bundle.link?.find((l) => l.relation === 'next')?.url ?? null;
  }
  return out;
}

const idsOf = (resources: readonly FhirJson[]): string[] => resources.map((r) => `${r.resourceType}/${r.id}`).sort();
const ref = (r: FhirJson, key: string): string | undefined => (r[key] as { reference?: string } | undefined)?.reference;

/** All resources of a type, and a patient that has the most of them. */
async function byPatient(type: string, key: string): Promise<{ all: FhirJson[]; patient: string }> {
  const all = await searchAll(`${type}?_count=1000`);
  const counts = new Map<string, number>();
  for (const r of all) counts.set(ref(r, key) ?? '', (counts.get(ref(r, key) ?? '') ?? 0) + 1);
  const patient = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
  return { all, patient: patient.replace('Patient/', '') };
}

beforeAll(async () => {
  as = await discover(base);
  system = await systemToken(base, as, 'system/*.rs');
}, 120_000);

describe('the new dataset types are stored and searchable (US Core 6.1 SHALL searches)', () => {
  it('MedicationDispense: patient, patient+status, patient+type; _include of the medication and the prescription', async () => {
    const { all, patient } = await byPatient('MedicationDispense', 'subject');
    expect(all.length).toBeGreaterThan(20);
    const own = all.filter((d) => ref(d, 'subject') === `Patient/${patient}`);
    expect(idsOf(await searchAll(`MedicationDispense?patient=${patient}`))).toEqual(idsOf(own));
    expect(idsOf(await searchAll(`MedicationDispense?patient=${patient}&status=completed`))).toEqual(idsOf(own.filter((d) => d.status === 'completed')));
    const refills = own.filter((d) => (d.type as { coding?: { code?: string }[] }).coding?.[0]?.code === 'RF');
    expect(idsOf(await searchAll(`MedicationDispense?patient=${patient}&type=RF`))).toEqual(idsOf(refills));
    const withIncludes = await searchAll(
      `MedicationDispense?patient=${patient}&_include=MedicationDispense:medication&_include=MedicationDispense:prescription`,
    );
    const included = new Set(idsOf(withIncludes));
    for (const d of own) {
      expect(included.has(ref(d, 'medicationReference') ?? '')).toBe(true);
      expect(included.has((d.authorizingPrescription as { reference?: string }[])[0]?.reference ?? '')).toBe(true);
    }
  });

  it('QuestionnaireResponse: _id, patient, patient+status; the Questionnaire it answers is stored', async () => {
    const { all, patient } = await byPatient('QuestionnaireResponse', 'subject');
    expect(all.length).toBeGreaterThan(0);
    const own = all.filter((q) => ref(q, 'subject') === `Patient/${patient}`);
    expect(idsOf(await searchAll(`QuestionnaireResponse?patient=${patient}`))).toEqual(idsOf(own));
    const first = own[0] as FhirJson;
    expect(idsOf(await searchAll(`QuestionnaireResponse?_id=${first.id}`))).toEqual([`QuestionnaireResponse/${first.id}`]);
    const canonical = String(first.questionnaire);
    const completed = own.filter((q) => q.status === 'completed');
    expect(idsOf(await searchAll(`QuestionnaireResponse?patient=${patient}&status=completed`))).toEqual(idsOf(completed));
    const [url, version] = canonical.split('|');
    const forms = await searchAll(`Questionnaire?url=${encodeURIComponent(url ?? '')}`);
    expect(forms.map((q) => q.version)).toEqual([version]);
  });

  it('RelatedPerson: _id, patient, name; Endpoint by _id and the PractitionerRoles that name it', async () => {
    const all = await searchAll('RelatedPerson?_count=1000');
    expect(all.length).toBeGreaterThan(0);
    const parent = all[0] as FhirJson;
    const child = ref(parent, 'patient') ?? '';
    expect(idsOf(await searchAll(`RelatedPerson?patient=${child.replace('Patient/', '')}`))).toEqual(idsOf(all.filter((r) => ref(r, 'patient') === child)));
    expect(idsOf(await searchAll(`RelatedPerson?_id=${parent.id}`))).toEqual([`RelatedPerson/${parent.id}`]);
    const given = (parent.name as { given?: string[] }[])[0]?.given?.[0] ?? '';
    const named = all.filter((r) =>
      (r.name as { given?: string[]; family?: string }[]).some((n) => n.given?.some((g) => g.toLowerCase().startsWith(given.toLowerCase()))),
    );
    expect(idsOf(await searchAll(`RelatedPerson?name=${encodeURIComponent(given)}`))).toEqual(expect.arrayContaining(idsOf(named)));
    const endpoints = await searchAll('Endpoint?_count=100');
    expect(endpoints.length).toBe(2);
    const roles = await searchAll('PractitionerRole?_count=500');
    for (const e of endpoints) {
      const naming = roles.filter((r) => (r.endpoint as { reference?: string }[] | undefined)?.some((x) => x.reference === `Endpoint/${e.id}`));
      expect(naming.length, `Endpoint/${e.id}`).toBeGreaterThan(0);
      expect(idsOf(await searchAll(`PractitionerRole?endpoint=Endpoint/${e.id}`))).toEqual(idsOf(naming));
    }
  });

  it('the observations of the profiles the dataset gained are found by patient+code and patient+category, each claiming its profile', async () => {
    const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/';
    const gained: [code: string, category: string, profile: string][] = [
      ['11341-5', 'social-history', 'us-core-observation-occupation'],
      ['76690-7', 'social-history', 'us-core-observation-sexual-orientation'],
      ['86645-9', 'social-history', 'us-core-observation-pregnancyintent'],
      ['11332-4', 'cognitive-status', 'us-core-simple-observation'],
      ['85353-1', 'vital-signs', 'us-core-vital-signs'],
      ['19005-8', 'imaging', 'us-core-observation-clinical-result'],
      ['8601-7', 'procedure', 'us-core-observation-clinical-result'],
    ];
    for (const [code, category, profile] of gained) {
      const all = await searchAll(`Observation?code=http://loinc.org|${code}&_count=1000`);
      expect(all.length, code).toBeGreaterThan(0);
      for (const o of all) expect((o.meta as { profile?: string[] }).profile, `${code} ${String(o.id)}`).toContain(`${US_CORE}${profile}`);
      const patient = (ref(all[0] as FhirJson, 'subject') ?? '').replace('Patient/', '');
      const own = all.filter((o) => ref(o, 'subject') === `Patient/${patient}`);
      expect(idsOf(await searchAll(`Observation?patient=${patient}&code=http://loinc.org|${code}`))).toEqual(idsOf(own));
      const inCategory = await searchAll(`Observation?patient=${patient}&category=${category}&_count=1000`);
      expect(idsOf(inCategory)).toEqual(expect.arrayContaining(idsOf(own)));
    }
  });

  it('an ECG report includes its impression and its rhythm strip: _include=DiagnosticReport:result and Media by patient', async () => {
    const reports = await searchAll('DiagnosticReport?code=http://loinc.org|11524-6&_count=1000');
    expect(reports.length).toBeGreaterThan(0);
    const report = reports[0] as FhirJson;
    const patient = (ref(report, 'subject') ?? '').replace('Patient/', '');
    const page = await searchAll(`DiagnosticReport?patient=${patient}&code=http://loinc.org|11524-6&_include=DiagnosticReport:result`);
    const results = new Set(idsOf(page.filter((r) => r.resourceType === 'Observation')));
    for (const r of page.filter((x) => x.resourceType === 'DiagnosticReport'))
      for (const res of r.result as { reference?: string }[]) expect(results.has(res.reference ?? '')).toBe(true);
    const strips = idsOf(await searchAll(`Media?patient=${patient}`));
    for (const r of page.filter((x) => x.resourceType === 'DiagnosticReport'))
      for (const m of r.media as { link: { reference?: string } }[]) expect(strips).toContain(m.link.reference);
  });

  it('Provenance targets the new types: _revinclude=Provenance:target returns the pharmacy’s Provenance with the fills', async () => {
    const { patient } = await byPatient('MedicationDispense', 'subject');
    const page = await searchAll(`MedicationDispense?patient=${patient}&_revinclude=Provenance:target`);
    const fills = page.filter((r) => r.resourceType === 'MedicationDispense');
    const provenances = page.filter((r) => r.resourceType === 'Provenance');
    expect(provenances.length).toBeGreaterThan(0);
    const targets = new Set(provenances.flatMap((p) => (p.target as { reference?: string }[]).map((t) => t.reference)));
    for (const d of fills) expect(targets.has(`MedicationDispense/${d.id}`)).toBe(true);
    const patientProvenance = await searchAll(`Provenance?target=Patient/${patient}`);
    expect(patientProvenance.length).toBe(1);
  });
});
