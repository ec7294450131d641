import { describe, it, expect } from 'vitest';
import type { ParsedScope, ResourceScope } from './scopes';
import {
  explainScope,
  formatScope,
  formatScopes,
  intersectScopes,
  isScopeCovered,
  narrowScopes,
  parseScope,
  parseScopeString,
  toV1Scope,
  toV2Scope,
} from './scopes';

const LAB = 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory';
const VITALS = 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';

function ok(s: string): ParsedScope {
  const r = parseScope(s);
  if (!r.ok) throw new Error(`expected ${s} to parse: ${r.error.reason}`);
  return r.scope;
}
function res(s: string): ResourceScope {
  const p = ok(s);
  if (p.kind !== 'resource') throw new Error(`${s} is not a resource scope`);
  return p;
}
function reason(s: string): string {
  const r = parseScope(s);
  if (r.ok) throw new Error(`expected ${s} to be refused`);
  expect(r.error.scope).toBe(s);
  return r.error.reason;
}
const list = (s: string): ParsedScope[] => {
  const { scopes, errors } = parseScopeString(s);
  expect(errors).toEqual([]);
  return scopes;
};
const fmt = (scopes: readonly ParsedScope[]): string[] => scopes.map(formatScope);

describe('parseScope: SMART v1 resource scopes (docs/CONFORMANCE.md #94)', () => {
  it.each([
    ['patient/Observation.read', 'patient', 'Observation', ['r', 's']],
    ['patient/Observation.write', 'patient', 'Observation', ['c', 'u', 'd']],
    ['patient/Observation.*', 'patient', 'Observation', ['c', 'r', 'u', 'd', 's']],
    ['user/*.read', 'user', '*', ['r', 's']],
    ['user/*.*', 'user', '*', ['c', 'r', 'u', 'd', 's']],
    ['system/*.read', 'system', '*', ['r', 's']],
    ['system/Patient.write', 'system', 'Patient', ['c', 'u', 'd']],
  ])('%s', (text, context, resourceType, interactions) => {
    expect(ok(text)).toEqual({ kind: 'resource', context, resourceType, interactions, version: 1, query: null });
    expect(formatScope(ok(text))).toBe(text);
  });
});

describe('parseScope: SMART v2 resource scopes (docs/CONFORMANCE.md #93)', () => {
  const all = ['c', 'r', 'u', 'd', 's'] as const;
  // Every non-empty in-order subset of cruds is valid: 31 forms.
  const subsets: string[] = [];
  for (let mask = 1; mask < 32; mask++) subsets.push(all.filter((_, i) => mask & (1 << i)).join(''));

  it.each(subsets)('patient/Observation.%s parses with those letters, in order', (letters) => {
    const s = res(`patient/Observation.${letters}`);
    expect(s.version).toBe(2);
    expect(s.interactions.join('')).toBe(letters);
    expect(formatScope(s)).toBe(`patient/Observation.${letters}`);
  });

  it.each(['patient/*.rs', 'user/*.cruds', 'system/*.rs', 'user/Encounter.r', 'system/Group.s'])('%s round-trips', (text) => {
    expect(formatScope(ok(text))).toBe(text);
  });

  it('accepts a granular category query and keeps it verbatim (docs/CONFORMANCE.md #100, #101)', () => {
    const s = res(`patient/Observation.rs?category=${LAB}`);
    expect(s.query).toEqual({ category: [LAB] });
    expect(s.version).toBe(2);
    expect(formatScope(s)).toBe(`patient/Observation.rs?category=${LAB}`);
  });

  it('parses AND of parameters and OR of comma values', () => {
    const s = res(`user/Observation.rs?category=${LAB},${VITALS}&status=final`);
    expect(s.query).toEqual({ category: [LAB, VITALS], status: ['final'] });
    expect(formatScope(s)).toBe(`user/Observation.rs?category=${LAB},${VITALS}&status=final`);
  });

  it.each([
    'patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|encounter-diagnosis',
    'patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item',
    'patient/Condition.rs?category=http://hl7.org/fhir/us/core/CodeSystem/condition-category|health-concern',
    'patient/Observation.rs?category=http://hl7.org/fhir/us/core/CodeSystem/us-core-category|sdoh',
    'patient/Observation.r?category=http://terminology.hl7.org/CodeSystem/observation-category|survey',
    'patient/Observation.s?category=http://terminology.hl7.org/CodeSystem/observation-category|social-history',
    'system/Appointment.crus?_tag=https://example.org/CodeSystem/x|rf-nz',
  ])('accepts the US Core granular scope %s', (text) => {
    expect(formatScope(ok(text))).toBe(text);
  });

  it('percent-decodes values and encodes only what would change the meaning', () => {
    const s = res('patient/Observation.rs?code=http://loinc.org%7C1234-5');
    expect(s.query).toEqual({ code: ['http://loinc.org|1234-5'] });
    expect(formatScope(s)).toBe('patient/Observation.rs?code=http://loinc.org|1234-5');
    expect(formatScope(res('patient/Observation.rs?code=a%2Cb'))).toBe('patient/Observation.rs?code=a%2Cb');
    expect(res('patient/Observation.rs?code=a%2Cb').query).toEqual({ code: ['a,b'] });
  });
});

describe('parseScope: non-resource scopes (docs/CONFORMANCE.md #99)', () => {
  it.each([
    ['openid', { kind: 'identity', name: 'openid' }],
    ['fhirUser', { kind: 'identity', name: 'fhirUser' }],
    ['profile', { kind: 'identity', name: 'profile' }],
    ['launch', { kind: 'launch', target: null, role: null }],
    ['launch/patient', { kind: 'launch', target: 'patient', role: null }],
    ['launch/encounter', { kind: 'launch', target: 'encounter', role: null }],
    ['offline_access', { kind: 'access', name: 'offline_access' }],
    ['online_access', { kind: 'access', name: 'online_access' }],
  ])('%s', (text, expected) => {
    expect(ok(text)).toEqual(expected);
    expect(formatScope(ok(text))).toBe(text);
  });

  it('accepts the experimental launch/<lowercase type>?role=<uri>', () => {
    expect(ok('launch/imagingstudy')).toEqual({ kind: 'launch', target: 'imagingstudy', role: null });
    const withRole = ok('launch/patient?role=https://example.org/role/caregiver');
    expect(withRole).toEqual({ kind: 'launch', target: 'patient', role: 'https://example.org/role/caregiver' });
    expect(formatScope(withRole)).toBe('launch/patient?role=https://example.org/role/caregiver');
  });
});

describe('parseScope: malformed scopes are refused with a reason naming them (docs/CONFORMANCE.md #95, #181)', () => {
  it('refuses out-of-order letters instead of reading them loosely (patient/Observation.rsc)', () => {
    expect(reason('patient/Observation.rsc')).toMatch(/out of order.*'\.crs'/);
    expect(reason('patient/Observation.dus')).toMatch(/out of order/);
    expect(reason('patient/Observation.sr')).toMatch(/out of order/);
  });
  it('refuses empty permissions (patient/Observation.)', () => {
    expect(reason('patient/Observation.')).toMatch(/empty permissions/);
  });
  it('refuses a missing dot', () => {
    expect(reason('patient/Observation')).toMatch(/no permissions/);
  });
  it.each(['xyz', 'rw', 'wr', 'READ', 'Read', 'ab', 'x', 'cruds*'])('refuses unknown permission .%s', (p) => {
    expect(reason(`patient/Observation.${p}`)).toMatch(/not a SMART permission/);
  });
  it('refuses duplicate letters', () => {
    expect(reason('patient/Observation.rrs')).toMatch(/'r' appears twice/);
    expect(reason('patient/Observation.css')).toMatch(/'s' appears twice/);
  });
  it('refuses a lowercase resource type and suggests the right one', () => {
    expect(reason('patient/observation.read')).toMatch(/unknown resource type 'observation'.*did you mean 'Observation'/);
  });
  it('refuses a type that is not FHIR R4', () => {
    expect(reason('patient/Foo.read')).toMatch(/not a FHIR R4 resource type/);
    expect(reason('patient/.rs')).toMatch(/no resource type/);
  });
  it('refuses an unknown context (foo/Observation.read)', () => {
    expect(reason('foo/Observation.read')).toMatch(/unknown scope context 'foo\/'/);
    expect(reason('Patient/Observation.read')).toMatch(/did you mean 'patient\/'/);
  });
  it.each([
    ['patient/Observation.rs?', /empty query/],
    ['patient/Observation.rs?category', /not a param=value pair/],
    ['patient/Observation.rs?=laboratory', /not a param=value pair/],
    ['patient/Observation.rs?category=', /empty value/],
    ['patient/Observation.rs?category=a,,b', /empty value/],
    ['patient/Observation.rs?category=a&category=b', /appears twice/],
    ['patient/Observation.rs?category:in=http://x.org/vs', /modifiers/],
    ['patient/Observation.rs?subject.name=x', /chained/],
    ['patient/Observation.rs?_filter=x', /_filter/],
    ['patient/Observation.rs?__proto__=x', /not a search parameter name/],
    ['patient/Observation.rs?category=%E0%A4%A', /percent-encoded/],
    ['patient/Observation.rs?category=a&', /not a param=value pair/],
  ])('refuses a bad granular query: %s', (text, pattern) => {
    expect(reason(text)).toMatch(pattern);
  });
  it('refuses a query on a v1 scope (granular scopes are v2)', () => {
    expect(reason(`patient/Observation.read?category=${LAB}`)).toMatch(/SMART v2/);
  });
  it.each(['launch/unknown', 'launch/', 'launch/Patient', 'launch/patient?role=', 'launch/patient?role=not-a-uri', 'launch/patient?x=1'])(
    'refuses the launch scope %s',
    (text) => {
      expect(reason(text)).toMatch(/launch/);
    },
  );
  it('refuses unknown words, with a hint when only the case is wrong', () => {
    expect(reason('email')).toBe("unknown scope 'email'");
    expect(reason('fhiruser')).toMatch(/did you mean 'fhirUser'/);
    expect(reason('OpenID')).toMatch(/did you mean 'openid'/);
  });
  it('refuses characters RFC 6749 §3.3 does not allow', () => {
    expect(reason('patient/Observation.rs?code="x"')).toMatch(/RFC 6749/);
    expect(reason('é')).toMatch(/RFC 6749/);
  });
});

describe('parseScopeString', () => {
  it('splits on whitespace, drops duplicates and reports every bad token', () => {
    const { scopes, errors } = parseScopeString(
      '  openid fhirUser  launch/patient patient/Observation.rs patient/Observation.rs patient/observation.read foo ',
    );
    expect(fmt(scopes)).toEqual(['openid', 'fhirUser', 'launch/patient', 'patient/Observation.rs']);
    expect(errors.map((e) => e.scope)).toEqual(['patient/observation.read', 'foo']);
  });
  it('treats an empty string as no scopes', () => {
    expect(parseScopeString('')).toEqual({ scopes: [], errors: [] });
  });
  it('formats a list back to a scope string', () => {
    expect(formatScopes(list('openid patient/*.read'))).toBe('openid patient/*.read');
  });
});

describe('v1 ↔ v2 mapping (docs/CONFORMANCE.md #94)', () => {
  it.each([
    ['patient/Observation.read', 'patient/Observation.rs'],
    ['patient/Observation.write', 'patient/Observation.cud'],
    ['patient/Observation.*', 'patient/Observation.cruds'],
    ['system/*.read', 'system/*.rs'],
  ])('%s ⇔ %s', (v1, v2) => {
    expect(formatScope(toV2Scope(res(v1)))).toBe(v2);
    const back = toV1Scope(res(v2));
    expect(back && formatScope(back)).toBe(v1);
  });
  it('has no v1 form for single letters or granular scopes', () => {
    expect(toV1Scope(res('patient/Observation.r'))).toBeNull();
    expect(toV1Scope(res(`patient/Observation.rs?category=${LAB}`))).toBeNull();
  });
  it('leaves non-resource scopes as they are', () => {
    expect(toV2Scope(ok('openid'))).toEqual(ok('openid'));
  });
});

describe('isScopeCovered: scopes are a union (docs/CONFORMANCE.md #96)', () => {
  it('Observation.r + Observation.s covers Observation.rs and .read', () => {
    const by = list('patient/Observation.r patient/Observation.s');
    expect(isScopeCovered(res('patient/Observation.rs'), by)).toBe(true);
    expect(isScopeCovered(res('patient/Observation.read'), by)).toBe(true);
  });
  it('write does not imply read', () => {
    expect(isScopeCovered(res('patient/Observation.r'), list('patient/Observation.write'))).toBe(false);
  });
  it('the * type covers every type, but a type does not cover *', () => {
    expect(isScopeCovered(res('patient/Condition.rs'), list('patient/*.read'))).toBe(true);
    expect(isScopeCovered(res('patient/*.rs'), list('patient/Condition.rs'))).toBe(false);
  });
  it('a context does not cover another context', () => {
    expect(isScopeCovered(res('patient/Observation.rs'), list('user/*.cruds'))).toBe(false);
    expect(isScopeCovered(res('user/Observation.rs'), list('system/*.cruds'))).toBe(false);
  });
  it('a resource-level scope covers its granular sub-scopes, not the reverse', () => {
    expect(isScopeCovered(res(`patient/Observation.rs?category=${LAB}`), list('patient/Observation.rs'))).toBe(true);
    expect(isScopeCovered(res('patient/Observation.rs'), list(`patient/Observation.rs?category=${LAB}`))).toBe(false);
    expect(isScopeCovered(res(`patient/Observation.rs?category=${LAB}&status=final`), list(`patient/Observation.rs?category=${LAB},${VITALS}`))).toBe(true);
    expect(isScopeCovered(res(`patient/Observation.rs?category=${LAB},${VITALS}`), list(`patient/Observation.rs?category=${LAB}`))).toBe(false);
  });
});

describe('intersectScopes: what a client may be granted (docs/CONFORMANCE.md #103)', () => {
  it('keeps requested scopes the registration allows, exactly as written', () => {
    const granted = intersectScopes(
      list('openid fhirUser launch/patient offline_access patient/Observation.read'),
      list('openid fhirUser launch/patient patient/*.cruds'),
    );
    expect(fmt(granted)).toEqual(['openid', 'fhirUser', 'launch/patient', 'patient/Observation.read']);
  });
  it('drops non-resource scopes that are not registered', () => {
    expect(fmt(intersectScopes(list('offline_access launch'), list('online_access')))).toEqual([]);
  });
  it('cuts a wildcard request down to the allowed types', () => {
    const granted = intersectScopes(list('patient/*.rs'), list('patient/Observation.rs patient/Condition.read'));
    expect(fmt(granted)).toEqual(['patient/Observation.rs', 'patient/Condition.rs']);
  });
  it('cuts a request down to the allowed letters, answering v1 in v1 when v1 can say it (docs/CONFORMANCE.md #94)', () => {
    expect(fmt(intersectScopes(list('patient/Observation.*'), list('patient/*.read')))).toEqual(['patient/Observation.read']);
    expect(fmt(intersectScopes(list('patient/Observation.*'), list('patient/*.r')))).toEqual(['patient/Observation.r']);
    expect(fmt(intersectScopes(list('patient/Observation.cruds'), list('patient/*.read')))).toEqual(['patient/Observation.rs']);
  });
  it('treats v1 and v2 forms as equivalent', () => {
    expect(fmt(intersectScopes(list('patient/Observation.rs'), list('patient/Observation.read')))).toEqual(['patient/Observation.rs']);
    expect(fmt(intersectScopes(list('user/*.read'), list('user/*.rs')))).toEqual(['user/*.read']);
  });
  it('grants only granular sub-scopes when only those are allowed (docs/CONFORMANCE.md N16)', () => {
    const granted = intersectScopes(
      list('patient/Condition.rs patient/Observation.rs patient/Patient.rs'),
      list(`patient/Observation.rs?category=${LAB} patient/Observation.rs?category=${VITALS} patient/Patient.rs`),
    );
    expect(fmt(granted)).toEqual([`patient/Observation.rs?category=${LAB}`, `patient/Observation.rs?category=${VITALS}`, 'patient/Patient.rs']);
  });
  it('keeps a granular request when the whole type is allowed', () => {
    expect(fmt(intersectScopes(list(`patient/Observation.rs?category=${LAB}`), list('patient/*.rs')))).toEqual([`patient/Observation.rs?category=${LAB}`]);
  });
  it('ANDs two granular constraints and drops disjoint ones', () => {
    expect(fmt(intersectScopes(list(`user/Observation.rs?category=${LAB},${VITALS}`), list(`user/Observation.rs?category=${LAB}&status=final`)))).toEqual([
      `user/Observation.rs?category=${LAB}&status=final`,
    ]);
    expect(fmt(intersectScopes(list(`user/Observation.rs?category=${LAB}`), list(`user/Observation.rs?category=${VITALS}`)))).toEqual([]);
  });
  it('never crosses contexts', () => {
    expect(fmt(intersectScopes(list('patient/Observation.rs system/*.rs'), list('user/*.cruds')))).toEqual([]);
  });
  it('drops derived scopes already covered by another grant', () => {
    const granted = intersectScopes(list('patient/*.rs'), list('patient/Observation.rs patient/*.rs'));
    expect(fmt(granted)).toEqual(['patient/*.rs']);
  });
  it('can grant nothing, which is legal', () => {
    expect(intersectScopes(list('patient/*.cruds'), [])).toEqual([]);
  });
});

describe('narrowScopes: refresh with a narrower scope (docs/CONFORMANCE.md #177)', () => {
  const original = list(`openid fhirUser offline_access patient/*.read patient/Observation.rs?category=${LAB}`);
  it('accepts a subset, including v2 letters of a v1 grant and granular sub-scopes', () => {
    const r = narrowScopes(original, list(`patient/Condition.rs patient/Observation.r?category=${LAB} openid`));
    expect(r.ok).toBe(true);
    if (r.ok) expect(fmt(r.scopes)).toEqual(['patient/Condition.rs', `patient/Observation.r?category=${LAB}`, 'openid']);
  });
  it('refuses a wider scope and names what is not covered', () => {
    const r = narrowScopes(original, list('patient/Observation.rs patient/Observation.cruds user/Patient.rs launch'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(fmt(r.uncovered)).toEqual(['patient/Observation.cruds', 'user/Patient.rs', 'launch']);
  });
  it('accepts an empty request', () => {
    expect(narrowScopes(original, [])).toEqual({ ok: true, scopes: [] });
  });
});

describe('explainScope: consent-screen text', () => {
  it.each([
    [`patient/Observation.rs?category=${LAB}`, "Read and search this patient's laboratory Observations."],
    [`patient/Observation.rs?category=${VITALS}`, "Read and search this patient's vital-sign Observations."],
    ['patient/Observation.read', "Read and search this patient's Observations."],
    ['patient/Observation.write', "Create, update and delete this patient's Observations."],
    ['patient/Observation.cruds', "Create, read, update, delete and search this patient's Observations."],
    ['patient/Patient.r', "Read this patient's own Patient record."],
    ['patient/AllergyIntolerance.s', "Search this patient's AllergyIntolerances."],
    ['patient/ImagingStudy.rs', "Read and search this patient's ImagingStudies."],
    ['patient/*.rs', "Read and search this patient's data of every resource type (including types added later)."],
    ['user/Observation.rs', 'Read and search Observations the signed-in user can access, for any of their patients.'],
    [
      'user/*.cruds',
      'Create, read, update, delete and search all data of every resource type (including types added later) the signed-in user can access, for any of their patients.',
    ],
    ['system/*.read', 'Read and search all data of every resource type (including types added later) this client is pre-authorised for, with no user present.'],
    [
      `patient/Observation.rs?code=http://loinc.org|1234-5,http://loinc.org|999-9&status=final`,
      "Read and search this patient's Observations, only those where code is http://loinc.org|1234-5 or http://loinc.org|999-9 and status is final.",
    ],
  ])('%s', (text, sentence) => {
    expect(explainScope(ok(text))).toBe(sentence);
  });
  it.each(['openid', 'fhirUser', 'profile', 'launch', 'launch/patient', 'launch/encounter', 'launch/imagingstudy', 'offline_access', 'online_access'])(
    'explains %s',
    (text) => {
      expect(explainScope(ok(text))).toMatch(/^[A-Z].+\.$/);
    },
  );
  it('says what the refresh scopes mean', () => {
    expect(explainScope(ok('offline_access'))).toMatch(/after the user closes the app/);
    expect(explainScope(ok('launch/imagingstudy'))).toMatch(/ImagingStudy/);
  });
});
