import type { CarePlan, Condition, MedicationRequest, Patient, RelatedPerson, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { recordAllergy, ALLERGIES } from './allergies';
import {
  HVS_ANSWER,
  HVS_ITEM,
  recordFoodInsecurityItem,
  recordFoodInsecurityPanel,
  recordPhq,
  recordPregnancyStatus,
  recordSmokingStatus,
} from './assessments';
import { recordCarePlan, recordCareTeam, recordCoverage, recordGoal } from './care';
import { Chart } from './chart';
import type { Person, Sex, SmokingHistory, Visit } from './chart';
import { ENCOUNTER_TYPE, PROFILE, concept, sct } from './codes';
import type { Code } from './codes';
import { ACUTE, CHRONIC, CONDITION_KEYS, encounterDiagnosis, problemListCondition } from './conditions';
import type { AcuteDef, ConditionKey } from './conditions';
import { DAYS_PER_YEAR, toDateTime } from './dates';
import { buildPatient, displayName } from './demographics';
import { NOTE_TYPE, recordImagingReport, recordNote, recordOrganizationProvenance, recordProvenance } from './documents';
import { recordDispenses } from './dispenses';
import { MINOR_AGE, recordParent } from './family';
import type { ImagingKey } from './documents';
import { openVisit } from './encounters';
import type { VisitSpec } from './encounters';
import { immunize, recordDeclinedImmunization, vaccinesDue } from './immunizations';
import type { Vaccine } from './immunizations';
import { creatinineForEgfr, egfrFromCreatinine, recordLab } from './labs';
import type { AnalyteKey, PanelKey } from './labs';
import { MEDICATIONS } from './medications';
import type { MedicationKey } from './medications';
import { composeNote } from './notes';
import { recordHvsResponse } from './questionnaires';
import { REPRODUCTIVE_AGE, SocialHistory, recordCognitiveStatus, recordOccupation, recordPregnancyIntent, recordSexualOrientation } from './social-history';
import { prescribe } from './prescriptions';
import { PROCEDURE, implantDevice, recordProcedure } from './procedures';
import type { Rng } from './random';
import { LOCATION, ORG, staffOf } from './shared';
import type { Specialty, StaffMember } from './shared';
import { recordVitals } from './vitals';
import type { VitalsState } from './vitals';

/** A patient's record: the Patient first, then everything that refers to it. */
export interface PatientRecord {
  readonly patient: Patient;
  readonly resources: Resource[];
}

/** Everything that decides one record; the cohort generator and the roster both fill it in. */
export interface RecordSpec {
  readonly id: string;
  readonly rng: Rng;
  readonly anchorDay: number;
  readonly sex: Sex;
  readonly gender?: Patient['gender'];
  readonly birthDay: number;
  readonly deathDay?: number;
  /** Conditions the patient has whatever the dice say. */
  readonly conditions?: readonly ConditionKey[];
  /** Draw further conditions by age/sex prevalence (default true). */
  readonly randomConditions?: boolean;
  /** Years of history before the anchor (children: since birth at most). */
  readonly historyYears: number;
  readonly acutePerYear?: number;
  readonly demographicsOnly?: boolean;
  readonly given?: string[];
  readonly family?: string;
  readonly smoking?: SmokingHistory;
  readonly zHeight?: number;
  readonly zWeight?: number;
  readonly customizePatient?: (patient: Patient) => void;
}

type VisitKind = 'wellness' | 'diagnosis' | 'consult' | 'followup' | 'acute' | 'prenatal' | 'delivery' | 'terminal';

interface PlannedVisit {
  readonly day: number;
  readonly kind: VisitKind;
  readonly condition?: ConditionKey;
  readonly acute?: AcuteDef;
}

interface ConditionState {
  readonly key: ConditionKey;
  readonly code: Code;
  readonly onsetDay: number;
  /** Pregnancy ends at delivery. */
  readonly endDay?: number;
  problem?: Condition;
  carePlan?: CarePlan;
  readonly prescriptions: Map<MedicationKey, MedicationRequest>;
  specialist?: StaffMember;
}

/** Per-person physiology the lab values are drawn around, fixed once so series are continuous. */
interface Baseline {
  readonly hba1cAtDiagnosis: number;
  readonly creatinine: number;
  readonly egfrAtCkdOnset: number;
  readonly cholesterol: number;
  readonly hdl: number;
  readonly triglycerides: number;
  readonly hemoglobin: number;
  readonly platelets: number;
  readonly tsh: number;
}

const KIND_ORDER: Record<VisitKind, number> = { wellness: 0, diagnosis: 1, consult: 2, followup: 3, prenatal: 4, acute: 5, delivery: 6, terminal: 7 };

function clinicStart(rng: Rng): number {
  // 8:00–16:00 Eastern expressed in UTC, quarter-hour slots.
  return 13 * 60 + 15 * rng.int(0, 32);
}

function pickPcp(rng: Rng, ageYears: number): StaffMember {
  return rng.pick(staffOf(ageYears < 18 ? 'pediatrics' : rng.chance(0.7) ? 'family' : 'internal'));
}

/** Builds one complete, internally consistent patient record from its spec. */
export function buildRecord(spec: RecordSpec): PatientRecord {
  const { rng, anchorDay, birthDay, sex } = spec;
  const lastDay = spec.deathDay ?? anchorDay - 1;
  const ageAtAnchor = (anchorDay - birthDay) / DAYS_PER_YEAR;
  const pcp = pickPcp(rng, ageAtAnchor);
  const patient = buildPatient(rng, {
    id: spec.id,
    sex,
    ...(spec.gender ? { gender: spec.gender } : {}),
    birthDay,
    anchorDay,
    ...(spec.deathDay !== undefined ? { deathDay: spec.deathDay } : {}),
    pcp,
    ...(spec.given ? { given: spec.given } : {}),
    ...(spec.family !== undefined ? { family: spec.family } : {}),
  });
  spec.customizePatient?.(patient);
  const zHeight = spec.zHeight ?? rng.normal(0, 0.9);
  const zWeight = spec.zWeight ?? 0.4 * zHeight + rng.normal(0, 0.95);
  const smoking: SmokingHistory = spec.smoking ?? (ageAtAnchor < 15 ? 'never' : rng.weighted(['never', 'former', 'current'] as const, [60, 25, 15]));
  const person: Person = {
    sex,
    birthDay,
    ...(spec.deathDay !== undefined ? { deathDay: spec.deathDay } : {}),
    zHeight,
    zWeight,
    zHead: 0.5 * zHeight + rng.normal(0, 0.8),
    smoking,
    displayName: displayName(patient),
    pcp,
  };
  const chart = new Chart(spec.id, rng, anchorDay, person);
  chart.add(patient);
  if (spec.demographicsOnly) return { patient, resources: chart.resources };
  // A minor's parent: guardian, care team member and proxy who signs in for the child.
  const parent = (lastDay - birthDay) / DAYS_PER_YEAR < MINOR_AGE ? recordParent(chart, patient) : undefined;
  new RecordWriter(chart, spec, lastDay, parent).write();
  return { patient, resources: chart.resources };
}

/** Plans the visits of a record, then walks them in time order writing each one's resources. */
class RecordWriter {
  private readonly rng: Rng;
  private readonly windowStart: number;
  private readonly conditions = new Map<ConditionKey, ConditionState>();
  private readonly baseline: Baseline;
  private readonly vaccines = new Map<Vaccine, number>();
  private readonly vaccineCounts = new Map<Vaccine, number>();
  private lastFluDay: number | undefined;
  private readonly specialists = new Set<StaffMember>();
  private penicillinAllergy = false;
  private allergiesRecorded = false;
  private wellnessCount = 0;
  /** Day each recurring test or screening was last done. */
  private readonly lastDone = new Map<string, number>();
  private acuteCondition: AcuteDef | undefined;
  private implanted = false;
  private social: SocialHistory | undefined;
  private socialHistoryRecorded = false;

  constructor(
    private readonly chart: Chart,
    private readonly spec: RecordSpec,
    private readonly lastDay: number,
    private readonly parent: RelatedPerson | undefined,
  ) {
    this.rng = chart.rng;
    this.windowStart = Math.max(spec.birthDay, lastDay - Math.round(spec.historyYears * DAYS_PER_YEAR));
    const rng = this.rng;
    const female = spec.sex === 'female';
    this.baseline = {
      hba1cAtDiagnosis: rng.float(7.4, 9.8),
      creatinine: female ? rng.normal(0.74, 0.09) : rng.normal(0.95, 0.11),
      egfrAtCkdOnset: rng.float(42, 58),
      cholesterol: rng.normal(188, 24),
      hdl: female ? rng.normal(60, 10) : rng.normal(48, 8),
      triglycerides: Math.max(50, rng.normal(125, 35)),
      hemoglobin: female ? rng.normal(13.5, 0.7) : rng.normal(15.1, 0.8),
      platelets: rng.normal(255, 45),
      tsh: rng.float(0.9, 2.8),
    };
  }

  private age(day: number): number {
    return this.chart.ageYears(day);
  }

  write(): void {
    this.planConditions();
    const plan = this.planVisits();
    for (const p of plan) this.writeVisit(p);
    this.writeAdministrative();
  }

  // ---- planning -------------------------------------------------------------------------------

  private planConditions(): void {
    const { rng, spec } = this;
    const forced = new Set(spec.conditions ?? []);
    const ageAtLast = this.age(this.lastDay);
    const ctx = { sex: spec.sex, zWeight: this.chart.person.zWeight, smoker: this.chart.person.smoking !== 'never' };
    for (const key of CONDITION_KEYS) {
      const def = CHRONIC[key];
      // Always draw, so adding a forced condition does not shift every later draw.
      const roll = rng.next();
      const eligible = ageAtLast >= def.minAge && (def.sex === undefined || def.sex === spec.sex);
      if (!eligible) continue;
      if (!forced.has(key) && !(spec.randomConditions !== false && roll < def.prevalence(ageAtLast, ctx))) continue;
      const earliest = spec.birthDay + Math.ceil(def.minAge * DAYS_PER_YEAR);
      if (key === 'pregnancy') {
        if (spec.deathDay !== undefined) continue;
        const latestByAge = spec.birthDay + Math.floor((def.maxAge ?? 45) * DAYS_PER_YEAR);
        const from = Math.max(earliest, this.windowStart);
        const to = Math.min(this.lastDay - 60, latestByAge);
        if (to <= from) continue;
        const onsetDay = rng.int(from, to);
        this.conditions.set(key, { key, code: def.code(spec.sex), onsetDay, endDay: onsetDay + 280, prescriptions: new Map() });
        continue;
      }
      // Half of chronic problems predate the history window (diagnosed elsewhere, on the problem list since).
      const inWindow = rng.chance(0.5);
      const from = inWindow ? Math.max(earliest, this.windowStart) : earliest;
      const to = inWindow ? this.lastDay - 45 : Math.max(earliest, this.windowStart - 1);
      if (to < from) {
        if (!forced.has(key)) continue;
      }
      const onsetDay = to < from ? Math.min(this.lastDay - 1, Math.max(earliest, this.windowStart)) : rng.int(from, to);
      this.conditions.set(key, { key, code: def.code(spec.sex), onsetDay, prescriptions: new Map() });
    }
    // Pre-existing problems are on the list from the start of the record.
    for (const c of this.conditions.values()) {
      if (c.onsetDay < this.windowStart && c.key !== 'pregnancy') {
        c.problem = problemListCondition(this.chart, c.code, c.onsetDay, { status: this.statusOf(c, this.lastDay) });
      }
    }
  }

  private statusOf(c: ConditionState, day: number): 'active' | 'remission' | 'resolved' {
    if (c.key === 'cancer' && day - c.onsetDay > 2 * 365) return 'remission';
    if (c.endDay !== undefined && c.endDay <= day) return 'resolved';
    return 'active';
  }

  private planVisits(): PlannedVisit[] {
    const { rng, spec } = this;
    const visits: PlannedVisit[] = [];
    const add = (day: number, kind: VisitKind, extra: Partial<PlannedVisit> = {}): void => {
      if (day < this.windowStart || day > this.lastDay) return;
      visits.push({ day: Math.round(day), kind, ...extra });
    };
    const birth = spec.birthDay;
    // Well-child milestones, then yearly check-ups near the birthday.
    for (const m of [0.1, 1, 2, 4, 6, 9, 12, 15, 18, 24, 30]) add(birth + Math.round(m * 30.44) + rng.int(0, 6), 'wellness');
    const checkupOffset = rng.int(-40, 40);
    for (let y = 3; y <= 120; y++) {
      const day = birth + Math.round(y * DAYS_PER_YEAR) + checkupOffset;
      if (day > this.lastDay) break;
      // Healthy young adults skip some years.
      if (y >= 18 && y < 40 && rng.chance(0.3)) continue;
      add(day, 'wellness');
    }
    for (const c of this.conditions.values()) {
      const def = CHRONIC[c.key];
      if (c.key === 'pregnancy') {
        add(c.onsetDay + 56, 'prenatal');
        for (let d = c.onsetDay + 84; d < c.onsetDay + 266; d += 28) add(d + rng.int(-3, 3), 'prenatal', { condition: c.key });
        add(c.onsetDay + 273 + rng.int(0, 12), 'delivery', { condition: c.key });
        continue;
      }
      let day = c.onsetDay;
      if (day >= this.windowStart) {
        add(day, 'diagnosis', { condition: c.key });
        if (def.specialty) add(day + rng.int(14, 35), 'consult', { condition: c.key });
      } else if (def.specialty) {
        // Established patients still see their specialist yearly within the window.
        add(this.windowStart + rng.int(10, 120), 'consult', { condition: c.key });
      }
      while (true) {
        const interval = day - c.onsetDay < 365 ? def.followUp[0] : def.followUp[1];
        day += interval + rng.int(-10, 10);
        if (day > this.lastDay) break;
        add(day, 'followup', { condition: c.key });
      }
    }
    const perYear = spec.acutePerYear ?? 0.5;
    for (let d = this.windowStart; d <= this.lastDay; d += 365) {
      const years = this.age(d);
      const rate = years < 6 ? perYear * 2.5 : years < 18 ? perYear * 1.4 : perYear;
      let n = 0;
      while (n < 3 && rng.chance(rate / (n + 1))) n++;
      for (let i = 0; i < n; i++) {
        const day = d + rng.int(0, 364);
        const y = this.age(day);
        const options = ACUTE.filter((a) => y >= a.minAge && y <= a.maxAge && (a.sex === undefined || a.sex === spec.sex));
        if (options.length === 0) continue;
        add(day, 'acute', {
          acute: rng.weighted(
            options,
            options.map((o) => o.weight),
          ),
        });
      }
    }
    if (spec.deathDay !== undefined) add(spec.deathDay - rng.int(2, 6), 'terminal');
    // A death ends the record: drop anything planned inside the final stay.
    const terminal = visits.find((v) => v.kind === 'terminal');
    const filtered = terminal ? visits.filter((v) => v.kind === 'terminal' || v.day < terminal.day) : visits;
    return filtered.sort((a, b) => a.day - b.day || KIND_ORDER[a.kind] - KIND_ORDER[b.kind]);
  }

  // ---- visits ---------------------------------------------------------------------------------

  private open(p: PlannedVisit, practitioner: StaffMember, type: Code, extra: Partial<VisitSpec> = {}): Visit {
    return openVisit(this.chart, {
      day: p.day,
      start: clinicStart(this.rng),
      minutes: 30,
      cls: 'AMB',
      type,
      practitioner,
      locationId: practitioner.locationId,
      ...extra,
    });
  }

  private specialistFor(c: ConditionState): StaffMember {
    const specialty: Specialty | undefined = CHRONIC[c.key].specialty;
    if (!specialty) return this.chart.person.pcp;
    c.specialist ??= this.rng.pick(staffOf(specialty));
    this.specialists.add(c.specialist);
    return c.specialist;
  }

  private active(day: number): ConditionState[] {
    const out: ConditionState[] = [];
    for (const c of this.conditions.values()) if (c.onsetDay <= day && (c.endDay === undefined || c.endDay > day)) out.push(c);
    return out;
  }

  private has(key: ConditionKey, day: number): boolean {
    const c = this.conditions.get(key);
    return c !== undefined && c.onsetDay <= day && (c.endDay === undefined || c.endDay > day);
  }

  private onMedication(key: MedicationKey, day: number): boolean {
    for (const c of this.conditions.values()) {
      const mr = c.prescriptions.get(key);
      if (mr && (mr.authoredOn ?? '') < toDateTime(day, 0)) return true;
    }
    return false;
  }

  private vitalsState(day: number): VitalsState {
    const htn = this.has('hypertension', day) || this.has('ckd', day);
    const acute = this.acuteCondition;
    let extraWeightKg = 0;
    const preg = this.conditions.get('pregnancy');
    if (preg && preg.onsetDay <= day && (preg.endDay ?? 0) > day) extraWeightKg = Math.max(0, ((day - preg.onsetDay) / 280) * 12);
    return {
      hypertension: htn && this.age(day) >= 18 ? (this.onMedication('lisinopril', day) ? 'treated' : 'untreated') : 'none',
      respiratory: acute?.respiratory ? 'acute' : this.has('copd', day) || this.has('asthma', day) ? 'chronic' : 'none',
      fever: acute?.fever ?? false,
      extraWeightKg,
    };
  }

  private writeVisit(p: PlannedVisit): void {
    this.acuteCondition = p.acute;
    recordProvenance(this.chart, this.dispatch(p));
    this.acuteCondition = undefined;
  }

  private dispatch(p: PlannedVisit): Visit {
    switch (p.kind) {
      case 'wellness':
        return this.wellness(p);
      case 'diagnosis':
        return this.diagnosis(p);
      case 'consult':
        return this.consult(p);
      case 'followup':
        return this.followUp(p);
      case 'acute':
        return this.acute(p);
      case 'prenatal':
        return this.prenatal(p);
      case 'delivery':
        return this.delivery(p);
      case 'terminal':
        return this.terminal(p);
    }
  }

  private wellness(p: PlannedVisit): Visit {
    const { chart, rng } = this;
    const years = this.age(p.day);
    const pcp = chart.person.pcp;
    const visit = this.open(p, pcp, years < 18 ? ENCOUNTER_TYPE.wellChild : ENCOUNTER_TYPE.checkUp, { minutes: 40 });
    this.wellnessCount++;
    recordVitals(chart, visit, this.vitalsState(p.day), 'full');
    if (!this.allergiesRecorded) this.recordAllergies(visit);
    if (years >= 13) recordSmokingStatus(chart, visit, chart.person.smoking);
    if (years >= 12 && !this.has('depression', p.day)) recordPhq(chart, visit, 'phq2', rng.chance(0.85) ? 0 : rng.int(1, 3));
    this.socialHistory(visit, years);
    if (years >= 18 && this.wellnessCount % 2 === 1) this.foodInsecurity(visit);
    if (years >= 18) {
      const lipidEvery = this.has('diabetes', p.day) || this.has('hyperlipidemia', p.day) || this.has('cad', p.day) ? 300 : 3 * 365 - 30;
      if (years >= 20 && this.due('lipid', p.day, lipidEvery)) this.lab(visit, 'lipid');
      if (years >= 40 && this.due('bmp', p.day, 2 * 365 - 30)) this.lab(visit, 'bmp');
      if (this.due('cbc', p.day, 3 * 365 - 30)) this.lab(visit, 'cbc');
      if (sexIs(chart, 'female') && years >= 50 && years < 75 && !this.has('cancer', p.day) && this.due('mammogram', p.day, 2 * 365 - 30)) {
        recordProcedure(chart, visit, PROCEDURE.mammography, { minutes: 20 });
        this.imaging(visit, 'mammogram', 'BI-RADS 1: Negative. No mammographic evidence of malignancy. Routine screening in 2 years.');
      }
      if (years >= 65) recordProcedure(chart, visit, PROCEDURE.medicationReconciliation, { minutes: 10 });
    } else if (years >= 0.9 && years < 1.3 && this.due('cbc', p.day, 365)) {
      // Hemoglobin screening at the 12-month visit (AAP).
      this.lab(visit, 'cbc');
    }
    this.renewPrescriptions(visit);
    let minute = visit.start + 30;
    for (const v of vaccinesDue(this.chart.ageMonths(p.day), this.vaccines, p.day, this.lastFluDay, this.vaccineCounts.get('zoster'))) {
      // Some adults decline the flu shot; it is offered again next season.
      if (v === 'flu' && years >= 18 && (this.social ??= new SocialHistory(this.spec.id)).declinesFluVaccine()) {
        recordDeclinedImmunization(chart, visit, v, minute++);
        continue;
      }
      immunize(chart, visit, v, minute++);
      this.vaccines.set(v, p.day);
      this.vaccineCounts.set(v, (this.vaccineCounts.get(v) ?? 0) + 1);
      if (v === 'flu') this.lastFluDay = p.day;
    }
    const title = years < 18 ? 'Well child visit' : 'Annual physical examination';
    recordNote(chart, visit, NOTE_TYPE.progress, composeNote(chart, visit, title, years < 18 ? 'a well child visit' : 'an annual check-up'));
    return visit;
  }

  private diagnosis(p: PlannedVisit): Visit {
    const c = this.conditions.get(p.condition as ConditionKey) as ConditionState;
    const { chart } = this;
    const visit = this.open(p, chart.person.pcp, ENCOUNTER_TYPE.problem, { reason: c.code });
    recordVitals(chart, visit, this.vitalsState(p.day), 'focused');
    c.problem = problemListCondition(chart, c.code, c.onsetDay, { visit, status: this.statusOf(c, this.lastDay) });
    citeReason(visit, c.problem);
    this.conditionWorkup(visit, c, true);
    this.startTreatment(visit, c);
    recordNote(
      chart,
      visit,
      NOTE_TYPE.progress,
      composeNote(chart, visit, 'Problem visit', `new symptoms, diagnosed with ${c.code.display.replace(/ \(.*\)$/, '').toLowerCase()}`),
    );
    return visit;
  }

  private consult(p: PlannedVisit): Visit {
    const c = this.conditions.get(p.condition as ConditionKey) as ConditionState;
    const { chart } = this;
    const specialist = this.specialistFor(c);
    const visit = this.open(p, specialist, ENCOUNTER_TYPE.consultation, { reason: c.code, minutes: 45 });
    if (c.problem) citeReason(visit, c.problem);
    recordVitals(chart, visit, this.vitalsState(p.day), 'focused');
    encounterDiagnosis(chart, visit, c.code, { status: this.statusOf(c, p.day), onsetDay: c.onsetDay });
    // Right after a diagnosis the referral letter carries the workup; later consults repeat it.
    if (p.day - c.onsetDay > 60) this.conditionWorkup(visit, c, false);
    this.specialtyProcedures(visit, c);
    if (!c.carePlan) this.writeCarePlan(visit, c);
    this.renewPrescriptions(visit);
    recordNote(
      chart,
      visit,
      NOTE_TYPE.consult,
      composeNote(chart, visit, 'Specialist consultation', `consultation about ${c.code.display.replace(/ \(.*\)$/, '').toLowerCase()}`),
    );
    return visit;
  }

  private followUp(p: PlannedVisit): Visit {
    const c = this.conditions.get(p.condition as ConditionKey) as ConditionState;
    const { chart, rng } = this;
    const sinceOnset = p.day - c.onsetDay;
    // Specialists see the patient in the first year and then every other visit; the PCP otherwise.
    const bySpecialist = CHRONIC[c.key].specialty !== undefined && (sinceOnset < 365 ? rng.chance(0.5) : rng.chance(0.3));
    const practitioner = bySpecialist ? this.specialistFor(c) : chart.person.pcp;
    const visit = this.open(p, practitioner, ENCOUNTER_TYPE.followUp, { reason: c.code });
    recordVitals(chart, visit, this.vitalsState(p.day), 'focused');
    encounterDiagnosis(chart, visit, c.code, { status: this.statusOf(c, p.day), onsetDay: c.onsetDay });
    if (!c.problem) c.problem = problemListCondition(chart, c.code, c.onsetDay, { visit, status: this.statusOf(c, this.lastDay) });
    citeReason(visit, c.problem);
    this.conditionWorkup(visit, c, false);
    if (!c.carePlan && CHRONIC[c.key].carePlan && !CHRONIC[c.key].specialty) this.writeCarePlan(visit, c);
    this.startTreatment(visit, c);
    this.renewPrescriptions(visit);
    recordNote(
      chart,
      visit,
      NOTE_TYPE.progress,
      composeNote(chart, visit, 'Follow-up visit', `follow-up of ${c.code.display.replace(/ \(.*\)$/, '').toLowerCase()}`),
    );
    return visit;
  }

  private acute(p: PlannedVisit): Visit {
    const def = p.acute as AcuteDef;
    const { chart } = this;
    const years = this.age(p.day);
    const emergency = def.emergency === true;
    const practitioner = emergency ? this.rng.pick(staffOf('emergency')) : chart.person.pcp;
    const visit = this.open(p, practitioner, emergency ? ENCOUNTER_TYPE.emergency : ENCOUNTER_TYPE.symptom, {
      cls: emergency ? 'EMER' : 'AMB',
      locationId: emergency ? LOCATION.emergency : practitioner.locationId,
      minutes: emergency ? 180 : 20,
      reason: def.code,
    });
    recordVitals(chart, visit, this.vitalsState(p.day), 'full');
    const abatementDay = p.day + def.days;
    const resolved = abatementDay <= this.lastDay;
    const diagnosis = encounterDiagnosis(chart, visit, def.code, resolved ? { status: 'resolved', abatementDay } : { status: 'active' });
    if (emergency) {
      this.lab(visit, 'cbc', { wbc: this.rng.float(12, 17) });
      recordProcedure(chart, visit, PROCEDURE.chestXray, { minutes: 15 });
      this.imaging(visit, 'chestXray', 'Right lower lobe consolidation consistent with pneumonia. No pleural effusion.');
    }
    let med = def.medication?.(years);
    if (med && this.penicillinAllergy && (med === 'amoxicillin' || med === 'amoxicillinPediatric' || med === 'penicillinV')) med = 'acetaminophen';
    if (med && !(med === 'ibuprofen' && years < 0.5)) prescribe(chart, visit, med, { reason: { reference: `Condition/${diagnosis.id ?? ''}` } });
    const note = emergency ? NOTE_TYPE.emergency : NOTE_TYPE.progress;
    recordNote(
      chart,
      visit,
      note,
      composeNote(chart, visit, emergency ? 'Emergency department note' : 'Sick visit', def.code.display.replace(/ \(.*\)$/, '').toLowerCase()),
    );
    return visit;
  }

  private prenatal(p: PlannedVisit): Visit {
    const c = this.conditions.get('pregnancy') as ConditionState;
    const { chart } = this;
    const first = p.condition === undefined;
    const obstetrician = this.specialistFor(c);
    const visit = this.open(p, obstetrician, first ? ENCOUNTER_TYPE.prenatalInitial : ENCOUNTER_TYPE.prenatal, { reason: c.code });
    recordVitals(chart, visit, this.vitalsState(p.day), 'focused');
    if (first) {
      recordPregnancyStatus(chart, visit, true);
      c.problem = problemListCondition(chart, c.code, c.onsetDay, { visit, status: 'active' });
    }
    if (c.problem) citeReason(visit, c.problem);
    if (first) {
      this.lab(visit, 'cbc');
      this.writeCarePlan(visit, c);
    }
    const weeks = (p.day - c.onsetDay) / 7;
    if (weeks >= 18 && weeks < 22) {
      recordProcedure(chart, visit, PROCEDURE.obUltrasound, { minutes: 30 });
      this.imaging(visit, 'obUltrasound', `Single live intrauterine pregnancy, ${Math.round(weeks)} weeks by biometry. Normal anatomy survey.`);
    }
    recordNote(
      chart,
      visit,
      NOTE_TYPE.progress,
      composeNote(chart, visit, 'Prenatal visit', `routine prenatal care at ${Math.round(weeks)} weeks of gestation`),
    );
    return visit;
  }

  private delivery(p: PlannedVisit): Visit {
    const c = this.conditions.get('pregnancy') as ConditionState;
    const { chart } = this;
    const obstetrician = this.specialistFor(c);
    const nights = 2;
    const visit = this.open(p, obstetrician, ENCOUNTER_TYPE.admission, {
      cls: 'IMP',
      nights,
      locationId: LOCATION.hospital,
      reason: c.code,
      start: 6 * 60 + this.rng.int(0, 16 * 60),
    });
    recordVitals(chart, visit, this.vitalsState(p.day), 'full');
    recordProcedure(chart, visit, PROCEDURE.delivery, { minutes: 90, offset: 120 });
    if (c.problem) {
      c.problem.clinicalStatus = concept({ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved', display: 'Resolved' });
      c.problem.abatementDateTime = toDateTime(p.day, visit.start + 200);
    }
    recordPregnancyStatus(chart, { ...visit, day: visit.endDay, start: visit.end - 30 }, false);
    recordNote(
      chart,
      visit,
      NOTE_TYPE.discharge,
      composeNote(chart, visit, 'Discharge summary', 'labor and delivery', ['Uncomplicated vaginal delivery of a healthy infant.']),
    );
    return visit;
  }

  private terminal(p: PlannedVisit): Visit {
    const { chart } = this;
    const deathDay = this.spec.deathDay as number;
    const nights = deathDay - p.day;
    const active = this.active(p.day);
    const reason =
      active.find((c) => c.key === 'cancer' || c.key === 'copd' || c.key === 'cad' || c.key === 'ckd')?.code ?? sct('233604007', 'Pneumonia (disorder)');
    const visit = openVisit(chart, {
      day: p.day,
      start: 10 * 60 + this.rng.int(0, 12 * 60),
      minutes: 0,
      nights,
      cls: 'IMP',
      type: ENCOUNTER_TYPE.admission,
      practitioner: chart.person.pcp.specialty === 'pediatrics' ? chart.person.pcp : this.rng.pick(staffOf('internal')),
      locationId: LOCATION.hospital,
      reason,
      discharge: 'expired',
    });
    recordVitals(
      chart,
      visit,
      { ...this.vitalsState(p.day), fever: reason.code === '233604007', respiratory: reason.code === '233604007' ? 'acute' : 'none' },
      'full',
    );
    encounterDiagnosis(chart, visit, reason, { status: 'active' });
    this.lab(visit, 'cbc');
    this.lab(visit, 'bmp');
    recordNote(
      chart,
      visit,
      NOTE_TYPE.discharge,
      composeNote(chart, visit, 'Death summary', `admission for ${reason.display.replace(/ \(.*\)$/, '').toLowerCase()}`, [
        'The patient was made comfortable; the family was present. Time of death recorded by the attending physician.',
      ]),
    );
    return visit;
  }

  // ---- clinical content -----------------------------------------------------------------------

  /** True (and marks it done) when `what` was last done at least `every` days ago. */
  private due(what: string, day: number, every: number): boolean {
    const last = this.lastDone.get(what);
    if (last !== undefined && day - last < every) return false;
    this.lastDone.set(what, day);
    return true;
  }

  private recordAllergies(visit: Visit): void {
    this.allergiesRecorded = true;
    const { rng, chart } = this;
    if (!rng.chance(0.25)) return;
    const n = rng.chance(0.7) ? 1 : 2;
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const def = rng.weighted(
        ALLERGIES,
        ALLERGIES.map((a) => a.weight),
      );
      if (seen.has(def.key)) continue;
      seen.add(def.key);
      if (def.key === 'penicillin') this.penicillinAllergy = true;
      const onset = Math.max(this.spec.birthDay, visit.day - rng.int(30, 3650));
      recordAllergy(chart, visit, def, onset);
    }
  }

  /**
   * Social history taken at a check-up: occupation and sexual orientation at the first adult one,
   * pregnancy intention of a woman of reproductive age, cognitive status from 65.
   */
  private socialHistory(visit: Visit, years: number): void {
    const { chart } = this;
    if (years < REPRODUCTIVE_AGE.min) return;
    const social = (this.social ??= new SocialHistory(this.spec.id));
    if (years >= 18 && !this.socialHistoryRecorded) {
      this.socialHistoryRecorded = true;
      recordOccupation(chart, visit, social);
      recordSexualOrientation(chart, visit, social.orientation);
    }
    if (sexIs(chart, 'female') && years < REPRODUCTIVE_AGE.max && !this.has('pregnancy', visit.day)) {
      const pregnancy = this.conditions.get('pregnancy');
      const conceives = pregnancy !== undefined && pregnancy.onsetDay > visit.day && pregnancy.onsetDay <= visit.day + 365;
      recordPregnancyIntent(chart, visit, social.pregnancyIntent(conceives));
    }
    if (years >= 65) recordCognitiveStatus(chart, visit, social.cognition(years));
  }

  private foodInsecurity(visit: Visit): void {
    const { rng, chart } = this;
    const insecure = rng.chance(0.12);
    const answer = insecure ? (rng.chance(0.4) ? HVS_ANSWER.often : HVS_ANSWER.sometimes) : HVS_ANSWER.never;
    const ranOut = insecure && rng.chance(0.7) ? answer : HVS_ANSWER.never;
    const form = recordHvsResponse(chart, visit, answer, ranOut, visit.start + 8);
    const items = [
      recordFoodInsecurityItem(chart, visit, HVS_ITEM.worried, answer, form),
      recordFoodInsecurityItem(chart, visit, HVS_ITEM.ranOut, ranOut, form),
    ];
    recordFoodInsecurityPanel(chart, visit, items, form);
    if (insecure) this.referFoodPantry(visit);
  }

  private referFoodPantry(visit: Visit): ServiceRequest {
    const { chart } = this;
    return chart.add(
      {
        resourceType: 'ServiceRequest',
        id: chart.id('sr'),
        meta: { profile: [PROFILE.serviceRequest] },
        status: 'completed',
        intent: 'order',
        category: [
          {
            coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-category', code: 'sdoh', display: 'SDOH' }],
            text: 'Social Determinants Of Health',
          },
        ],
        code: concept(sct('467771000124109', 'Assistance with application for food pantry program (procedure)')),
        subject: chart.subject,
        encounter: visit.ref,
        occurrenceDateTime: toDateTime(visit.day, visit.start + 35),
        authoredOn: toDateTime(visit.day, visit.start + 30),
        requester: { reference: `Practitioner/${visit.practitioner.id}` },
      },
      visit,
    );
  }

  private imaging(visit: Visit, key: ImagingKey, impression: string): void {
    recordImagingReport(this.chart, visit, key, impression);
  }

  /** Labs and screening a condition calls for at a visit. */
  private conditionWorkup(visit: Visit, c: ConditionState, initial: boolean): void {
    const { chart, rng } = this;
    const day = visit.day;
    switch (c.key) {
      case 'diabetes':
        this.lab(visit, 'hba1c');
        this.lab(visit, 'glucose');
        if (this.due('microalbumin', day, 330)) this.lab(visit, 'microalbumin');
        if (this.due('bmp', day, 330)) this.lab(visit, 'bmp');
        if (!initial && this.due('eyeExam', day, 330)) recordProcedure(chart, visit, PROCEDURE.eyeExam, { minutes: 20 });
        break;
      case 'hypertension':
        if (this.due('bmp', day, 330)) this.lab(visit, 'bmp');
        break;
      case 'hyperlipidemia':
      case 'cad':
        if (this.due('lipid', day, 300)) this.lab(visit, 'lipid');
        break;
      case 'ckd':
        this.lab(visit, 'renal');
        if (this.due('microalbumin', day, 330)) this.lab(visit, 'microalbumin');
        break;
      case 'depression': {
        // PHQ-9 falls as treatment takes effect.
        const months = (day - c.onsetDay) / 30.44;
        recordPhq(chart, visit, 'phq9', Math.max(0, Math.min(27, 17 - months * 1.2 + rng.normal(0, 2))));
        break;
      }
      case 'anxiety':
        break;
      case 'hypothyroidism':
        if (this.due('tsh', day, 330)) this.lab(visit, 'tsh');
        break;
      case 'cancer':
        this.lab(visit, chart.person.sex === 'female' ? 'ca153' : 'psa');
        if (this.due('cbc', day, 170)) this.lab(visit, 'cbc');
        break;
      case 'copd':
      case 'asthma':
      case 'afib':
      case 'osteoarthritis':
      case 'pregnancy':
        break;
    }
  }

  private specialtyProcedures(visit: Visit, c: ConditionState): void {
    const { chart, rng } = this;
    const reason = c.problem ? { reference: `Condition/${c.problem.id ?? ''}` } : undefined;
    const withReason = reason ? { reason } : {};
    switch (c.key) {
      case 'copd':
      case 'asthma':
        if (this.age(visit.day) >= 6) recordProcedure(chart, visit, PROCEDURE.spirometry, { minutes: 30, ...withReason });
        if (c.key === 'copd') {
          recordProcedure(chart, visit, PROCEDURE.chestXray, withReason);
          this.imaging(
            visit,
            'chestXray',
            'Hyperinflated lungs with flattened diaphragms, consistent with chronic obstructive pulmonary disease. No focal consolidation.',
          );
        }
        break;
      case 'cad': {
        recordProcedure(chart, visit, PROCEDURE.ecg, withReason);
        this.imaging(visit, 'ecg', 'Sinus rhythm, 72 bpm. Q waves in the inferior leads. No acute ST changes.');
        if (!this.implanted) {
          this.implanted = true;
          const proc = recordProcedure(chart, visit, PROCEDURE.coronaryStent, { minutes: 90, offset: 60, ...withReason });
          implantDevice(chart, visit, 'stent', proc);
        }
        break;
      }
      case 'afib': {
        recordProcedure(chart, visit, PROCEDURE.ecg, withReason);
        this.imaging(visit, 'ecg', 'Atrial fibrillation with controlled ventricular response, 84 bpm. No acute ST changes.');
        if (!this.implanted && rng.chance(0.2)) {
          this.implanted = true;
          const proc = recordProcedure(chart, visit, PROCEDURE.pacemaker, { minutes: 120, offset: 60, ...withReason });
          implantDevice(chart, visit, 'pacemaker', proc);
        }
        break;
      }
      case 'hypertension':
        recordProcedure(chart, visit, PROCEDURE.ecg, withReason);
        this.imaging(visit, 'ecg', 'Normal sinus rhythm. Voltage criteria for left ventricular hypertrophy are not met.');
        break;
      case 'cancer':
        if (visit.day - c.onsetDay < 60) {
          recordProcedure(chart, visit, PROCEDURE.biopsy, { minutes: 45, ...withReason });
          recordProcedure(chart, visit, PROCEDURE.chemotherapy, { minutes: 180, offset: 60, ...withReason });
        }
        if (chart.person.sex === 'female') {
          recordProcedure(chart, visit, PROCEDURE.mammography, withReason);
          this.imaging(
            visit,
            'mammogram',
            visit.day - c.onsetDay < 60 ? 'BI-RADS 6: Known biopsy-proven malignancy.' : 'BI-RADS 2: Post-treatment changes. No evidence of recurrence.',
          );
        }
        break;
      case 'depression':
        recordProcedure(chart, visit, PROCEDURE.depressionScreening, { minutes: 10, ...withReason });
        break;
      default:
        break;
    }
  }

  private writeCarePlan(visit: Visit, c: ConditionState): void {
    const def = CHRONIC[c.key];
    if (!def.carePlan || !c.problem) return;
    const ended = c.endDay !== undefined && c.endDay <= this.lastDay ? c.endDay : this.chart.alive ? undefined : this.lastDay;
    const status = ended === undefined ? 'active' : c.key === 'pregnancy' && this.chart.alive ? 'completed' : 'cancelled';
    // A goal is due a year out while the plan runs; closed plans keep no target date past their end.
    const due = ended === undefined ? visit.day + 365 : undefined;
    const description = def.carePlan.goalCode ? { text: def.carePlan.goal, code: def.carePlan.goalCode } : def.carePlan.goal;
    const goal = recordGoal(this.chart, visit, description, c.problem, due, status);
    const activities = [
      ...def.medications(this.spec.sex).map((m) => `Take ${MEDICATIONS[m].code.display} as prescribed`),
      'Education about the condition and its warning signs',
      'Follow-up visits as scheduled',
    ];
    c.carePlan = recordCarePlan(
      this.chart,
      visit,
      { title: def.carePlan.title, ...(def.carePlan.code ? { code: def.carePlan.code } : {}), activities },
      c.problem,
      goal,
      ended,
    );
  }

  private startTreatment(visit: Visit, c: ConditionState): void {
    const reason = c.problem ? { reference: `Condition/${c.problem.id ?? ''}` } : undefined;
    for (const key of CHRONIC[c.key].medications(this.spec.sex)) {
      if (c.prescriptions.has(key)) continue;
      if (key === 'ibuprofen' && this.age(visit.day) < 12) continue;
      c.prescriptions.set(key, prescribe(this.chart, visit, key, reason ? { reason } : {}));
    }
    // Hypertension not controlled on one drug after a year gets a second.
    if (c.key === 'hypertension' && !c.prescriptions.has('amlodipine') && visit.day - c.onsetDay > 365 && this.rng.chance(0.4)) {
      c.prescriptions.set('amlodipine', prescribe(this.chart, visit, 'amlodipine', reason ? { reason } : {}));
    }
  }

  /** Renews long-term prescriptions that expire within two months, chaining priorPrescription. */
  private renewPrescriptions(visit: Visit): void {
    for (const c of this.active(visit.day)) {
      for (const [key, mr] of c.prescriptions) {
        if (mr.status !== 'active' && mr.status !== 'completed') continue;
        const end = mr.dispenseRequest?.validityPeriod?.end;
        if (!end || end > toDateTime(visit.day + 60, 0).slice(0, 10)) continue;
        if (mr.dispenseRequest?.numberOfRepeatsAllowed === 0) continue;
        const reason = mr.reasonReference?.[0];
        const next = prescribe(this.chart, visit, key, { ...(reason ? { reason } : {}), prior: mr });
        if (mr.status === 'active') mr.status = 'completed';
        c.prescriptions.set(key, next);
      }
    }
  }

  /** Lab values for this person on this day, from the conditions and treatments in effect. */
  private lab(visit: Visit, panel: PanelKey, override: Partial<Record<AnalyteKey, number>> = {}): void {
    const { rng, baseline: b } = this;
    const day = visit.day;
    const years = this.age(day);
    const sex = this.chart.person.sex;
    const values: Partial<Record<AnalyteKey, number>> = {};
    // Diabetes: HbA1c falls about a point once metformin has had three months to work; glucose
    // tracks HbA1c through the ADAG estimated-average-glucose relation.
    let hba1c = rng.normal(5.2, 0.2);
    const dm = this.conditions.get('diabetes');
    if (dm && dm.onsetDay <= day) {
      const treatedDays = day - dm.onsetDay;
      hba1c = b.hba1cAtDiagnosis - (treatedDays > 90 ? 1.1 : (treatedDays / 90) * 1.1) + rng.normal(0, 0.3);
    }
    values.hba1c = hba1c;
    values.glucose = Math.max(65, 28.7 * hba1c - 46.7 + rng.normal(0, 12));
    const ckd = this.conditions.get('ckd');
    const egfr = ckd && ckd.onsetDay <= day ? Math.max(18, b.egfrAtCkdOnset - ((day - ckd.onsetDay) / 365) * 2.5 + rng.normal(0, 2)) : undefined;
    const creatinine = egfr !== undefined ? creatinineForEgfr(egfr, years, sex) : Math.max(0.3, b.creatinine * (years < 18 ? 0.6 : 1) + rng.normal(0, 0.05));
    values.creatinine = creatinine;
    values.egfr = Math.min(120, egfrFromCreatinine(creatinine, Math.max(18, years), sex));
    values.bun = egfr !== undefined ? rng.float(24, 38) : rng.float(9, 19);
    values.potassium = egfr !== undefined ? rng.float(4.5, 5.4) : rng.float(3.7, 4.8);
    values.sodium = rng.float(137, 143);
    values.chloride = rng.float(99, 106);
    values.co2 = egfr !== undefined ? rng.float(20, 25) : rng.float(23, 28);
    values.calcium = rng.float(8.8, 10.1);
    const dyslipidemic = this.has('hyperlipidemia', day) || this.has('cad', day);
    const statin = this.onMedication('simvastatin', day) || this.onMedication('atorvastatin', day);
    const chol = b.cholesterol + (dyslipidemic ? 55 : 0) - (statin ? 60 : 0) + rng.normal(0, 8);
    const tg = b.triglycerides * (dm ? 1.3 : 1) + rng.normal(0, 12);
    const hdl = b.hdl + rng.normal(0, 3);
    values.cholesterol = chol;
    values.triglycerides = tg;
    values.hdl = hdl;
    values.ldl = Math.max(30, chol - hdl - tg / 5);
    let hgb = b.hemoglobin + rng.normal(0, 0.3);
    if (years < 2) hgb = rng.normal(12, 0.6);
    if (this.has('pregnancy', day)) hgb -= 1.2;
    if (egfr !== undefined) hgb -= 1.4;
    if (this.has('cancer', day) && day - (this.conditions.get('cancer')?.onsetDay ?? day) < 365) hgb -= 1.2;
    values.hemoglobin = hgb;
    values.hematocrit = hgb * 2.95 + rng.normal(0, 0.5);
    values.rbc = hgb / 3.05 + rng.normal(0, 0.08);
    values.wbc = rng.normal(6.8, 1.2);
    values.platelets = b.platelets + rng.normal(0, 12);
    values.microalbumin = egfr !== undefined ? rng.float(45, 180) : dm ? rng.float(12, 60) : rng.float(4, 18);
    const hypo = this.conditions.get('hypothyroidism');
    values.tsh = hypo && hypo.onsetDay <= day ? (this.onMedication('levothyroxine', day) ? rng.float(1.2, 3.6) : rng.float(7, 12)) : b.tsh + rng.normal(0, 0.2);
    const cancer = this.conditions.get('cancer');
    const sinceDx = cancer ? day - cancer.onsetDay : 0;
    values.psa = sinceDx < 120 ? rng.float(8, 16) : rng.float(0.1, 1.5);
    values.ca153 = sinceDx < 120 ? rng.float(34, 60) : rng.float(10, 26);
    values.cea = rng.float(0.5, 2.5);
    recordLab(this.chart, visit, panel, { ...values, ...override });
  }

  /**
   * Care team, insurance and pharmacy fills, dated by the record's span, and the Provenance of
   * everything no visit produced.
   */
  private writeAdministrative(): void {
    const { chart, rng, spec } = this;
    recordCareTeam(chart, chart.person.pcp, [...this.specialists], this.windowStart, this.parent);
    const turns65 = spec.birthDay + Math.round(65 * DAYS_PER_YEAR);
    const end = chart.alive ? undefined : this.lastDay;
    const minor = (day: number): boolean => this.age(day) < 18;
    if (turns65 <= this.windowStart) {
      recordCoverage(chart, 'medicare', this.windowStart, end, false);
    } else {
      const plan = rng.chance(0.22) ? 'medicaid' : 'private';
      if (turns65 <= this.lastDay) {
        recordCoverage(chart, plan, this.windowStart, turns65 - 1, false);
        recordCoverage(chart, 'medicare', turns65, end, false);
      } else {
        recordCoverage(chart, plan, this.windowStart, end, plan === 'private' && minor(this.lastDay));
      }
    }
    // The clinic keeps what no visit produced: registration, the parent, the care team, coverage and
    // problems diagnosed elsewhere. Nothing is recorded after death (or the anchor's eve).
    const byVisit = new Set<string>();
    for (const r of chart.resources) if (r.resourceType === 'Provenance') for (const t of r.target) byVisit.add(t.reference ?? '');
    const registered = chart.resources.filter((r) => r.resourceType !== 'Provenance' && !byVisit.has(`${r.resourceType}/${r.id ?? ''}`));
    recordOrganizationProvenance(chart, registered, { id: ORG.clinic, name: 'Riverbend Family Health' }, toDateTime(this.lastDay, 0));
    const fills = recordDispenses(chart);
    const lastFill = fills.reduce<string | undefined>(
      (latest, d) => (latest === undefined || (d.whenHandedOver ?? '') > latest ? d.whenHandedOver : latest),
      undefined,
    );
    if (lastFill) recordOrganizationProvenance(chart, fills, { id: ORG.pharmacy, name: 'Riverbend Community Pharmacy' }, lastFill, { transmitted: true });
  }
}

/** The problem a visit is about, referenced beside its reason code (US Core Encounter reasonReference). */
function citeReason(visit: Visit, problem: Condition): void {
  const text = problem.code?.text;
  visit.encounter.reasonReference = [text ? { reference: `Condition/${problem.id ?? ''}`, display: text } : { reference: `Condition/${problem.id ?? ''}` }];
}

function sexIs(chart: Chart, sex: Sex): boolean {
  return chart.person.sex === sex;
}
