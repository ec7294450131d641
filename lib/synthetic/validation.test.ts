import type { Observation, Patient, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { CONDITION_KEYS, generateDataset, generatePatient } from './index';
import { PROFILE } from './codes';
import { createProfileCoverage } from './testing/must-support';
import { createValidator } from './testing/us-core-validator';

const ANCHOR = '2025-06-01';
const COHORT_SIZE = 200;

const validator = createValidator();

/**
 * Profiles of the US Core 6.1.0 package the data does not claim, each with the reason it cannot
 * apply: none.
 */
const PROFILES_NOT_APPLICABLE: Record<string, string> = {};

/** Must-support elements (`profile element-id`) the data cannot fill in, each with the reason. */
const MUST_SUPPORT_NOT_APPLICABLE: Record<string, string> = {
  'us-core-documentreference DocumentReference.content.attachment.url':
    'invariant us-core-6 asks for url or data: every note is sent inline as data, with no Binary to point to',
  'us-core-questionnaireresponse QuestionnaireResponse.item.item': 'the PHQ-9 and Hunger Vital Sign forms have no nested items',
  'us-core-questionnaireresponse QuestionnaireResponse.item.answer.item': 'the PHQ-9 and Hunger Vital Sign forms have no nested items',
  'us-core-questionnaireresponse QuestionnaireResponse.questionnaire.extension:url':
    'us-core-extension-questionnaire-uri locates a form that is not a FHIR Questionnaire; every form here is one',
};

function first<T extends Resource>(resources: readonly Resource[], pred: (r: Resource) => r is T): T {
  const r = resources.find(pred);
  if (!r) throw new Error('fixture not found');
  return structuredClone(r);
}

const sample = generatePatient(0, { seed: 99, anchorDate: ANCHOR, condition: 'hypertension', minAge: 40 }).resources;
const isPatient = (r: Resource): r is Patient => r.resourceType === 'Patient';
const isBp = (r: Resource): r is Observation => r.resourceType === 'Observation' && r.code?.coding?.[0]?.code === '85354-9';
const isWeight = (r: Resource): r is Observation => r.resourceType === 'Observation' && r.code?.coding?.[0]?.code === '29463-7';

describe('US Core 6.1.0 validation', () => {
  it('rejects resources that break base R4, US Core or a required binding (the validator is not a no-op)', () => {
    const robot = first(sample, isPatient);
    (robot as { gender: string }).gender = 'robot';
    expect(validator.validate(robot).join('\n')).toMatch(/administrative-gender/);

    const race = first(sample, isPatient);
    const omb = race.extension?.[0]?.extension?.[0];
    if (omb) omb.valueCoding = { system: 'urn:oid:2.16.840.1.113883.6.238', code: '9999-9', display: 'Martian' };
    expect(validator.validate(race).join('\n')).toMatch(/omb-race-category/);

    const noComponents = first(sample, isBp);
    delete noComponents.component;
    expect(validator.validate(noComponents).length).toBeGreaterThan(0);

    const pounds = first(sample, isWeight);
    if (pounds.valueQuantity) pounds.valueQuantity.code = '[stone_av]';
    expect(validator.validate(pounds).join('\n')).toMatch(/ucum-bodyweight/);

    const noCategory = first(sample, (r): r is Resource => r.resourceType === 'Condition');
    if (noCategory.resourceType === 'Condition') noCategory.category = [{ text: 'misc' }];
    expect(validator.validate(noCategory).length).toBeGreaterThan(0);

    const noSubject = first(sample, (r): r is Resource => r.resourceType === 'Encounter');
    if (noSubject.resourceType === 'Encounter') delete noSubject.subject;
    expect(validator.validate(noSubject).join('\n')).toMatch(/subject/i);

    const badStatus = first(sample, (r): r is Resource => r.resourceType === 'MedicationRequest');
    (badStatus as { status: string }).status = 'taken';
    expect(validator.validate(badStatus).join('\n')).toMatch(/medicationrequest-status/);

    const unknownProfile = first(sample, isPatient);
    unknownProfile.meta = { profile: ['http://example.org/StructureDefinition/nope'] };
    expect(validator.validate(unknownProfile)).toContain('unknown profile http://example.org/StructureDefinition/nope');
  });

  it('sees a profile no resource claims and a must-support element no resource fills in (the coverage check is not vacuous)', () => {
    const occupation = PROFILE.occupation;
    const isOccupation = (r: Resource): r is Observation => r.resourceType === 'Observation' && r.meta?.profile?.[0] === occupation;
    const coverage = createProfileCoverage();
    for (const r of sample) if (!isOccupation(r)) coverage.add(r);
    expect(coverage.unclaimed()).toContain(occupation);
    const noIndustry = first(sample, isOccupation);
    delete noIndustry.component;
    coverage.add(noIndustry);
    expect(coverage.unclaimed()).not.toContain(occupation);
    expect(coverage.missingMustSupport()).toContain('us-core-observation-occupation Observation.component:industry.value[x]');
    const wrongIndustry = first(sample, isOccupation);
    wrongIndustry.component = [{ code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, valueQuantity: { value: 1 } }];
    coverage.add(wrongIndustry);
    expect(coverage.missingMustSupport()).toContain('us-core-observation-occupation Observation.component:industry.value[x]');
    coverage.add(first(sample, isOccupation));
    expect(coverage.missingMustSupport()).not.toContain('us-core-observation-occupation Observation.component:industry.value[x]');
  });

  it('gives the same verdicts as Medplum validateResource({ profile }) on valid and corrupted resources', () => {
    const resources = [...sample, ...generatePatient(1, { seed: 99, anchorDate: ANCHOR, condition: 'pregnancy' }).resources];
    const corrupted = resources.slice(0, 120).map((r) => {
      const c = structuredClone(r) as unknown as Record<string, unknown>;
      if ('status' in c) c.status = 'bogus';
      delete c.subject;
      if ('category' in c) c.category = [{ text: 'uncategorised' }];
      return c as unknown as Resource;
    });
    const changed = corrupted.filter((c, i) => JSON.stringify(c) !== JSON.stringify(resources[i]));
    for (const r of [...resources, ...corrupted]) expect(validator.validate(r)).toEqual(validator.validateReference(r));
    for (const r of resources) expect(validator.validate(r)).toEqual([]);
    for (const r of changed) expect(validator.validate(r).length, `${r.resourceType}/${r.id ?? ''}`).toBeGreaterThan(0);
    expect(changed.length).toBeGreaterThan(100);
    // A few seconds of validation on a quiet machine; generous for a loaded one.
  }, 180_000);

  it(
    `validates every resource of a ${COHORT_SIZE}-patient cohort, one patient per cohort condition, the roster and the shared resources; they claim every profile of the US Core 6.1.0 package and fill in every must-support element`,
    // Several minutes of validation on a loaded machine.
    { timeout: 600_000 },
    () => {
      const failures: string[] = [];
      const profiles = new Set<string>();
      const coverage = createProfileCoverage();
      let count = 0;
      const check = (r: Resource): void => {
        count++;
        coverage.add(r);
        for (const p of r.meta?.profile ?? []) profiles.add(p);
        expect(r.meta?.profile?.length, `${r.resourceType}/${r.id ?? ''} claims no profile`).toBeGreaterThan(0);
        for (const e of validator.validate(r)) if (failures.length < 50) failures.push(`${r.resourceType}/${r.id ?? ''} ${e}`);
      };
      for (const item of generateDataset({ seed: 2025, patients: COHORT_SIZE, anchorDate: ANCHOR, includeRoster: true })) {
        if (item.kind === 'shared') item.resources.forEach(check);
        else if (item.kind === 'patient') item.record.resources.forEach(check);
      }
      CONDITION_KEYS.forEach((condition, i) => generatePatient(i, { seed: 77, anchorDate: ANCHOR, condition }).resources.forEach(check));
      expect(failures).toEqual([]);
      expect(count).toBeGreaterThan(40_000);
      // Every profile the generator knows is exercised by this dataset.
      const generated = Object.values(PROFILE).filter((p) => !/us-core-(race|ethnicity|birthsex)$/.test(p));
      expect(generated.filter((p) => !profiles.has(p))).toEqual([]);
      // Every resource profile of the package (kind resource, derivation constraint) is claimed,
      // and each of its must-support elements is filled in by a resource conforming to it.
      expect(coverage.profiles.length).toBeGreaterThanOrEqual(49);
      expect(coverage.unclaimed()).toEqual(Object.keys(PROFILES_NOT_APPLICABLE).sort());
      expect(coverage.missingMustSupport()).toEqual(Object.keys(MUST_SUPPORT_NOT_APPLICABLE).sort());
    },
  );
});
