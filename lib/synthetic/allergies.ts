import type { AllergyIntolerance } from '@medplum/fhirtypes';
import type { Chart, Visit } from './chart';
import { PROFILE, SYSTEM, concept, sct } from './codes';
import type { Code } from './codes';
import { toDate, toDateTime } from './dates';

interface AllergyDef {
  readonly key: string;
  readonly substance: Code;
  readonly category: 'food' | 'medication' | 'environment';
  readonly reactions: readonly Code[];
  readonly criticality: 'low' | 'high';
  readonly weight: number;
}

const ANAPHYLAXIS = sct('39579001', 'Anaphylaxis (disorder)');
const HIVES = sct('247472004', 'Wheal (finding)');
const RASH = sct('271807003', 'Eruption of skin (disorder)');
const SNEEZING = sct('76067001', 'Sneezing (finding)');
const ITCHY_EYES = sct('703630003', 'Red eye (finding)');
const NAUSEA = sct('422587007', 'Nausea (finding)');
const ITCHING = sct('418290006', 'Itching (finding)');

export const ALLERGIES: readonly AllergyDef[] = [
  {
    key: 'penicillin',
    substance: sct('764146007', 'Penicillin (substance)'),
    category: 'medication',
    reactions: [HIVES, RASH],
    criticality: 'high',
    weight: 8,
  },
  { key: 'sulfonamide', substance: sct('387406002', 'Sulfonamide (substance)'), category: 'medication', reactions: [RASH], criticality: 'low', weight: 3 },
  { key: 'aspirin', substance: sct('387458008', 'Aspirin (substance)'), category: 'medication', reactions: [HIVES], criticality: 'low', weight: 2 },
  { key: 'peanut', substance: sct('762952008', 'Peanut (substance)'), category: 'food', reactions: [ANAPHYLAXIS, HIVES], criticality: 'high', weight: 3 },
  { key: 'egg', substance: sct('102263004', 'Eggs (edible) (substance)'), category: 'food', reactions: [HIVES, NAUSEA], criticality: 'low', weight: 2 },
  { key: 'milk', substance: sct('3718001', "Cow's milk (substance)"), category: 'food', reactions: [NAUSEA], criticality: 'low', weight: 2 },
  {
    key: 'pollen',
    substance: sct('256259004', 'Pollen (substance)'),
    category: 'environment',
    reactions: [SNEEZING, ITCHY_EYES],
    criticality: 'low',
    weight: 8,
  },
  {
    key: 'dustmite',
    substance: sct('260147004', 'House dust mite (substance)'),
    category: 'environment',
    reactions: [SNEEZING],
    criticality: 'low',
    weight: 5,
  },
  { key: 'latex', substance: sct('111088007', 'Latex (substance)'), category: 'environment', reactions: [ITCHING, RASH], criticality: 'low', weight: 2 },
];

/** Records an allergy (US Core AllergyIntolerance) noted at a visit, with its onset and reaction. */
export function recordAllergy(chart: Chart, visit: Visit, def: AllergyDef, onsetDay: number): AllergyIntolerance {
  const severity = def.criticality === 'high' ? 'severe' : chart.rng.pick(['mild', 'moderate'] as const);
  const allergy: AllergyIntolerance = {
    resourceType: 'AllergyIntolerance',
    id: chart.id('alg'),
    meta: { profile: [PROFILE.allergy] },
    clinicalStatus: { coding: [{ system: SYSTEM.allergyClinical, code: 'active', display: 'Active' }] },
    verificationStatus: { coding: [{ system: SYSTEM.allergyVerification, code: 'confirmed', display: 'Confirmed' }] },
    type: 'allergy',
    category: [def.category],
    criticality: def.criticality,
    code: concept(def.substance),
    patient: chart.subject,
    encounter: visit.ref,
    onsetDateTime: toDate(onsetDay),
    recordedDate: toDateTime(visit.day, visit.start + 12),
    recorder: { reference: `Practitioner/${visit.practitioner.id}` },
    reaction: [{ manifestation: def.reactions.map((r) => concept(r)), severity }],
  };
  return chart.add(allergy, visit);
}
