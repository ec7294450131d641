import { describe, expect, it } from 'vitest';
import { generateDataset, generatePatient, generateRoster, generateSharedResources } from './index';
import type { DatasetItem } from './index';
import { FHIR_ID_PATTERN as FHIR_ID } from '../fhir-id';

const ANCHOR = '2025-06-01';

function cohortJson(seed: number, n: number, anchorDate = ANCHOR): string {
  const records = [];
  for (let i = 0; i < n; i++) records.push(generatePatient(i, { seed, anchorDate }));
  return JSON.stringify(records);
}

describe('determinism', () => {
  it('gives byte-identical output for the same seed and anchor date', () => {
    expect(cohortJson(7, 40)).toBe(cohortJson(7, 40));
    expect(JSON.stringify([...generateRoster({ anchorDate: ANCHOR })])).toBe(JSON.stringify([...generateRoster({ anchorDate: ANCHOR })]));
    expect(JSON.stringify(generateSharedResources())).toBe(JSON.stringify(generateSharedResources()));
  });

  it('gives different patients for different seeds', () => {
    const a = generatePatient(0, { seed: 1, anchorDate: ANCHOR });
    const b = generatePatient(0, { seed: 2, anchorDate: ANCHOR });
    expect(JSON.stringify(a.patient.name)).not.toBe(JSON.stringify(b.patient.name));
    expect(cohortJson(1, 10)).not.toBe(cohortJson(2, 10));
  });

  it('moves every date with the anchor date and nothing else', () => {
    const a = generatePatient(3, { seed: 5, anchorDate: '2025-06-01' });
    const b = generatePatient(3, { seed: 5, anchorDate: '2026-06-01' });
    expect(a.patient.name).toEqual(b.patient.name);
    expect(a.resources.length).toBe(b.resources.length);
    expect(Number(b.patient.birthDate?.slice(0, 4)) - Number(a.patient.birthDate?.slice(0, 4))).toBe(1);
  });

  it('keeps patient i the same whatever the cohort size, and streams shared resources first', () => {
    const collect = (patients: number): DatasetItem[] => [...generateDataset({ seed: 11, patients, anchorDate: ANCHOR, includeRoster: false })];
    const small = collect(3);
    const large = collect(8);
    expect(small[0]?.kind).toBe('shared');
    expect(small.length).toBe(5);
    expect(large.length).toBe(10);
    expect(large[9]?.kind).toBe('groups');
    expect(JSON.stringify(large.slice(0, 4))).toBe(JSON.stringify(small.slice(0, 4)));
  });

  it('appends the roster by default and validates its size bounds', () => {
    const items = [...generateDataset({ seed: 1, patients: 1, anchorDate: ANCHOR })];
    expect(items.filter((i) => i.kind === 'patient' && i.roster).length).toBeGreaterThan(10);
    expect(() => generateDataset({ seed: 1, patients: 0, anchorDate: ANCHOR }).next()).toThrow(RangeError);
    expect(() => generateDataset({ seed: 1, patients: 10_001, anchorDate: ANCHOR }).next()).toThrow(RangeError);
    expect(() => generatePatient(0, { seed: 1, anchorDate: '2025-02-30' })).toThrow(RangeError);
    expect(() => generatePatient(0, { seed: 1, anchorDate: ANCHOR, condition: 'lycanthropy' })).toThrow(RangeError);
    expect(() => generatePatient(0, { seed: -1, anchorDate: ANCHOR })).toThrow(RangeError);
  });

  it('uses valid, unique FHIR ids', () => {
    const seen = new Set<string>();
    const all = [...generateSharedResources()];
    for (let i = 0; i < 30; i++) all.push(...generatePatient(i, { seed: 4_000_000_000, anchorDate: ANCHOR }).resources);
    for (const record of generateRoster({ anchorDate: ANCHOR })) all.push(...record.resources);
    for (const r of all) {
      expect(r.id).toMatch(FHIR_ID);
      const key = `${r.resourceType}/${r.id ?? ''}`;
      expect(seen.has(key), key).toBe(false);
      seen.add(key);
    }
  });
});
