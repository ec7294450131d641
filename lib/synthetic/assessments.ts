import type { Observation } from '@medplum/fhirtypes';
import type { Chart, SmokingHistory, Visit } from './chart';
import { DATA_ABSENT, OBSERVATION_CATEGORY, PROFILE, SYSTEM, concept, coding, loinc, sct } from './codes';
import type { Code } from './codes';
import { toDateTime } from './dates';

const SMOKING_CODE = loinc('72166-2', 'Tobacco smoking status');
const SMOKING_VALUE: Record<SmokingHistory, Code> = {
  never: sct('266919005', 'Never smoked tobacco (finding)'),
  former: sct('8517006', 'Ex-smoker (finding)'),
  current: sct('449868002', 'Smokes tobacco daily (finding)'),
  unknown: sct('266927001', 'Tobacco smoking consumption unknown (finding)'),
};

/** Answers of the Hunger Vital Sign items (LOINC answer list LL4533-5). */
export const HVS_ANSWER = {
  often: loinc('LA28397-0', 'Often true'),
  sometimes: loinc('LA6729-3', 'Sometimes true'),
  never: loinc('LA28398-8', 'Never true'),
} as const;
export const HVS_ITEM = {
  worried: loinc('88122-7', 'Within the past 12 months we worried whether our food would run out before we got money to buy more [U.S. FDA]'),
  ranOut: loinc('88123-5', "Within the past 12 months the food we bought just didn't last and we didn't have money to get more [U.S. FDA]"),
} as const;
const PHQ9 = loinc('44261-6', 'Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]');
const PHQ2 = loinc('55758-7', 'Patient Health Questionnaire 2 item (PHQ-2) total score [Reported]');
const PREGNANCY_STATUS = loinc('82810-3', 'Pregnancy status');
export const PREGNANT = sct('77386006', 'Pregnant (finding)');
export const NOT_PREGNANT = sct('60001007', 'Not pregnant (finding)');

function base(chart: Chart, visit: Visit, profile: string, code: Code, categories: readonly Code[], minute: number): Observation {
  return {
    resourceType: 'Observation',
    id: chart.id('obs'),
    meta: { profile: [profile] },
    status: 'final',
    category: categories.map((c) => ({ coding: [coding(c)], text: c.display })),
    code: concept(code),
    subject: chart.subject,
    encounter: visit.ref,
    effectiveDateTime: toDateTime(visit.day, minute),
    performer: [{ reference: `Practitioner/${visit.practitioner.id}` }],
  };
}

/** US Core Smoking Status observation. */
export function recordSmokingStatus(chart: Chart, visit: Visit, status: SmokingHistory): Observation {
  const obs = base(chart, visit, PROFILE.smokingStatus, SMOKING_CODE, [OBSERVATION_CATEGORY.socialHistory], visit.start + 10);
  obs.issued = toDateTime(visit.day, visit.start + 11);
  obs.valueCodeableConcept = concept(SMOKING_VALUE[status]);
  return chart.add(obs, visit);
}

/** One Hunger Vital Sign item (US Core Screening and Assessment, SDOH); `undefined` answer = declined. */
export function recordFoodInsecurityItem(chart: Chart, visit: Visit, item: Code, answer: Code | undefined): Observation {
  const obs = base(chart, visit, PROFILE.screeningAssessment, item, [OBSERVATION_CATEGORY.survey, OBSERVATION_CATEGORY.sdoh], visit.start + 8);
  obs.performer = [chart.subject];
  if (answer) obs.valueCodeableConcept = concept(answer);
  else obs.dataAbsentReason = concept(DATA_ABSENT.askedDeclined);
  return chart.add(obs, visit);
}

/** PHQ-2 or PHQ-9 total score. */
export function recordPhq(chart: Chart, visit: Visit, kind: 'phq2' | 'phq9', score: number): Observation {
  const obs = base(chart, visit, PROFILE.screeningAssessment, kind === 'phq2' ? PHQ2 : PHQ9, [OBSERVATION_CATEGORY.survey], visit.start + 9);
  obs.valueQuantity = { value: Math.round(score), unit: '{score}', system: SYSTEM.ucum, code: '{score}' };
  return chart.add(obs, visit);
}

/** US Core Pregnancy Status observation. */
export function recordPregnancyStatus(chart: Chart, visit: Visit, pregnant: boolean): Observation {
  const obs = base(chart, visit, PROFILE.pregnancyStatus, PREGNANCY_STATUS, [OBSERVATION_CATEGORY.socialHistory], visit.start + 7);
  obs.valueCodeableConcept = concept(pregnant ? PREGNANT : NOT_PREGNANT);
  return chart.add(obs, visit);
}
