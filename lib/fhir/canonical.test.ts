/**
 * Reference parameters over canonical elements (FHIR R4 search.html#reference, "References to
 * canonical URLs"): which parameters they are, derived from the element types the definitions
 * give, and the index rows a canonical value becomes.
 */
import { describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { readTgz, US_CORE_PACKAGE } from '../synthetic/testing/us-core-validator';
import { allResourceTypes, getTypeDefinition } from './definitions';
import { CANONICAL_TARGET, indexResource } from './indexer';
import { parseFilter } from './search/parse';

describe('canonical reference parameters', () => {
  it('of the US Core 6.1.0 server search parameters, only QuestionnaireResponse.questionnaire names a canonical', () => {
    const file = readTgz(US_CORE_PACKAGE).get('package/CapabilityStatement-us-core-server.json');
    const usCore = JSON.parse(file!.toString('utf8')) as { rest: { resource: { type: string; searchParam?: { name: string; type: string }[] }[] }[] };
    const references = usCore.rest[0]!.resource.flatMap((r) => (r.searchParam ?? []).filter((p) => p.type === 'reference').map((p) => `${r.type}.${p.name}`));
    expect(references.length).toBeGreaterThan(20);
    const canonical = references.filter((name) => {
      const [type, code] = name.split('.') as [string, string];
      return getTypeDefinition(type)?.params.get(code)?.holds.canonical;
    });
    expect(canonical).toEqual(['QuestionnaireResponse.questionnaire']);
    for (const name of references) {
      const [type, code] = name.split('.') as [string, string];
      expect(getTypeDefinition(type)?.params.get(code)?.holds.literal, name).toBe(name !== 'QuestionnaireResponse.questionnaire');
    }
  });

  it('every R4 reference parameter holds literal references, canonicals or (when the path cannot be walked) both', () => {
    const flagged: string[] = [];
    for (const type of allResourceTypes()) {
      for (const p of getTypeDefinition(type)!.params.values()) {
        if (p.type !== 'reference') continue;
        expect(p.holds.literal || p.holds.canonical, `${type}.${p.code}`).toBe(true);
        if (p.holds.canonical) flagged.push(`${type}.${p.code}`);
      }
    }
    expect(flagged).toEqual(
      expect.arrayContaining([
        'CarePlan.instantiates-canonical',
        'Procedure.instantiates-canonical',
        'ServiceRequest.instantiates-canonical',
        'PlanDefinition.definition',
        'ConceptMap.source',
        'MeasureReport.measure',
        'Library.depends-on',
        'StructureDefinition.valueset',
      ]),
    );
    expect(flagged).not.toContain('Observation.patient');
  });

  it('a versioned canonical is indexed with and without its version; a search value is url or url|version', () => {
    const qr = {
      resourceType: 'QuestionnaireResponse',
      id: 'qr-1',
      status: 'completed',
      questionnaire: 'http://example.org/Questionnaire/phq-9|1.0.0',
      subject: { reference: 'Patient/p-1' },
    } as Resource;
    const rows = indexResource(qr).references.filter((r) => r.param === 'questionnaire');
    expect(rows).toEqual([
      { param: 'questionnaire', targetType: CANONICAL_TARGET, targetId: 'http://example.org/Questionnaire/phq-9' },
      { param: 'questionnaire', targetType: CANONICAL_TARGET, targetId: 'http://example.org/Questionnaire/phq-9|1.0.0' },
    ]);
    // A primitive extension on the canonical (the form's display) leaves its rows as they are.
    const withDisplay = {
      ...qr,
      _questionnaire: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/display', valueString: 'PHQ-9' }] },
    } as unknown as Resource;
    expect(indexResource(withDisplay).references.filter((r) => r.param === 'questionnaire')).toEqual(rows);
    const f = parseFilter('QuestionnaireResponse', 'questionnaire', null, ['http://example.org/Questionnaire/phq-9|1.0.0', 'http://example.org/q']);
    expect(f).toMatchObject({ kind: 'reference', values: [], canonicals: ['http://example.org/Questionnaire/phq-9|1.0.0', 'http://example.org/q'] });
    expect(() => parseFilter('QuestionnaireResponse', 'questionnaire', null, ['http://example.org/q|'])).toThrow(/canonical/);
  });
});
