// US Core 6.1 search features over real HTTP, each checked against the generated data read with a
// system token: the expected set is computed from the resources themselves, and every entry of
// the answer must be in it (and every member of it in the answer).
import { describe, it, expect, inject, beforeAll } from 'vitest';
import type * as oauth from 'oauth4webapi';
import { discover, fhirGet, registerSymmetricClient, runCodeFlow, systemToken } from './support/smart-client';
import type { FhirJson } from './support/smart-client';
import { SYSTEM } from '../../lib/synthetic/codes';
import { createDb } from '../../lib/db';
import { Prisma } from '../../lib/generated/sqlite/client';

const base = inject('baseUrl');

let as: oauth.AuthorizationServer;
let system = '';

/** Every resource of a search, following next links. */
async function searchAll(path: string, token: string): Promise<FhirJson[]> {
  const out: FhirJson[] = [];
  let url: string | null = `${base}/fhir/${path}`;
  for (let page = 0; url && page < 100; page++) {
    const res: Response = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json' } });
    expect(res.status, `${url}`).toBe(200);
    const bundle = (await res.json()) as FhirJson;
    for (const e of bundle.entry ?? []) if (e.resource && e.search?.mode !== 'outcome') out.push(e.resource);
    url = bundle.link?.find((l) => l.relation === 'next')?.url ?? null;
  }
  return out;
}

function idsOf(resources: FhirJson[]): string[] {
  return resources.map((r) => `${r.resourceType}/${r.id}`).sort();
}

beforeAll(async () => {
  as = await discover(base);
  system = await systemToken(base, as, 'system/*.rs');
}, 120_000);

/**
 * The generated patients (they carry the dataset's medical record number): other suites on the
 * shared test server create patients of their own, with none of the generated records.
 */
async function generatedPatients(): Promise<FhirJson[]> {
  const patients = await searchAll('Patient?_count=500', system);
  return patients.filter((p) => ((p.identifier as { system?: string }[] | undefined) ?? []).some((i) => i.system === SYSTEM.mrn));
}

describe('boolean and choice-type parameters match what the resource says when the element is absent', () => {
  it('Patient?deceased=false finds every patient with no death recorded, deceased=true every other one', async () => {
    const patients = await searchAll('Patient?_count=500', system);
    expect(patients.length).toBeGreaterThan(5);
    const isDeceased = (p: FhirJson) => p.deceasedDateTime !== undefined || p.deceasedBoolean === true;
    const alive = patients.filter((p) => !isDeceased(p));
    const dead = patients.filter(isDeceased);
    // The dataset has both kinds, and most living patients carry no deceased[x] at all.
    expect(alive.filter((p) => p.deceasedBoolean === undefined).length).toBeGreaterThan(0);
    expect(dead.length).toBeGreaterThan(0);
    expect(idsOf(await searchAll('Patient?deceased=false&_count=500', system))).toEqual(idsOf(alive));
    expect(idsOf(await searchAll('Patient?deceased=true&_count=500', system))).toEqual(idsOf(dead));
    const count = await fhirGet(base, 'Patient?deceased=false&_summary=count', system);
    expect(count.body.total).toBe(alive.length);
  });
});

type Named = { family?: string; given?: string[] }[];
type Identified = { system?: string; value?: string }[];
type Ref = { reference?: string };

/** Whether a name part starts with `text` the way FHIR string search compares (case-insensitive). */
function nameStartsWith(names: Named | undefined, text: string): boolean {
  const t = text.toLowerCase();
  return (names ?? []).some((n) => [n.family ?? '', ...(n.given ?? [])].some((part) => part.toLowerCase().startsWith(t)));
}

describe('chained parameters and _has (FHIR R4 search.html §3.1.1.4.13-14; US Core 6.1 PractitionerRole SHALL)', () => {
  let roles: FhirJson[] = [];
  const practitioners = new Map<string, FhirJson>();

  beforeAll(async () => {
    roles = await searchAll('PractitionerRole?_count=500', system);
    for (const p of await searchAll('Practitioner?_count=500', system)) practitioners.set(`Practitioner/${p.id}`, p);
  });

  const practitionerOf = (role: FhirJson) => practitioners.get((role.practitioner as Ref | undefined)?.reference ?? '');

  it('PractitionerRole?practitioner.name=… returns exactly the roles whose practitioner has that name', async () => {
    expect(roles.length).toBeGreaterThan(3);
    const family = ((practitionerOf(roles[0]!)?.name as Named | undefined)?.[0]?.family ?? '').toString();
    expect(family).not.toBe('');
    const expected = roles.filter((r) => nameStartsWith(practitionerOf(r)?.name as Named | undefined, family));
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(roles.length);
    const res = await fhirGet(base, `PractitionerRole?practitioner.name=${encodeURIComponent(family)}`, system);
    expect(res.status).toBe(200);
    expect((res.body.entry ?? []).filter((e) => e.search?.mode === 'outcome')).toEqual([]);
    expect(idsOf(await searchAll(`PractitionerRole?practitioner.name=${encodeURIComponent(family)}`, system))).toEqual(idsOf(expected));
    // The :type modifier names the target type explicitly; the answer is the same.
    expect(idsOf(await searchAll(`PractitionerRole?practitioner:Practitioner.name=${encodeURIComponent(family)}`, system))).toEqual(idsOf(expected));
  });

  it('PractitionerRole?practitioner.identifier=system|value and =value return exactly the roles of that practitioner', async () => {
    const identifier = (practitionerOf(roles[1]!)?.identifier as Identified | undefined)?.find((i) => i.system && i.value);
    expect(identifier).toBeDefined();
    const has = (r: FhirJson, withSystem: boolean) =>
      ((practitionerOf(r)?.identifier as Identified | undefined) ?? []).some(
        (i) => i.value === identifier?.value && (!withSystem || i.system === identifier?.system),
      );
    const full = `${identifier?.system}|${identifier?.value}`;
    const exact = roles.filter((r) => has(r, true));
    expect(exact.length).toBeGreaterThan(0);
    expect(idsOf(await searchAll(`PractitionerRole?practitioner.identifier=${encodeURIComponent(full)}`, system))).toEqual(idsOf(exact));
    expect(idsOf(await searchAll(`PractitionerRole?practitioner.identifier=${encodeURIComponent(identifier?.value ?? '')}`, system))).toEqual(
      idsOf(roles.filter((r) => has(r, false))),
    );
    expect((await fhirGet(base, 'PractitionerRole?practitioner.identifier=urn:none|nothing', system)).body.entry ?? []).toEqual([]);
  });

  it('Encounter?subject:Patient.name=… returns exactly the encounters of the patients with that name', async () => {
    const patients = await generatedPatients();
    const family = (patients[2]?.name as Named | undefined)?.[0]?.family ?? '';
    const named = new Set(patients.filter((p) => nameStartsWith(p.name as Named | undefined, family)).map((p) => `Patient/${p.id}`));
    const encounters = await searchAll('Encounter?_count=1000', system);
    const expected = encounters.filter((e) => named.has((e.subject as Ref | undefined)?.reference ?? ''));
    expect(expected.length).toBeGreaterThan(0);
    expect(idsOf(await searchAll(`Encounter?subject:Patient.name=${encodeURIComponent(family)}&_count=200`, system))).toEqual(idsOf(expected));
    expect(idsOf(await searchAll(`Encounter?patient.name=${encodeURIComponent(family)}&_count=200`, system))).toEqual(idsOf(expected));
  });

  it('Patient?_has:Condition:patient:code=… returns exactly the patients with such a condition', async () => {
    const conditions = await searchAll('Condition?_count=1000', system);
    const patientsByCode = new Map<string, Set<string>>();
    for (const c of conditions) {
      for (const coding of (c.code as { coding?: { system?: string; code?: string }[] } | undefined)?.coding ?? []) {
        const key = `${coding.system}|${coding.code}`;
        const set = patientsByCode.get(key) ?? new Set<string>();
        set.add((c.subject as Ref | undefined)?.reference ?? '');
        patientsByCode.set(key, set);
      }
    }
    // A code more than one patient has, but not every patient.
    const [code, holders] = [...patientsByCode].sort((a, b) => b[1].size - a[1].size).find(([, s]) => s.size > 1 && s.size < 10) ?? ['', new Set<string>()];
    expect(holders.size).toBeGreaterThan(1);
    const found = await searchAll(`Patient?_has:Condition:patient:code=${encodeURIComponent(code)}`, system);
    expect(idsOf(found)).toEqual([...holders].sort());
  });

  it('malformed or unsupported chains are 400 with an OperationOutcome, never ignored', async () => {
    for (const path of [
      'PractitionerRole?practitioner.name.family=x',
      'Observation?code.name=x',
      'PractitionerRole?practitioner:Patient.name=x',
      'PractitionerRole?practitioner.nonsense=x',
      'Patient?_has:Observation:patient:_has:Encounter:patient:status=x',
      'Patient?_has:Observation:code:status=final',
      'Patient?_has:Observation=x',
      'Patient?_has:Nonsense:patient:code=x',
    ]) {
      const res = await fhirGet(base, path, system);
      expect(res.status, path).toBe(400);
      expect(res.body.resourceType, path).toBe('OperationOutcome');
    }
  });
});

describe('canonical references (FHIR R4 search.html#reference; US Core 6.1 QuestionnaireResponse?questionnaire)', () => {
  let responses: FhirJson[] = [];
  let questionnaires: FhirJson[] = [];
  const canonicalOf = (qr: FhirJson) => String(qr.questionnaire ?? '');
  const urlOf = (canonical: string) => canonical.split('|')[0]!;

  beforeAll(async () => {
    responses = await searchAll('QuestionnaireResponse?_count=1000', system);
    questionnaires = await searchAll('Questionnaire?_count=100', system);
    // The dataset answers more than one questionnaire, each named by url|version.
    expect(new Set(responses.map(canonicalOf)).size).toBeGreaterThan(1);
    for (const qr of responses) expect(canonicalOf(qr)).toMatch(/^https?:\/\/.+\|.+$/);
  });

  it('questionnaire=url|version and questionnaire=url each return exactly the responses to that questionnaire', async () => {
    for (const canonical of new Set(responses.map(canonicalOf))) {
      const expected = responses.filter((qr) => canonicalOf(qr) === canonical);
      expect(idsOf(await searchAll(`QuestionnaireResponse?questionnaire=${encodeURIComponent(canonical)}&_count=200`, system))).toEqual(idsOf(expected));
      const url = urlOf(canonical);
      expect(idsOf(await searchAll(`QuestionnaireResponse?questionnaire=${encodeURIComponent(url)}&_count=200`, system))).toEqual(
        idsOf(responses.filter((qr) => urlOf(canonicalOf(qr)) === url)),
      );
      // With the patient (the US Core patient+questionnaire combination) and OR-ed with another url.
      const patient = String((expected[0]?.subject as Ref | undefined)?.reference ?? '').replace('Patient/', '');
      expect(idsOf(await searchAll(`QuestionnaireResponse?patient=${patient}&questionnaire=${encodeURIComponent(url)}`, system))).toEqual(
        idsOf(expected.filter((qr) => (qr.subject as Ref | undefined)?.reference === `Patient/${patient}`)),
      );
    }
    const all = [...new Set(responses.map((qr) => urlOf(canonicalOf(qr))))].map(encodeURIComponent).join(',');
    expect(idsOf(await searchAll(`QuestionnaireResponse?questionnaire=${all}&_count=1000`, system))).toEqual(idsOf(responses));
  });

  it('an unknown version or url matches nothing; :missing, the chain and _include follow the canonical to its Questionnaire', async () => {
    const canonical = canonicalOf(responses[0]!);
    for (const other of [`${urlOf(canonical)}|0.0.0-none`, `${urlOf(canonical)}-none`, urlOf(canonical).slice(0, -2)]) {
      const res = await fhirGet(base, `QuestionnaireResponse?questionnaire=${encodeURIComponent(other)}&_summary=count`, system);
      expect(res.status, other).toBe(200);
      expect(res.body.total, other).toBe(0);
    }
    const missing = await fhirGet(base, 'QuestionnaireResponse?questionnaire:missing=false&_summary=count', system);
    expect(missing.body.total).toBe(responses.length);

    const target = questionnaires.find((q) => `${q.url}|${q.version}` === canonical)!;
    expect(target).toBeDefined();
    const byTitle = await searchAll(`QuestionnaireResponse?questionnaire.title=${encodeURIComponent(String(target.title))}&_count=1000`, system);
    expect(idsOf(byTitle)).toEqual(idsOf(responses.filter((qr) => canonicalOf(qr) === canonical)));

    const included = await fhirGet(
      base,
      `QuestionnaireResponse?questionnaire=${encodeURIComponent(canonical)}&_include=QuestionnaireResponse:questionnaire&_count=5`,
      system,
    );
    const includes = (included.body.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
    expect(includes).toEqual([`Questionnaire/${target.id}`]);

    const reverse = await fhirGet(base, `Questionnaire?_id=${target.id}&_revinclude=QuestionnaireResponse:questionnaire`, system);
    const referring = (reverse.body.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => e.resource!);
    const expected = responses.filter((qr) => urlOf(canonicalOf(qr)) === target.url);
    expect(expected.length).toBeGreaterThan(0);
    expect(idsOf(referring)).toEqual(idsOf(expected));
  });

  it('a malformed canonical or a type modifier naming another type is 400 with an OperationOutcome; :Questionnaire answers', async () => {
    const canonical = encodeURIComponent(canonicalOf(responses[0]!));
    const typed = await fhirGet(base, `QuestionnaireResponse?questionnaire:Questionnaire=${canonical}&_summary=count`, system);
    expect(typed.body.total).toBe(responses.filter((qr) => canonicalOf(qr) === canonicalOf(responses[0]!)).length);
    for (const q of ['questionnaire=a%20b', 'questionnaire=http%3A%2F%2Fx%7C', 'questionnaire=%7C1.0', 'questionnaire:Patient=http%3A%2F%2Fx']) {
      const res = await fhirGet(base, `QuestionnaireResponse?${q}`, system);
      expect(res.status, q).toBe(400);
      expect(res.body.resourceType, q).toBe('OperationOutcome');
    }
  });
});

describe('Bundle.total and the page-size cap', () => {
  it('a multi-page search confined to one patient carries total on every page, equal to the entries of all its pages', async () => {
    const patient = (await generatedPatients())[0]?.id ?? '';
    const all = await searchAll(`Observation?patient=${patient}&_count=1000`, system);
    expect(all.length).toBeGreaterThan(10);
    let url: string | null = `${base}/fhir/Observation?patient=${patient}&_count=7`;
    let pages = 0;
    const seen: string[] = [];
    while (url) {
      const res: Response = await fetch(url, { headers: { authorization: `Bearer ${system}` } });
      const page = (await res.json()) as FhirJson;
      expect(page.total, `page ${pages + 1}`).toBe(all.length);
      for (const e of page.entry ?? []) seen.push(`${e.resource?.resourceType}/${e.resource?.id}`);
      url = page.link?.find((l) => l.relation === 'next')?.url ?? null;
      pages++;
    }
    expect(pages).toBeGreaterThan(1);
    expect(seen.sort()).toEqual(idsOf(all));
    // _total=none asks for none.
    expect((await fhirGet(base, `Observation?patient=${patient}&_count=7&_total=none`, system)).body.total).toBeUndefined();
  });

  it('a total carried in a next link belongs to its query: a token with another policy following the link gets its own count', async () => {
    const patient = (await generatedPatients())[0]?.id ?? '';
    const vitals = await systemToken(base, as, 'system/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs');
    const first = await fhirGet(base, `Observation?patient=${patient}&_count=3`, system);
    const next = first.body.link?.find((l) => l.relation === 'next')?.url ?? '';
    expect(next).not.toBe('');
    const own = (await fhirGet(base, `Observation?patient=${patient}&_summary=count`, vitals)).body.total ?? 0;
    // The narrower policy matches fewer (the patient has observations of other categories too), but some.
    expect(own).toBeGreaterThan(0);
    expect(own).toBeLessThan(first.body.total ?? 0);
    const followed = await fetch(next, { headers: { authorization: `Bearer ${vitals}` } });
    expect(followed.status).toBe(200);
    expect(((await followed.json()) as FhirJson).total).toBe(own);
  });

  it('a total and a page follow every write to what they show: creates and deletes over HTTP, and a write made by another connection to the database', async () => {
    const writer = await systemToken(base, as, 'system/Patient.cruds system/Observation.cruds');
    const send = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}/fhir/${path}`, {
        method,
        headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/fhir+json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect(res.status, `${method} ${path}`).toBeLessThan(300);
      return (await res.json().catch(() => ({}))) as FhirJson;
    };
    const patient = (await send('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Totals' }] })).id ?? '';
    const vital = {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${patient}` },
      effectiveDateTime: '2024-01-01',
    };
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await send('POST', 'Observation', vital)).id ?? '');
    // One per page, so the total is counted (a single page would give the number of its entries).
    const total = async () => {
      const page = await fhirGet(base, `Observation?patient=${patient}&category=vital-signs&_count=1`, system);
      expect(page.status).toBe(200);
      return page.body.total;
    };
    // And the entries of a page holding them all.
    const found = async () => {
      const page = await fhirGet(base, `Observation?patient=${patient}&category=vital-signs&_count=10`, system);
      return (page.body.entry ?? []).map((e) => e.resource?.id ?? '').sort();
    };
    const alive = (...which: number[]) => which.map((i) => ids[i]!).sort();
    expect(await total()).toBe(3);
    expect(await total()).toBe(3);
    expect(await found()).toEqual(alive(0, 1, 2));
    ids.push((await send('POST', 'Observation', vital)).id ?? '');
    expect(await total()).toBe(4);
    expect(await found()).toEqual(alive(0, 1, 2, 3));
    await send('DELETE', `Observation/${ids[0]}`);
    expect(await total()).toBe(3);
    expect(await found()).toEqual(alive(1, 2, 3));
    expect((await fhirGet(base, `Observation?patient=${patient}&category=vital-signs&_summary=count`, system)).body.total).toBe(3);
    // Another connection (another process, a seeding run) changes the data behind the server's back.
    const { db } = createDb(inject('databaseUrl'));
    try {
      await db.$executeRaw(Prisma.sql`UPDATE "Resource" SET "deleted" = ${true} WHERE "type" = 'Observation' AND "id" = ${ids[1]!}`);
      expect(await total()).toBe(2);
      expect(await found()).toEqual(alive(2, 3));
      await db.$executeRaw(Prisma.sql`UPDATE "Resource" SET "deleted" = ${false} WHERE "type" = 'Observation' AND "id" = ${ids[1]!}`);
      expect(await total()).toBe(3);
      expect(await found()).toEqual(alive(1, 2, 3));
    } finally {
      await db.$disconnect();
    }
  });

  it('_count above the maximum page size gives a full page of 1000 and says so in an OperationOutcome entry', async () => {
    const total = (await fhirGet(base, 'Observation?_summary=count', system)).body.total ?? 0;
    expect(total).toBeGreaterThan(1000);
    const res = await fhirGet(base, 'Observation?_count=5000', system);
    expect(res.status).toBe(200);
    const entries = res.body.entry ?? [];
    expect(entries.filter((e) => e.search?.mode === 'match')).toHaveLength(1000);
    const outcome = entries.find((e) => e.search?.mode === 'outcome')?.resource;
    expect(outcome?.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(outcome?.issue)).toContain('_count=5000');
    expect(JSON.stringify(outcome?.issue)).toContain('1000');
    expect(res.body.link?.some((l) => l.relation === 'next')).toBe(true);
    // Within the cap, no such entry.
    const within = await fhirGet(base, 'Observation?_count=1000', system);
    expect((within.body.entry ?? []).filter((e) => e.search?.mode === 'outcome')).toEqual([]);
  });
});

type DocRef = FhirJson & { status?: string; type?: { coding?: { system?: string; code?: string }[] }; context?: { period?: { start?: string; end?: string } } };

describe('DocumentReference/$docref (US Core 6.1 OperationDefinition-docref)', () => {
  let patient = '';
  let docs: DocRef[] = [];

  beforeAll(async () => {
    // The patient with the most documents of more than one type.
    const all = (await searchAll('DocumentReference?_count=1000', system)) as DocRef[];
    const byPatient = new Map<string, DocRef[]>();
    for (const d of all) {
      const p = ((d.subject as Ref | undefined)?.reference ?? '').replace('Patient/', '');
      byPatient.set(p, [...(byPatient.get(p) ?? []), d]);
    }
    [patient, docs] = [...byPatient].sort(
      (a, b) =>
        new Set(b[1].map((d) => d.type?.coding?.[0]?.code)).size - new Set(a[1].map((d) => d.type?.coding?.[0]?.code)).size || b[1].length - a[1].length,
    )[0] ?? ['', []];
    expect(docs.length).toBeGreaterThan(2);
  });

  const codeOf = (d: DocRef) => d.type?.coding?.[0];
  const overlaps = (d: DocRef, start: string | null, end: string | null) => {
    const s = Date.parse(d.context?.period?.start ?? '0000-01-01');
    const e = Date.parse(d.context?.period?.end ?? d.context?.period?.start ?? '9999-12-31');
    return (start === null || e >= Date.parse(start)) && (end === null || s <= Date.parse(end));
  };

  async function docref(query: string): Promise<FhirJson[]> {
    return searchAll(`DocumentReference/$docref?${query}`, system);
  }

  /** The stored documents of an answer (the generated summary has no id: it is not stored). */
  const stored = (found: FhirJson[]) => found.filter((d) => d.id !== undefined);
  const generatedOf = (found: FhirJson[]) => found.filter((d) => d.id === undefined);

  it("patient alone: every current document of the patient and the patient's summary generated on demand, nothing else", async () => {
    const expected = docs.filter((d) => d.status === 'current');
    const found = await docref(`patient=${patient}&_count=3`);
    expect(idsOf(stored(found))).toEqual(idsOf(expected));
    const generated = generatedOf(found) as DocRef[];
    expect(generated).toHaveLength(1);
    expect(codeOf(generated[0]!)).toMatchObject({ system: 'http://loinc.org', code: '34133-9' });
    expect((generated[0]!.subject as Ref | undefined)?.reference).toBe(`Patient/${patient}`);
    const res = await fhirGet(base, `DocumentReference/$docref?patient=Patient/${patient}`, system);
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('searchset');
    expect(res.body.total).toBe(expected.length + 1);
    expect(res.body.link?.find((l) => l.relation === 'self')?.url).toContain('DocumentReference/$docref?patient=');
  });

  it('type, start and end narrow to the documents of that type whose care period overlaps the range (GET, POST Parameters, POST form)', async () => {
    const withPeriod = docs
      .filter((d) => d.context?.period?.start)
      .sort((a, b) => (a.context?.period?.start ?? '').localeCompare(b.context?.period?.start ?? ''));
    const start = withPeriod[Math.floor(withPeriod.length / 3)]?.context?.period?.start ?? '';
    const end = withPeriod[Math.floor((2 * withPeriod.length) / 3)]?.context?.period?.start ?? '';
    const coding = codeOf(withPeriod[Math.floor(withPeriod.length / 2)]!);
    const type = `${coding?.system}|${coding?.code}`;
    const expected = docs.filter((d) => d.status !== 'entered-in-error' && `${codeOf(d)?.system}|${codeOf(d)?.code}` === type && overlaps(d, start, end));
    expect(expected.length).toBeGreaterThan(0);
    const q = new URLSearchParams({ patient, type, start, end }).toString();
    expect(idsOf(await docref(q))).toEqual(idsOf(expected));
    const byRange = docs.filter((d) => d.status !== 'entered-in-error' && overlaps(d, start, end));
    expect(idsOf(stored(await docref(new URLSearchParams({ patient, start, end }).toString())))).toEqual(idsOf(byRange));
    expect(idsOf(stored(await docref(new URLSearchParams({ patient, start }).toString())))).toEqual(
      idsOf(docs.filter((d) => d.status !== 'entered-in-error' && overlaps(d, start, null))),
    );

    const parameters = {
      resourceType: 'Parameters',
      parameter: [
        { name: 'patient', valueId: patient },
        { name: 'start', valueDateTime: start },
        { name: 'end', valueDateTime: end },
        { name: 'type', valueCoding: { system: coding?.system, code: coding?.code } },
      ],
    };
    const post = await fetch(`${base}/fhir/DocumentReference/$docref`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(parameters),
    });
    expect(post.status).toBe(200);
    expect(idsOf(((await post.json()) as FhirJson).entry?.map((e) => e.resource ?? {}) ?? [])).toEqual(idsOf(expected));
    const form = await fetch(`${base}/fhir/DocumentReference/$docref`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: q,
    });
    expect(idsOf(((await form.json()) as FhirJson).entry?.map((e) => e.resource ?? {}) ?? [])).toEqual(idsOf(expected));
  });

  /** The FHIR document a generated DocumentReference carries inline. */
  function documentOf(d: FhirJson): { entry: { fullUrl?: string; resource: FhirJson }[] } {
    const data = (d.content as { attachment?: { data?: string; contentType?: string } }[] | undefined)?.[0]?.attachment;
    expect(data?.contentType).toBe('application/fhir+json');
    const doc = JSON.parse(Buffer.from(data?.data ?? '', 'base64').toString('utf8')) as { type?: string; entry: { fullUrl?: string; resource: FhirJson }[] };
    expect(doc.type).toBe('document');
    return doc;
  }

  type Section = { code?: { coding?: { code?: string }[] }; entry?: { reference?: string }[]; emptyReason?: { coding?: { code?: string }[] } };
  const SECTION_SEARCHES: Record<string, string> = {
    '48765-2': 'AllergyIntolerance?_sort=-date',
    '11450-4': 'Condition?_sort=-onset-date',
    '10160-0': 'MedicationRequest?_sort=-authoredon',
    '11369-6': 'Immunization?_sort=-date',
    '47519-4': 'Procedure?_sort=-date',
    '30954-2': 'Observation?category=laboratory&_sort=-date',
    '8716-3': 'Observation?category=vital-signs&_sort=-date',
    '29762-2': 'Observation?category=social-history&_sort=-date',
    '46240-8': 'Encounter?_sort=-date',
  };

  it("on-demand=true: only the generated summary, a CCD-shaped FHIR document whose every section holds exactly the patient's records a search returns", async () => {
    const res = await fhirGet(base, `DocumentReference/$docref?patient=${patient}&on-demand=true`, system);
    expect(res.status).toBe(200);
    const matches = (res.body.entry ?? []).filter((e) => e.search?.mode === 'match');
    expect(matches).toHaveLength(1);
    expect(res.body.total).toBe(1);
    const reference = matches[0]!.resource!;
    expect(reference.id).toBeUndefined();
    expect((reference.meta as { profile?: string[] } | undefined)?.profile).toContain(
      'http://hl7.org/fhir/us/core/StructureDefinition/us-core-documentreference',
    );
    const doc = documentOf(reference);
    const [composition, ...rest] = doc.entry.map((e) => e.resource);
    expect(composition?.resourceType).toBe('Composition');
    expect((composition?.type as { coding?: { code?: string }[] }).coding?.[0]?.code).toBe('34133-9');
    expect(rest[0]).toMatchObject({ resourceType: 'Patient', id: patient });
    const inDocument = new Set(rest.map((r) => `${r.resourceType}/${r.id}`));
    const sections = (composition?.section ?? []) as Section[];
    expect(sections.map((x) => x.code?.coding?.[0]?.code).sort()).toEqual(Object.keys(SECTION_SEARCHES).sort());
    let entries = 0;
    for (const section of sections) {
      const code = section.code?.coding?.[0]?.code ?? '';
      const expected = await searchAll(`${SECTION_SEARCHES[code]}&patient=${patient}&_count=50`, system);
      const refs = (section.entry ?? []).map((e) => e.reference ?? '');
      // The 50 most recent (or all), each in the document and of this patient.
      expect(refs.sort(), code).toEqual(idsOf(expected.slice(0, 50)));
      for (const ref of refs) expect(inDocument.has(ref), ref).toBe(true);
      if (!refs.length) expect(section.emptyReason?.coding?.[0]?.code, code).toBe('nilknown');
      entries += refs.length;
    }
    expect(entries).toBeGreaterThan(10);
    const sectionRefs = new Set(sections.flatMap((x) => (x.entry ?? []).map((e) => e.reference ?? '')));
    const entryResources = rest.filter((r) => sectionRefs.has(`${r.resourceType}/${r.id}`));
    expect(entryResources).toHaveLength(sectionRefs.size);
    for (const r of entryResources) expect(JSON.stringify(r.subject ?? r.patient)).toContain(`Patient/${patient}`);
    // What the Composition, the patient and the entries refer to is in the document too (FHIR R4
    // documents.html §3.3.1), read like a GET of it: every such reference resolves inside the bundle.
    const firstLevel = [composition, rest[0], ...entryResources].flatMap((r) =>
      [...JSON.stringify(r).matchAll(/"reference":"([A-Z][A-Za-z]+\/[^"#]+)"/g)].map((m) => m[1]!),
    );
    for (const ref of firstLevel) expect(inDocument.has(ref), ref).toBe(true);
    const referenced = rest.filter((r) => r !== rest[0] && !sectionRefs.has(`${r.resourceType}/${r.id}`));
    expect(referenced.map((r) => r.resourceType)).toEqual(expect.arrayContaining(['Organization', 'Practitioner']));
    for (const r of referenced) expect(firstLevel, `${r.resourceType}/${r.id}`).toContain(`${r.resourceType}/${r.id}`);
    expect((composition?.author as { reference?: string }[])[0]?.reference).toBe((rest[0]?.managingOrganization as { reference?: string }).reference);
    // Independently of the search engine: the allergies, immunizations and problems are every one of the patient's.
    for (const [code, type] of [
      ['48765-2', 'AllergyIntolerance'],
      ['11369-6', 'Immunization'],
      ['11450-4', 'Condition'],
    ] as const) {
      const own = (await searchAll(`${type}?_count=1000`, system)).filter((r) => JSON.stringify(r.subject ?? r.patient).includes(`"Patient/${patient}"`));
      const section = sections.find((x) => x.code?.coding?.[0]?.code === code)!;
      if (own.length <= 50) expect((section.entry ?? []).map((e) => e.reference).sort(), type).toEqual(idsOf(own));
    }

    // A type other than the summary's generates nothing; the summary's type does.
    const other = await fhirGet(
      base,
      `DocumentReference/$docref?patient=${patient}&on-demand=true&type=${encodeURIComponent('http://loinc.org|11506-3')}`,
      system,
    );
    expect((other.body.entry ?? []).filter((e) => e.search?.mode === 'match')).toEqual([]);
    expect(JSON.stringify(other.body.entry)).toContain('on demand');
    const ccd = await fhirGet(
      base,
      `DocumentReference/$docref?patient=${patient}&on-demand=true&type=${encodeURIComponent('http://loinc.org|34133-9')}`,
      system,
    );
    expect(ccd.body.total).toBe(1);
    // Neither stored nor generated for an unknown patient.
    const unknown = await fhirGet(base, 'DocumentReference/$docref?patient=no-such-patient&on-demand=true', system);
    expect((unknown.body.entry ?? []).filter((e) => e.search?.mode === 'match')).toEqual([]);
  });

  it("scoped like a search: a patient token's summary holds only what its scopes let it search; another patient's is 403 (BOLA matrix)", async () => {
    const reg = await registerSymmetricClient(base);
    const flow = await runCodeFlow(base, as, reg, {
      scope:
        'launch/patient openid fhirUser patient/Patient.rs patient/DocumentReference.rs patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory',
      interaction: { persona: `Patient/${patient}` },
    });
    expect(flow.tokens.patient).toBe(patient);
    const token = flow.tokens.access_token;
    const res = await fhirGet(base, `DocumentReference/$docref?patient=${patient}&on-demand=true`, token);
    expect(res.status).toBe(200);
    const reference = (res.body.entry ?? []).find((e) => e.search?.mode === 'match')?.resource;
    expect(reference).toBeDefined();
    const doc = documentOf(reference!);
    const sections = ((doc.entry[0]?.resource.section ?? []) as Section[]).map((x) => [x.code?.coding?.[0]?.code, x] as const);
    const byCode = new Map(sections);
    const labs = await searchAll(`Observation?patient=${patient}&category=laboratory&_sort=-date&_count=50`, system);
    const vitals = await searchAll(`Observation?patient=${patient}&category=vital-signs&_count=50`, system);
    expect(labs.length).toBeGreaterThan(0);
    expect(vitals.length).toBeGreaterThan(0);
    expect((byCode.get('30954-2')?.entry ?? []).map((e) => e.reference).sort()).toEqual(idsOf(labs.slice(0, 50)));
    // Vital signs are Observations too, outside the granular scope: none, as a search would answer.
    expect(byCode.get('8716-3')?.entry).toBeUndefined();
    expect(byCode.get('8716-3')?.emptyReason?.coding?.[0]?.code).toBe('nilknown');
    // No scope for these types at all: withheld.
    for (const code of ['48765-2', '11450-4', '10160-0', '46240-8']) {
      expect(byCode.get(code)?.entry, code).toBeUndefined();
      expect(byCode.get(code)?.emptyReason?.coding?.[0]?.code, code).toBe('withheld');
    }
    const types = new Set(doc.entry.slice(1).map((e) => e.resource.resourceType));
    expect([...types].sort()).toEqual(['Observation', 'Patient']);
    for (const e of doc.entry.slice(1)) expect(JSON.stringify(e.resource)).not.toMatch(/vital-signs/);

    const other = (await generatedPatients()).find((p) => p.id !== patient)!.id;
    for (const q of [`patient=${other}&on-demand=true`, `patient=${other}`]) {
      const refused = await fhirGet(base, `DocumentReference/$docref?${q}`, token);
      expect(refused.status, q).toBe(403);
      expect(JSON.stringify(refused.body)).not.toContain('"data"');
    }
    // Control: the system token gets the other patient's summary.
    const seen = await fhirGet(base, `DocumentReference/$docref?patient=${other}&on-demand=true`, system);
    expect(seen.body.total).toBe(1);
  });

  it('on-demand=false answers the stored documents and the generated one; bad input is 400', async () => {
    const both = await docref(`patient=${patient}&on-demand=false`);
    expect(idsOf(stored(both))).toEqual(idsOf(docs.filter((d) => d.status === 'current')));
    expect(generatedOf(both)).toHaveLength(1);
    for (const q of [
      '',
      'start=2020-01-01',
      `patient=${patient}&start=yesterday`,
      `patient=${patient}&type=nocode`,
      `patient=${patient}&on-demand=maybe`,
      `patient=${patient}&colour=red`,
      'patient=a/b/c',
    ]) {
      const bad = await fhirGet(base, `DocumentReference/$docref?${q}`, system);
      expect(bad.status, q).toBe(400);
      expect(bad.body.resourceType, q).toBe('OperationOutcome');
    }
    const put = await fetch(`${base}/fhir/DocumentReference/$docref?patient=${patient}`, { method: 'PUT', headers: { authorization: `Bearer ${system}` } });
    expect(put.status).toBe(405);
  });
});

type Expansion = FhirJson & { expansion?: { total?: number; offset?: number; contains?: { system?: string; code?: string; display?: string }[] } };

describe('ValueSet/$expand over the R4 and US Core 6.1 value sets the data uses', () => {
  const US_CORE_VS = 'http://hl7.org/fhir/us/core/ValueSet';
  async function expand(query: string, token = system): Promise<{ status: number; body: Expansion }> {
    return fhirGet(base, `ValueSet/$expand?${query}`, token) as Promise<{ status: number; body: Expansion }>;
  }
  const codes = (e: Expansion) => (e.expansion?.contains ?? []).map((c) => `${c.system}|${c.code}`);

  it('the codes the data carries are in the expansions of the value sets US Core binds them to', async () => {
    const docs = await searchAll('DocumentReference?_count=1000', system);
    const patients = await generatedPatients();
    const noteTypes = await expand(`url=${encodeURIComponent(`${US_CORE_VS}/us-core-clinical-note-type`)}`);
    expect(noteTypes.status).toBe(200);
    expect(noteTypes.body.resourceType).toBe('ValueSet');
    expect(noteTypes.body.expansion?.total).toBe(noteTypes.body.expansion?.contains?.length);
    const categories = await expand(`url=${encodeURIComponent(`${US_CORE_VS}/us-core-documentreference-category`)}`);
    const genders = await expand(`url=${encodeURIComponent('http://hl7.org/fhir/ValueSet/administrative-gender')}`);
    const docTypes = new Set(
      docs.flatMap((d) => ((d.type as { coding?: { system?: string; code?: string }[] } | undefined)?.coding ?? []).map((c) => `${c.system}|${c.code}`)),
    );
    const docCategories = new Set(
      docs.flatMap((d) =>
        ((d.category as { coding?: { system?: string; code?: string }[] }[] | undefined) ?? [])
          .flatMap((c) => c.coding ?? [])
          .map((c) => `${c.system}|${c.code}`),
      ),
    );
    expect(docTypes.size).toBeGreaterThan(1);
    // The document types are bound (extensibly) to the whole LOINC document ontology; most of the
    // data's are among the five common clinical notes US Core names.
    expect(codes(noteTypes.body)).toHaveLength(5);
    expect([...docTypes].filter((t) => codes(noteTypes.body).includes(t)).length).toBeGreaterThanOrEqual(2);
    for (const c of docCategories) expect(codes(categories.body), c).toContain(c);
    for (const p of patients) expect(codes(genders.body)).toContain(`http://hl7.org/fhir/administrative-gender|${p.gender}`);
    // A value set including VSAC ones (OMB race categories) expands from their published expansions.
    const race = await expand(`url=${encodeURIComponent(`${US_CORE_VS}/omb-race-category`)}`);
    expect(race.status).toBe(200);
    expect(codes(race.body)).toContain('urn:oid:2.16.840.1.113883.6.238|2106-3');
  });

  it('filter keeps exactly the codes whose code or display contains it; count and offset page without gaps; instance and POST answer the same', async () => {
    const url = encodeURIComponent(`${US_CORE_VS}/us-core-simple-observation-category`);
    const full = (await expand(`url=${url}`)).body;
    const all = full.expansion?.contains ?? [];
    expect(all.length).toBeGreaterThan(5);
    const word = 'social';
    const filtered = (await expand(`url=${url}&filter=${word}`)).body.expansion?.contains ?? [];
    const expected = all.filter((c) => (c.code ?? '').toLowerCase().includes(word) || (c.display ?? '').toLowerCase().includes(word));
    expect(expected.length).toBeGreaterThan(0);
    expect(filtered).toEqual(expected);
    const paged: typeof all = [];
    for (let offset = 0; offset < all.length; offset += 4) {
      const page = (await expand(`url=${url}&count=4&offset=${offset}`)).body.expansion;
      expect(page?.total).toBe(all.length);
      expect(page?.offset).toBe(offset);
      paged.push(...(page?.contains ?? []));
    }
    expect(paged).toEqual(all);
    const byId = await fhirGet(base, 'ValueSet/us-core-simple-observation-category/$expand', system);
    expect((byId.body as Expansion).expansion?.contains).toEqual(all);
    const post = await fetch(`${base}/fhir/ValueSet/$expand`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Parameters',
        parameter: [
          { name: 'url', valueUri: `${US_CORE_VS}/us-core-simple-observation-category` },
          { name: 'filter', valueString: word },
        ],
      }),
    });
    expect(((await post.json()) as Expansion).expansion?.contains).toEqual(expected);
  });

  it('unknown value sets are 404, ones needing LOINC or SNOMED CT 422, bad input 400, each an OperationOutcome', async () => {
    for (const [query, status] of [
      [`url=${encodeURIComponent('http://example.org/ValueSet/none')}`, 404],
      [`url=${encodeURIComponent(`${US_CORE_VS}/us-core-laboratory-test-codes`)}`, 422],
      ['', 400],
      [`url=${encodeURIComponent(`${US_CORE_VS}/birthsex`)}&count=-1`, 400],
      [`url=${encodeURIComponent(`${US_CORE_VS}/birthsex`)}&displayLanguage=de`, 400],
    ] as const) {
      const res = await expand(query);
      expect(res.status, query).toBe(status);
      expect(res.body.resourceType, query).toBe('OperationOutcome');
    }
    expect((await fhirGet(base, `ValueSet/$expand?url=${encodeURIComponent(`${US_CORE_VS}/birthsex`)}`)).status).toBe(401);
  });
});
