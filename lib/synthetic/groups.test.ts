import { describe, expect, it } from 'vitest';
import type { Group } from '@medplum/fhirtypes';
import { ALL_PATIENTS_GROUP_ID, conditionGroupId, generateDataset, generatePatient } from './index';

const ANCHOR = '2026-06-01';

describe('Groups of the dataset (Bulk Data group-level export)', () => {
  it('holds every patient in group-all and each patient with a chronic problem in that condition’s Group', () => {
    const items = [...generateDataset({ seed: 3, patients: 6, anchorDate: ANCHOR, includeRoster: false })];
    const last = items[items.length - 1]!;
    expect(last.kind).toBe('groups');
    const groups = (last.kind === 'groups' ? last.resources : []) as Group[];
    const all = groups.find((g) => g.id === ALL_PATIENTS_GROUP_ID)!;
    const patients = items.flatMap((i) => (i.kind === 'patient' ? [`Patient/${i.record.patient.id}`] : []));
    expect(all.member?.map((m) => m.entity.reference)).toEqual(patients);
    expect(all.quantity).toBe(6);
    for (const g of groups) expect(g.member?.length).toBe(g.quantity);
  });

  it('a cohort built around a condition puts every patient in its Group', () => {
    const items = [...generateDataset({ seed: 4, patients: 3, anchorDate: ANCHOR, includeRoster: false, condition: 'asthma' })];
    const last = items[items.length - 1]!;
    const groups = (last.kind === 'groups' ? last.resources : []) as Group[];
    const asthma = groups.find((g) => g.id === conditionGroupId('asthma'))!;
    expect(asthma.member?.map((m) => m.entity.reference)).toEqual(
      [0, 1, 2].map((i) => `Patient/${generatePatient(i, { seed: 4, anchorDate: ANCHOR, condition: 'asthma' }).patient.id}`),
    );
    expect(asthma.code?.coding?.[0]?.code).toBe('195967001');
  });
});
