import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FHIR_ID_PATTERN, FHIR_ID_SOURCE, isFhirId, referencePattern } from '../../lib/fhir-id';

describe('FHIR id (FHIR R4 §datatypes id)', () => {
  it('accepts 1 to 64 of A-Z a-z 0-9 - .', () => {
    for (const id of ['a', 'patient-1', 'Z.9-x', 'A'.repeat(64), '0', '-.']) expect(isFhirId(id), id).toBe(true);
  });

  it('refuses the empty string, 65 characters and anything outside the alphabet', () => {
    for (const id of ['', 'A'.repeat(65), 'a_b', 'a/b', 'a b', 'é', 'a\nb', 'a%2Fb', '../x', 'a:b']) expect(isFhirId(id), JSON.stringify(id)).toBe(false);
  });

  it('is anchored on both ends', () => {
    expect(FHIR_ID_PATTERN.test('ok\nbad id')).toBe(false);
    expect(new RegExp(`^${FHIR_ID_SOURCE}$`).source).toBe(FHIR_ID_PATTERN.source);
  });

  it('referencePattern captures type and id, only for the listed types', () => {
    const persons = referencePattern(['Patient', 'Practitioner']);
    expect(persons.exec('Patient/p-1')?.slice(1)).toEqual(['Patient', 'p-1']);
    expect(persons.test('Encounter/e-1')).toBe(false);
    expect(persons.test('PatientX/p-1')).toBe(false);
    expect(persons.test('Patient/p_1')).toBe(false);
    expect(persons.test(`Patient/${'a'.repeat(65)}`)).toBe(false);
    const any = referencePattern();
    expect(any.exec('Observation/o.1')?.slice(1)).toEqual(['Observation', 'o.1']);
    expect(any.test('observation/o.1')).toBe(false);
    expect(any.test('Observation/o.1/_history/2')).toBe(false);
  });
});

describe('one written-out id grammar', () => {
  // The grammar lives in lib/fhir-id.ts alone; every other module composes FHIR_ID_SOURCE.
  it('no other lib/ module spells out the id character class with its 1-64 length', () => {
    const root = join(import.meta.dirname, '..', '..');
    const copies: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (name === 'generated' || name === 'node_modules') continue;
        if (statSync(path).isDirectory()) walk(path);
        else if (/\.(ts|tsx|mts)$/.test(name) && !/^fhir-id\.ts$/.test(name)) {
          if (/A-Za-z0-9\\?-\\?\.?\]\{1,64\}/.test(readFileSync(path, 'utf8'))) copies.push(relative(root, path));
        }
      }
    };
    for (const dir of ['lib', 'app']) walk(join(root, dir));
    expect(copies).toEqual([]);
  });
});
