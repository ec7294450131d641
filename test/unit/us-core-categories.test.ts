/**
 * The consent screen's category choices (lib/interaction/us-core-categories.json) are exactly what
 * scripts/us-core-categories.ts derives from the US Core 6.1.0 package, include every category ONC
 * (g)(10) requires (docs/CONFORMANCE.md #100), parse as granular scopes, and cover every category the
 * synthetic data uses: a scope granted for a resource's category lets the FHIR policy see it.
 */
import { describe, expect, it } from 'vitest';
import type { Condition, Observation, Resource } from '@medplum/fhirtypes';
import { deriveUsCoreCategories } from '../../scripts/us-core-categories';
import checkedIn from '../../lib/interaction/us-core-categories.json';
import { buildConsentModel, CATEGORY_OPTIONS, grantedScopeFrom, parseConsentForm } from '../../lib/interaction/consent';
import { explainScope, parseScopeString } from '../../lib/smart/scopes';
import { compileAccessPolicy } from '../../lib/smart/access-policy';
import { matchesGranular } from '../../lib/fhir/access';
import { indexResource } from '../../lib/fhir/indexer';
import { generatePatient, generateRoster } from '../../lib/synthetic';

const OBS = 'http://terminology.hl7.org/CodeSystem/observation-category';
const COND = 'http://terminology.hl7.org/CodeSystem/condition-category';
const US_CORE_COND = 'http://hl7.org/fhir/us/core/CodeSystem/condition-category';
const US_CORE = 'http://hl7.org/fhir/us/core/CodeSystem/us-core-category';

const values = (type: string): string[] => (CATEGORY_OPTIONS[type] ?? []).map((c) => c.value);

describe('US Core categories on the consent screen', () => {
  it('are what the package derives (the checked-in file is not stale)', () => {
    expect(checkedIn).toEqual(JSON.parse(JSON.stringify(deriveUsCoreCategories())));
    expect(values('Observation')).toEqual(checkedIn.Observation.map((c) => c.value));
    expect(values('Condition')).toEqual(checkedIn.Condition.map((c) => c.value));
  });

  it('include every category docs/CONFORMANCE.md #100 lists, health-concern in US Core condition-category', () => {
    expect(values('Observation')).toEqual(
      expect.arrayContaining([`${OBS}|laboratory`, `${OBS}|social-history`, `${OBS}|vital-signs`, `${OBS}|survey`, `${OBS}|procedure`, `${US_CORE}|sdoh`]),
    );
    expect(values('Condition')).toEqual(expect.arrayContaining([`${COND}|encounter-diagnosis`, `${COND}|problem-list-item`, `${US_CORE_COND}|health-concern`]));
    expect(values('Condition')).not.toContain(`${US_CORE}|health-concern`);
    for (const c of [...(CATEGORY_OPTIONS.Observation ?? []), ...(CATEGORY_OPTIONS.Condition ?? [])]) expect(c.label.length, c.value).toBeGreaterThan(2);
  });

  it('each parses with the granular scope parser as a category query, for v2 and for a v1 scope narrowed on consent', () => {
    for (const type of ['Observation', 'Condition']) {
      for (const value of values(type)) {
        const scope = `patient/${type}.rs?category=${value}`;
        const { scopes, errors } = parseScopeString(scope);
        expect(errors, scope).toEqual([]);
        expect(scopes[0]).toMatchObject({ kind: 'resource', resourceType: type, query: { category: [value] } });
        // The consent and access-management screens explain it in words, not as a raw query.
        const parsed = scopes[0];
        if (parsed) expect(explainScope(parsed), scope).not.toMatch(/only those where/);
        const model = buildConsentModel(`patient/${type}.read`);
        const granted = grantedScopeFrom(
          `patient/${type}.read`,
          parseConsentForm(
            new URLSearchParams([
              ['keep.0', 'on'],
              ['mode.0', 'categories'],
              ['cat.0', value],
            ]),
            model,
          ),
        );
        expect(granted).toBe(scope);
      }
    }
  });

  it('cover every Observation and Condition category the synthetic data uses, and the granted scope lets the policy see that resource', () => {
    const resources: Resource[] = [];
    for (let i = 0; i < 6; i++) resources.push(...generatePatient(i, { seed: 42, anchorDate: '2025-06-01' }).resources);
    for (const item of generateRoster({ anchorDate: '2025-06-01' })) resources.push(...item.resources);
    const used = new Map<string, Set<string>>([
      ['Observation', new Set()],
      ['Condition', new Set()],
    ]);
    for (const r of resources) {
      if (r.resourceType !== 'Observation' && r.resourceType !== 'Condition') continue;
      const offered = values(r.resourceType);
      const codings = ((r as Observation | Condition).category ?? []).flatMap((c) => c.coding ?? []);
      const matching = codings.map((c) => `${c.system}|${c.code}`).filter((v) => offered.includes(v));
      for (const c of codings) used.get(r.resourceType)?.add(`${c.system}|${c.code}`);
      expect(matching.length, `${r.resourceType}/${r.id} has a category offered on the consent screen`).toBeGreaterThan(0);
      const patientId = ((r as Observation).subject?.reference ?? '').replace('Patient/', '');
      const policy = compileAccessPolicy(parseScopeString(`patient/${r.resourceType}.rs?category=${matching[0]}`).scopes, { patientId });
      const d = policy.decide('read', r.resourceType);
      expect(d.allowed).toBe(true);
      if (d.allowed) expect(matchesGranular(indexResource(r), r, d), `${r.resourceType}/${r.id} under ${matching[0]}`).toBe(true);
    }
    expect(used.get('Observation')?.size).toBeGreaterThanOrEqual(4);
    expect(used.get('Condition')?.size).toBeGreaterThanOrEqual(2);
    for (const [type, codes] of used)
      for (const v of codes)
        if (v.startsWith(OBS) || v.startsWith(COND) || v.startsWith(US_CORE)) expect(values(type), `${type} category ${v} used by the data`).toContain(v);
  });
});
