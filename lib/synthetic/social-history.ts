import type { Observation } from '@medplum/fhirtypes';
import { visitObservation } from './assessments';
import type { Chart, Visit } from './chart';
import { OBSERVATION_CATEGORY, PROFILE, SYSTEM, concept, loinc, sct } from './codes';
import type { Code } from './codes';
import { DAYS_PER_YEAR, toDate } from './dates';
import { Rng, hashString, mixSeed } from './random';

const OCCUPATION = loinc('11341-5', 'History of Occupation');
const INDUSTRY = loinc('86188-0', 'History of Occupation industry');
const SEXUAL_ORIENTATION = loinc('76690-7', 'Sexual orientation');
const PREGNANCY_INTENT = loinc('86645-9', 'Pregnancy intention in the next year - Reported');
const COGNITIVE_FUNCTION = loinc('11332-4', 'History of Cognitive Function Narrative');

function odh(code: string, display: string): Code {
  return { system: SYSTEM.odh, code, display };
}
function nullFlavor(code: string, display: string): Code {
  return { system: SYSTEM.nullFlavor, code, display };
}

/**
 * Usual occupations with the industry they are practised in, in the Occupational Data for Health
 * code system US Core binds both to (US Core 6.1 §StructureDefinition-us-core-observation-occupation).
 * ODH is not published in fhir-packages/; these are codes of its published examples.
 */
const JOBS: readonly { occupation: Code; industry: Code; weight: number }[] = [
  {
    occupation: odh('31-1014.00.007136', 'Certified Nursing Assistant (CNA) [Nursing Assistants]'),
    industry: odh('621610.008495', 'Home nursing services'),
    weight: 3,
  },
  {
    occupation: odh('19-1042.00.026469', 'Medical Researcher [Medical Scientists, Except Epidemiologists]'),
    industry: odh('611310.000015', 'Academies, college or university [Colleges, Universities, and Professional Schools]'),
    weight: 2,
  },
];

/** US Core Sexual Orientation value set (SNOMED CT and null flavors), with the weights drawn from. */
const ORIENTATIONS: readonly Code[] = [
  sct('20430005', 'Heterosexual (finding)'),
  sct('38628009', 'Homosexual (finding)'),
  sct('42035005', 'Bisexual (finding)'),
  nullFlavor('OTH', 'other'),
  nullFlavor('UNK', 'unknown'),
  nullFlavor('ASKU', 'asked but unknown'),
];
const ORIENTATION_WEIGHTS = [90, 3.5, 3.5, 0.5, 1, 1.5];

/** The Pregnancy Intent value set (VSAC 2.16.840.1.113762.1.4.1166.22, SNOMED CT US extension). */
export const PREGNANCY_INTENT_VALUE = {
  unsure: sct('454381000124105', 'Not sure of desire to become pregnant (finding)'),
  ambivalent: sct('454391000124108', 'Ambivalent about becoming pregnant (finding)'),
  noDesire: sct('454401000124105', 'No desire to become pregnant (finding)'),
  wants: sct('454411000124108', 'Wants to become pregnant (finding)'),
} as const satisfies Record<string, Code>;

/** Ages (years) of the reproductive-age window pregnancy intent is asked in. */
export const REPRODUCTIVE_AGE = { min: 15, max: 45 } as const;

/**
 * A person's social history and own choices: the stream they are drawn from is seeded by the
 * patient id, so adding them leaves every other draw of the record unchanged.
 */
export class SocialHistory {
  private readonly rng: Rng;
  readonly job: (typeof JOBS)[number];
  /** Age (years) the person started the job and, when retired, stopped it. */
  readonly startAge: number;
  readonly retireAge: number;
  readonly orientation: Code;

  constructor(patientId: string) {
    const rng = new Rng(mixSeed(hashString(patientId), 0x50c1a1));
    this.rng = rng;
    this.job = rng.weighted(
      JOBS,
      JOBS.map((j) => j.weight),
    );
    this.startAge = rng.float(18, 26);
    this.retireAge = rng.float(60, 68);
    this.orientation = rng.weighted(ORIENTATIONS, ORIENTATION_WEIGHTS);
  }

  /**
   * Pregnancy intention at a visit: mostly "wants" when a pregnancy begins within the year after
   * it, drawn from the usual answers otherwise.
   */
  pregnancyIntent(conceivesWithinYear: boolean): Code {
    const v = PREGNANCY_INTENT_VALUE;
    if (conceivesWithinYear) return this.rng.weighted([v.wants, v.ambivalent, v.unsure], [75, 15, 10]);
    return this.rng.weighted([v.noDesire, v.wants, v.ambivalent, v.unsure], [60, 10, 15, 15]);
  }

  /** Whether the person declines this season's influenza vaccine when it is offered. */
  declinesFluVaccine(): boolean {
    return this.rng.chance(0.1);
  }

  /** Cognitive function narrative of an older adult's annual wellness visit. */
  cognition(ageYears: number): string {
    if (ageYears >= 85 && this.rng.chance(0.3)) {
      return 'Alert and oriented to person and place, not to date. Recalls 1 of 3 words at five minutes. Manages medications and finances with help from family.';
    }
    return this.rng.pick([
      'Alert and oriented to person, place and time. Recalls 3 of 3 words at five minutes. Independent in medications, finances and household activities.',
      'Alert and oriented x 3. Recalls 2 of 3 words at five minutes, the third with a cue. Independent in daily activities; drives locally.',
    ]);
  }
}

/**
 * US Core Occupation observation: the usual occupation and its industry, over the years it was
 * held (no end while the person still works).
 */
export function recordOccupation(chart: Chart, visit: Visit, history: SocialHistory): Observation {
  const obs = visitObservation(chart, visit, PROFILE.occupation, OCCUPATION, [OBSERVATION_CATEGORY.socialHistory], visit.start + 6);
  delete obs.effectiveDateTime;
  const birth = chart.person.birthDay;
  const startDay = Math.min(visit.day, birth + Math.round(history.startAge * DAYS_PER_YEAR));
  const retireDay = birth + Math.round(history.retireAge * DAYS_PER_YEAR);
  obs.effectivePeriod = retireDay < visit.day ? { start: toDate(startDay), end: toDate(retireDay) } : { start: toDate(startDay) };
  obs.valueCodeableConcept = concept(history.job.occupation);
  obs.component = [{ code: concept(INDUSTRY), valueCodeableConcept: concept(history.job.industry) }];
  return chart.add(obs, visit);
}

/** US Core Sexual Orientation observation, as the patient reported it. */
export function recordSexualOrientation(chart: Chart, visit: Visit, value: Code): Observation {
  const obs = visitObservation(chart, visit, PROFILE.sexualOrientation, SEXUAL_ORIENTATION, [OBSERVATION_CATEGORY.socialHistory], visit.start + 6);
  obs.performer = [chart.subject];
  obs.valueCodeableConcept = concept(value);
  return chart.add(obs, visit);
}

/** US Core Pregnancy Intent observation, as the patient reported it. */
export function recordPregnancyIntent(chart: Chart, visit: Visit, value: Code): Observation {
  const obs = visitObservation(chart, visit, PROFILE.pregnancyIntent, PREGNANCY_INTENT, [OBSERVATION_CATEGORY.socialHistory], visit.start + 7);
  obs.performer = [chart.subject];
  obs.valueCodeableConcept = concept(value);
  return chart.add(obs, visit);
}

/** Cognitive status of an older adult (US Core Simple Observation, category cognitive-status). */
export function recordCognitiveStatus(chart: Chart, visit: Visit, narrative: string): Observation {
  const obs = visitObservation(chart, visit, PROFILE.simpleObservation, COGNITIVE_FUNCTION, [OBSERVATION_CATEGORY.cognitiveStatus], visit.start + 12);
  obs.valueString = narrative;
  return chart.add(obs, visit);
}
