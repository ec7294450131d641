import { describe, expect, it } from 'vitest';
import { ageInYears } from './ehr-frame';

describe('the EHR banner age', () => {
  const now = new Date('2026-03-15T12:00:00Z');

  it('counts whole years, turning on the birthday', () => {
    expect(ageInYears('1980-03-15', now)).toBe(46);
    expect(ageInYears('1980-03-16', now)).toBe(45);
    expect(ageInYears('1980-02-29', now)).toBe(46);
    expect(ageInYears('2026-03-15', now)).toBe(0);
  });

  it('reads partial FHIR dates from their first day, and nothing from what is not a date', () => {
    expect(ageInYears('1980', now)).toBe(46);
    expect(ageInYears('1980-04', now)).toBe(45);
    expect(ageInYears(null, now)).toBeNull();
    expect(ageInYears('', now)).toBeNull();
    expect(ageInYears('unknown', now)).toBeNull();
    expect(ageInYears('1980-02-30', now)).toBeNull();
  });
});
