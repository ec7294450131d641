import type { Element, QuestionnaireResponse, QuestionnaireResponseItem } from '@medplum/fhirtypes';
import type { Chart, Visit } from './chart';
import { PROFILE, SYSTEM, coding } from './codes';
import type { Code } from './codes';
import { toDateTime } from './dates';
import { HVS_ITEM, PHQ9_ITEMS, PHQ9_TOTAL, PHQ_ANSWER, QUESTIONNAIRE } from './screening-forms';

function response(chart: Chart, visit: Visit, which: keyof typeof QUESTIONNAIRE, minute: number, item: QuestionnaireResponseItem[]): QuestionnaireResponse {
  const q = QUESTIONNAIRE[which];
  const id = chart.id('qr');
  // `_questionnaire` holds the extensions of the canonical (FHIR R4 §json: primitive extensions).
  const qr: QuestionnaireResponse & { _questionnaire: Element } = {
    resourceType: 'QuestionnaireResponse',
    id,
    meta: { profile: [PROFILE.questionnaireResponse] },
    identifier: { system: SYSTEM.formResponse, value: id },
    questionnaire: `${q.url}|${q.version}`,
    // The form's title, for a reader that cannot resolve the canonical (US Core 6.1 §StructureDefinition-us-core-questionnaireresponse).
    _questionnaire: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/display', valueString: q.title }] },
    status: 'completed',
    subject: chart.subject,
    encounter: visit.ref,
    authored: toDateTime(visit.day, minute),
    // Self-reported: the patient fills the form in the waiting room.
    author: chart.subject,
    source: chart.subject,
    item,
  };
  return chart.add(qr, visit);
}

/** PHQ-9 answers whose scores add up to `total` (0–27), the highest-loading symptoms first. */
export function phq9Scores(total: number): number[] {
  const t = Math.max(0, Math.min(27, Math.round(total)));
  const base = Math.floor(t / PHQ9_ITEMS.length);
  const extra = t % PHQ9_ITEMS.length;
  return PHQ9_ITEMS.map((_, i) => base + (i < extra ? 1 : 0));
}

/** A completed PHQ-9 whose item answers add up to the total score the Observation records. */
export function recordPhq9Response(chart: Chart, visit: Visit, total: number, minute: number): QuestionnaireResponse {
  const scores = phq9Scores(total);
  const items: QuestionnaireResponseItem[] = PHQ9_ITEMS.map((c, i) => ({
    linkId: c.code,
    text: c.display,
    answer: [{ valueCoding: coding(PHQ_ANSWER[scores[i] ?? 0] ?? PHQ_ANSWER[0]) }],
  }));
  items.push({ linkId: PHQ9_TOTAL.code, text: 'Total score', answer: [{ valueInteger: scores.reduce((a, b) => a + b, 0) }] });
  return response(chart, visit, 'phq9', minute, items);
}

/** A completed Hunger Vital Sign with the two answers its Observations record. */
export function recordHvsResponse(chart: Chart, visit: Visit, worried: Code, ranOut: Code, minute: number): QuestionnaireResponse {
  return response(chart, visit, 'hvs', minute, [
    { linkId: HVS_ITEM.worried.code, text: HVS_ITEM.worried.display, answer: [{ valueCoding: coding(worried) }] },
    { linkId: HVS_ITEM.ranOut.code, text: HVS_ITEM.ranOut.display, answer: [{ valueCoding: coding(ranOut) }] },
  ]);
}
