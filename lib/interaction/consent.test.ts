import { describe, expect, it } from 'vitest';
import { isScopeCovered, parseScopeString } from '../smart/scopes';
import { approveAll, buildConsentModel, CATEGORY_OPTIONS, grantedScopeFrom, parseConsentForm } from './consent';

const REQUEST = 'launch/patient openid fhirUser offline_access patient/Patient.rs patient/Observation.rs patient/Condition.rs';

function form(entries: [string, string][]): URLSearchParams {
  return new URLSearchParams(entries);
}

describe('consent model', () => {
  it('explains every scope, marks resource scopes and offline_access removable and warns about offline_access', () => {
    const model = buildConsentModel(REQUEST);
    expect(model.items.map((i) => i.scope)).toEqual(REQUEST.split(' '));
    expect(model.items.filter((i) => i.removable).map((i) => i.scope)).toEqual([
      'offline_access',
      'patient/Patient.rs',
      'patient/Observation.rs',
      'patient/Condition.rs',
    ]);
    expect(model.offlineAccess).toBe(true);
    expect(model.items.every((i) => i.explanation.length > 10)).toBe(true);
  });

  it('offers categories for whole-type Observation and Condition only', () => {
    const model = buildConsentModel(
      'patient/Observation.rs patient/Condition.read patient/Patient.rs patient/Observation.rs?category=laboratory patient/Observation.c',
    );
    const cats = Object.fromEntries(model.items.map((i) => [i.scope, i.categories.length]));
    expect(cats['patient/Observation.rs']).toBe(CATEGORY_OPTIONS.Observation?.length);
    expect(cats['patient/Condition.read']).toBe(CATEGORY_OPTIONS.Condition?.length);
    expect(CATEGORY_OPTIONS.Observation?.length).toBeGreaterThanOrEqual(6);
    expect(CATEGORY_OPTIONS.Condition?.length).toBeGreaterThanOrEqual(3);
    expect(cats['patient/Patient.rs']).toBe(0);
    expect(cats['patient/Observation.rs?category=laboratory']).toBe(0);
    expect(cats['patient/Observation.c']).toBe(0);
  });
});

describe('granted scope', () => {
  const model = buildConsentModel(REQUEST);
  const keyOf = (scope: string) => model.items.find((i) => i.scope === scope)?.key ?? '';

  it('drops unticked resource types and keeps identity, launch and (when ticked) access scopes', () => {
    const choices = parseConsentForm(
      form([
        [`keep.${keyOf('offline_access')}`, 'on'],
        [`keep.${keyOf('patient/Patient.rs')}`, 'on'],
        [`keep.${keyOf('patient/Observation.rs')}`, 'on'],
      ]),
      model,
    );
    expect(grantedScopeFrom(REQUEST, choices)).toBe('launch/patient openid fhirUser offline_access patient/Patient.rs patient/Observation.rs');
  });

  it('offline_access can be declined: the grant then has no offline_access (so no refresh token)', () => {
    const choices = parseConsentForm(form([[`keep.${keyOf('patient/Patient.rs')}`, 'on']]), model);
    expect(grantedScopeFrom(REQUEST, choices)).toBe('launch/patient openid fhirUser patient/Patient.rs');
    expect(grantedScopeFrom(REQUEST, approveAll(model))).toBe(REQUEST);
  });

  it('replaces a whole type by one granular scope per chosen category', () => {
    const obs = keyOf('patient/Observation.rs');
    const choices = parseConsentForm(
      form([
        [`keep.${obs}`, 'on'],
        [`mode.${obs}`, 'categories'],
        [`cat.${obs}`, 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs'],
        [`cat.${obs}`, 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory'],
        [`cat.${obs}`, 'http://evil.example/|not-offered'],
      ]),
      model,
    );
    const granted = grantedScopeFrom(REQUEST, choices).split(' ');
    expect(granted).toContain('patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs');
    expect(granted).toContain('patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory');
    expect(granted.join(' ')).not.toContain('not-offered');
    expect(granted).not.toContain('patient/Condition.rs');
  });

  it('choosing categories with none ticked grants nothing of that type', () => {
    const obs = keyOf('patient/Observation.rs');
    const choices = parseConsentForm(
      form([
        [`keep.${obs}`, 'on'],
        [`mode.${obs}`, 'categories'],
      ]),
      model,
    );
    expect(grantedScopeFrom(REQUEST, choices)).not.toContain('Observation');
  });

  it('never grants more than was requested, whatever the form says', () => {
    const hostile = form([
      ['keep.0', 'on'],
      ['keep.99', 'on'],
      ['keep.4', 'on'],
      ['mode.4', 'categories'],
      ['cat.4', 'x|y'],
    ]);
    const granted = parseScopeString(grantedScopeFrom(REQUEST, parseConsentForm(hostile, model))).scopes;
    const requested = parseScopeString(REQUEST).scopes;
    for (const s of granted) expect(isScopeCovered(s, requested)).toBe(true);
  });

  it('v1 scopes narrowed to categories become v2 granular scopes', () => {
    const req = 'patient/Condition.read';
    const m = buildConsentModel(req);
    const choices = parseConsentForm(
      form([
        ['keep.0', 'on'],
        ['mode.0', 'categories'],
        ['cat.0', 'http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item'],
      ]),
      m,
    );
    expect(grantedScopeFrom(req, choices)).toBe('patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item');
  });
});
