import type { Resource } from '@medplum/fhirtypes';
import type { Chart, Visit } from './chart';
import { toDate } from './dates';

function line(r: Resource): string | undefined {
  if (r.resourceType === 'Observation') {
    const name = r.code?.text ?? 'Observation';
    if (r.component && r.component.length >= 2) {
      const [a, b] = r.component;
      return `${name}: ${a?.valueQuantity?.value ?? '?'}/${b?.valueQuantity?.value ?? '?'} mmHg`;
    }
    if (r.valueQuantity) return `${name}: ${r.valueQuantity.value ?? ''} ${r.valueQuantity.unit ?? ''}`.trimEnd();
    if (r.valueCodeableConcept) return `${name}: ${r.valueCodeableConcept.text ?? ''}`;
    return undefined;
  }
  return undefined;
}

/**
 * Writes the progress/consult/discharge note of a visit from what the visit produced, so the
 * note never contradicts the structured data (same vitals, same diagnoses, same prescriptions).
 */
export function composeNote(chart: Chart, visit: Visit, title: string, reason: string, extra: readonly string[] = []): string {
  const age = Math.floor(chart.ageYears(visit.day));
  const ageText = age >= 2 ? `${age}-year-old` : `${Math.max(0, Math.floor(chart.ageMonths(visit.day)))}-month-old`;
  const observations: string[] = [];
  const diagnoses: string[] = [];
  const medications: string[] = [];
  const procedures: string[] = [];
  const vaccines: string[] = [];
  for (const r of visit.produced) {
    if (r.resourceType === 'Observation') {
      const l = line(r);
      if (l) observations.push(l);
    } else if (r.resourceType === 'Condition') diagnoses.push(r.code?.text ?? 'Condition');
    else if (r.resourceType === 'MedicationRequest')
      medications.push(`${r.medicationReference?.display ?? 'medication'}: ${r.dosageInstruction?.[0]?.text ?? ''}`);
    else if (r.resourceType === 'Procedure') procedures.push(r.code?.text ?? 'Procedure');
    else if (r.resourceType === 'Immunization') vaccines.push(r.vaccineCode?.text ?? 'vaccine');
  }
  const parts = [
    title.toUpperCase(),
    `Date of service: ${toDate(visit.day)}`,
    `Clinician: Dr. ${visit.practitioner.given} ${visit.practitioner.family}`,
    '',
    `SUBJECTIVE: ${chart.person.displayName} is a ${ageText} ${chart.person.sex} seen for ${reason}.`,
    ...extra,
    '',
    'OBJECTIVE:',
    ...(observations.length ? observations.map((o) => `- ${o}`) : ['- No measurements recorded.']),
    '',
    'ASSESSMENT:',
    ...(diagnoses.length ? diagnoses.map((d) => `- ${d}`) : ['- Stable; no new problems identified.']),
    '',
    'PLAN:',
    ...medications.map((m) => `- ${m}`),
    ...procedures.map((p) => `- Performed: ${p}`),
    ...vaccines.map((v) => `- Vaccine given: ${v}`),
    '- Return to clinic as scheduled or sooner if symptoms worsen.',
  ];
  return parts.join('\n') + '\n';
}
