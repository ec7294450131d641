import type { Observation, QuestionnaireResponse } from '@medplum/fhirtypes';
import type { Chart, SmokingHistory, Visit } from './chart';
import { DATA_ABSENT, OBSERVATION_CATEGORY, PROFILE, SYSTEM, concept, coding, loinc, sct } from './codes';
import type { Code } from './codes';
import { toDateTime } from './dates';
import { recordPhq9Response } from './questionnaires';
import { HVS_PANEL } from './screening-forms';

const SMOKING_CODE = loinc('72166-2', 'Tobacco smoking status');
const SMOKING_VALUE: Record<SmokingHistory, Code> = {
  never: sct('266919005', 'Never smoked tobacco (finding)'),
  former: sct('8517006', 'Ex-smoker (finding)'),
  current: sct('449868002', 'Smokes tobacco daily (finding)'),
  unknown: sct('266927001', 'Tobacco smoking consumption unknown (finding)'),
};

export { HVS_ANSWER, HVS_ITEM } from './screening-forms';
const PHQ9 = loinc('44261-6', 'Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]');
const PHQ2 = loinc('55758-7', 'Patient Health Questionnaire 2 item (PHQ-2) total score [Reported]');
const PREGNANCY_STATUS = loinc('82810-3', 'Pregnancy status');
export const PREGNANT = sct('77386006', 'Pregnant (finding)');
export const NOT_PREGNANT = sct('60001007', 'Not pregnant (finding)');

/** An observation taken at a visit by its practitioner: the fields every screening and social-history item shares. */
export function visitObservation(chart: Chart, visit: Visit, profile: string, code: Code, categories: readonly Code[], minute: number): Observation {
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
  const obs = visitObservation(chart, visit, PROFILE.smokingStatus, SMOKING_CODE, [OBSERVATION_CATEGORY.socialHistory], visit.start + 10);
  obs.issued = toDateTime(visit.day, visit.start + 11);
  obs.valueCodeableConcept = concept(SMOKING_VALUE[status]);
  return chart.add(obs, visit);
}

/**
 * One Hunger Vital Sign item (US Core Screening and Assessment, SDOH), derived from the
 * QuestionnaireResponse that holds the same answer; `undefined` answer = declined.
 */
export function recordFoodInsecurityItem(chart: Chart, visit: Visit, item: Code, answer: Code | undefined, from?: QuestionnaireResponse): Observation {
  const obs = visitObservation(chart, visit, PROFILE.screeningAssessment, item, [OBSERVATION_CATEGORY.survey, OBSERVATION_CATEGORY.sdoh], visit.start + 8);
  obs.performer = [chart.subject];
  if (from) obs.derivedFrom = [{ reference: `QuestionnaireResponse/${from.id ?? ''}` }];
  if (answer) obs.valueCodeableConcept = concept(answer);
  else obs.dataAbsentReason = concept(DATA_ABSENT.askedDeclined);
  return chart.add(obs, visit);
}

/** The Hunger Vital Sign panel: its two item Observations as members, the form they come from. */
export function recordFoodInsecurityPanel(chart: Chart, visit: Visit, items: readonly Observation[], from: QuestionnaireResponse): Observation {
  const obs = visitObservation(chart, visit, PROFILE.screeningAssessment, HVS_PANEL, [OBSERVATION_CATEGORY.survey, OBSERVATION_CATEGORY.sdoh], visit.start + 8);
  obs.performer = [chart.subject];
  obs.hasMember = items.map((o) => ({ reference: `Observation/${o.id ?? ''}` }));
  obs.derivedFrom = [{ reference: `QuestionnaireResponse/${from.id ?? ''}` }];
  return chart.add(obs, visit);
}

/** PHQ-2 or PHQ-9 total score; a PHQ-9 total is derived from the QuestionnaireResponse with its item answers. */
export function recordPhq(chart: Chart, visit: Visit, kind: 'phq2' | 'phq9', score: number): Observation {
  const from = kind === 'phq9' ? recordPhq9Response(chart, visit, score, visit.start + 9) : undefined;
  const obs = visitObservation(chart, visit, PROFILE.screeningAssessment, kind === 'phq2' ? PHQ2 : PHQ9, [OBSERVATION_CATEGORY.survey], visit.start + 9);
  if (from) obs.derivedFrom = [{ reference: `QuestionnaireResponse/${from.id ?? ''}` }];
  obs.valueQuantity = { value: Math.round(score), unit: '{score}', system: SYSTEM.ucum, code: '{score}' };
  return chart.add(obs, visit);
}

/** US Core Pregnancy Status observation. */
export function recordPregnancyStatus(chart: Chart, visit: Visit, pregnant: boolean): Observation {
  const obs = visitObservation(chart, visit, PROFILE.pregnancyStatus, PREGNANCY_STATUS, [OBSERVATION_CATEGORY.socialHistory], visit.start + 7);
  obs.valueCodeableConcept = concept(pregnant ? PREGNANT : NOT_PREGNANT);
  return chart.add(obs, visit);
}
