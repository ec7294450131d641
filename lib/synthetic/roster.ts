import type { AllergyIntolerance, Condition, DiagnosticReport, DocumentReference, MedicationRequest, Observation, Resource } from '@medplum/fhirtypes';
import { DATA_ABSENT, OBSERVATION_CATEGORY, PROFILE, SYSTEM, concept, coding, loinc } from './codes';
import { DAYS_PER_YEAR, parseDay, toDate, toDateTime, today } from './dates';
import { ASKED_DECLINED, ethnicityExtension, homeAddress, raceExtension } from './demographics';
import { buildRecord } from './patient';
import type { PatientRecord, RecordSpec } from './patient';
import { Rng, mixSeed } from './random';

/** Ids of the edge-case patients; they exist in every dataset whatever the seed. */
export const ROSTER_IDS = [
  'roster-deceased',
  'roster-newborn',
  'roster-growth',
  'roster-centenarian',
  'roster-multiple-names',
  'roster-non-ascii',
  'roster-long-name',
  'roster-single-name',
  'roster-unknown-gender',
  'roster-moved',
  'roster-demographics-only',
  'roster-paging',
  'roster-data-absent',
  'roster-corrections',
  'roster-html-name',
  'roster-twin-a',
  'roster-twin-b',
] as const;
export type RosterId = (typeof ROSTER_IDS)[number];

/** Resources in the paging patient's record, Patient included. */
export const PAGING_RECORD_SIZE = 5000;

export interface RosterOptions {
  /** 'YYYY-MM-DD' (default: today, UTC); the roster's dates follow the anchor, its content does not follow any seed. */
  readonly anchorDate?: string;
}

function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

type Build = (anchorDay: number, base: Pick<RecordSpec, 'id' | 'rng' | 'anchorDay'>) => PatientRecord;

const years = (n: number): number => Math.round(n * DAYS_PER_YEAR);

const TWIN_BIRTH_OFFSET = years(34) + 117;

function twin(anchorDay: number, base: Pick<RecordSpec, 'id' | 'rng' | 'anchorDay'>, order: 1 | 2): PatientRecord {
  // Both twins draw their shared details from one stream so they match; the rest is their own.
  const shared = new Rng(mixSeed(hashId('roster-twins'), 1));
  const address = homeAddress(shared);
  const phone = `(508) 555-${shared.digits(4)}`;
  return buildRecord({
    ...base,
    sex: 'female',
    birthDay: anchorDay - TWIN_BIRTH_OFFSET,
    given: [order === 1 ? 'Jaden' : 'Jayden', 'Marie'],
    family: 'Okafor-Lindqvist',
    randomConditions: false,
    historyYears: 3,
    customizePatient: (p) => {
      p.multipleBirthInteger = order;
      p.address = [{ ...address, use: 'home' }];
      p.telecom = [{ system: 'phone', value: phone, use: 'home', rank: 1 }];
    },
  });
}

const ROSTER: Record<RosterId, Build> = {
  'roster-deceased': (a, base) =>
    buildRecord({
      ...base,
      sex: 'male',
      birthDay: a - years(79) - 40,
      deathDay: a - 190,
      conditions: ['copd', 'hypertension'],
      historyYears: 5,
      smoking: 'former',
      given: ['Harold', 'James'],
      family: 'Whitcombe',
    }),
  'roster-newborn': (a, base) =>
    buildRecord({ ...base, sex: 'female', birthDay: a - 12, randomConditions: false, historyYears: 1, given: ['Lucia'], family: 'Ferreira', acutePerYear: 0 }),
  'roster-growth': (a, base) =>
    buildRecord({
      ...base,
      sex: 'male',
      birthDay: a - years(6) - 20,
      randomConditions: false,
      historyYears: 7,
      given: ['Mateo', 'Ray'],
      family: 'Lindgren',
      zHeight: 1.2,
      zWeight: 0.9,
    }),
  'roster-centenarian': (a, base) =>
    buildRecord({
      ...base,
      sex: 'female',
      birthDay: a - years(102) - 75,
      conditions: ['hypertension', 'osteoarthritis', 'afib'],
      historyYears: 4,
      given: ['Edith', 'Rose'],
      family: 'Callahan',
    }),
  'roster-multiple-names': (a, base) =>
    buildRecord({
      ...base,
      sex: 'female',
      birthDay: a - years(47) - 200,
      historyYears: 3,
      given: ['Margaret', 'Anne'],
      family: 'Delacroix',
      customizePatient: (p) => {
        p.name = [
          { use: 'official', family: 'Delacroix', given: ['Margaret', 'Anne'], prefix: ['Mrs.'], period: { start: toDate(a - years(9)) } },
          { use: 'usual', given: ['Maggie'], family: 'Delacroix' },
          { use: 'old', family: 'Brennan', given: ['Margaret', 'Anne'], period: { start: toDate(a - years(22)), end: toDate(a - years(12)) } },
          { use: 'maiden', family: 'Kowalczyk', given: ['Margaret', 'Anne'], period: { end: toDate(a - years(22)) } },
        ];
      },
    }),
  'roster-non-ascii': (a, base) =>
    buildRecord({
      ...base,
      sex: 'female',
      birthDay: a - years(29) - 11,
      historyYears: 3,
      given: ['Zoë', 'Siân'],
      family: 'Ñúñez-Ødegård',
      customizePatient: (p) => {
        p.name?.push({ use: 'usual', text: '山田 花子', family: '山田', given: ['花子'] });
        p.address = [{ use: 'home', line: ['Rue de l’Église 7', 'Bâtiment B'], city: 'Montréal-Nord', state: 'VT', postalCode: '05401', country: 'US' }];
      },
    }),
  'roster-long-name': (a, base) =>
    buildRecord({
      ...base,
      sex: 'male',
      birthDay: a - years(52) - 300,
      historyYears: 3,
      given: ['Maximilian', 'Alexander', 'Konstantin', 'Bartholomew', 'Friedrich-Wilhelm', 'Sebastiano'],
      family: 'Wolfeschlegelsteinhausenbergerdorff-Vandenberghe-Featherstonehaugh',
      customizePatient: (p) => {
        const n = p.name?.[0];
        if (n) n.suffix = ['Jr.', 'PhD'];
        p.address = [
          {
            use: 'home',
            line: [
              '1234 Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch Memorial Boulevard, Apartment 1207, Building C, Entrance from the North Courtyard',
            ],
            city: 'North Brookfield',
            state: 'MA',
            postalCode: '01535',
            country: 'US',
          },
        ];
      },
    }),
  'roster-single-name': (a, base) =>
    buildRecord({
      ...base,
      sex: 'male',
      birthDay: a - years(61) - 5,
      historyYears: 3,
      customizePatient: (p) => {
        // Mononym: US Core us-core-6 accepts a name with a family part only.
        p.name = [{ use: 'official', text: 'Teller', family: 'Teller' }];
      },
    }),
  'roster-unknown-gender': (a, base) =>
    buildRecord({
      ...base,
      sex: 'female',
      gender: 'unknown',
      birthDay: a - years(33) - 90,
      historyYears: 3,
      given: ['Robin'],
      family: 'Castellanos',
      customizePatient: (p) => {
        const ext = p.extension?.find((e) => e.url === PROFILE.birthSex);
        if (ext) ext.valueCode = 'UNK';
      },
    }),
  'roster-moved': (a, base) =>
    buildRecord({
      ...base,
      sex: 'male',
      birthDay: a - years(41) - 60,
      historyYears: 4,
      given: ['Daniel'],
      family: 'Moreau',
      customizePatient: (p) => {
        const rng = new Rng(mixSeed(hashId('roster-moved'), 2));
        const moves = [a - years(2), a - years(5), a - years(9), a - years(16)];
        p.address = [
          { ...homeAddress(rng), period: { start: toDate(moves[0] ?? a) } },
          { ...homeAddress(rng, 'work'), period: { start: toDate(moves[1] ?? a) } },
          { ...homeAddress(rng, 'old'), period: { start: toDate(moves[1] ?? a), end: toDate((moves[0] ?? a) - 1) } },
          { ...homeAddress(rng, 'old'), period: { start: toDate(moves[2] ?? a), end: toDate((moves[1] ?? a) - 1) } },
          { ...homeAddress(rng, 'old'), period: { start: toDate(moves[3] ?? a), end: toDate((moves[2] ?? a) - 1) } },
        ];
      },
    }),
  'roster-demographics-only': (a, base) =>
    buildRecord({ ...base, sex: 'female', birthDay: a - years(38) - 150, historyYears: 1, demographicsOnly: true, given: ['Nadia'], family: 'Petrova' }),
  'roster-paging': (a, base) => pagingRecord(a, base),
  'roster-data-absent': (a, base) => dataAbsentRecord(a, base),
  'roster-corrections': (a, base) => correctionsRecord(a, base),
  'roster-html-name': (a, base) =>
    buildRecord({
      ...base,
      sex: 'male',
      birthDay: a - years(27) - 33,
      historyYears: 2,
      given: ['<script>alert("pwned")</script>', "Robert');DROP TABLE Patient;--"],
      family: 'O\'Brien & <b>Sons</b> "Tables"',
      customizePatient: (p) => {
        p.address = [{ use: 'home', line: ['<img src=x onerror=alert(1)> 12 Elm St'], city: 'Springfield', state: 'MA', postalCode: '01103', country: 'US' }];
      },
    }),
  'roster-twin-a': (a, base) => twin(a, base, 1),
  'roster-twin-b': (a, base) => twin(a, base, 2),
};

/** Builds one roster patient's record. */
export function generateRosterPatient(id: RosterId, opts: RosterOptions = {}): PatientRecord {
  const anchorDay = parseDay(opts.anchorDate ?? today());
  const rng = new Rng(mixSeed(hashId(id), 0x7057e5));
  return ROSTER[id](anchorDay, { id, rng, anchorDay });
}

/**
 * The edge-case roster, one record at a time (the paging patient's 5,000 resources are only
 * built when the iteration reaches it). Ids are fixed and do not depend on any seed.
 */
export function* generateRoster(opts: RosterOptions = {}): Generator<PatientRecord> {
  for (const id of ROSTER_IDS) yield generateRosterPatient(id, opts);
}

// ---- special records ------------------------------------------------------------------------

/**
 * Long-standing diabetic whose record is topped up with daily home glucose readings to exactly
 * PAGING_RECORD_SIZE resources: enough for any app to have to follow `next` links.
 */
function pagingRecord(anchorDay: number, base: Pick<RecordSpec, 'id' | 'rng' | 'anchorDay'>): PatientRecord {
  const record = buildRecord({
    ...base,
    sex: 'male',
    birthDay: anchorDay - years(74) - 210,
    conditions: ['diabetes', 'hypertension', 'ckd', 'hyperlipidemia'],
    historyYears: 12,
    given: ['Walter', 'Henry'],
    family: 'Abernathy',
  });
  const { resources } = record;
  if (resources.length > PAGING_RECORD_SIZE) throw new Error(`paging record base has ${resources.length} resources`);
  const rng = base.rng;
  const code = loinc('41653-7', 'Glucose [Mass/volume] in Capillary blood by Glucometer');
  const subject = { reference: `Patient/${base.id}`, display: 'Walter Abernathy' };
  let day = anchorDay - 1;
  let n = 0;
  while (resources.length < PAGING_RECORD_SIZE) {
    // Readings before breakfast and before dinner, newest first.
    const minute = n % 2 === 0 ? 11 * 60 + rng.int(0, 60) : 22 * 60 + rng.int(0, 50);
    const value = Math.round(rng.normal(n % 2 === 0 ? 128 : 152, 18));
    const obs: Observation = {
      resourceType: 'Observation',
      id: `${base.id}-home${n + 1}`,
      meta: { profile: [PROFILE.lab] },
      status: 'final',
      category: [{ coding: [coding(OBSERVATION_CATEGORY.laboratory)], text: 'Laboratory' }],
      code: concept(code),
      subject,
      effectiveDateTime: toDateTime(day, minute),
      issued: toDateTime(day, minute + 1),
      performer: [subject],
      valueQuantity: { value, unit: 'mg/dL', system: SYSTEM.ucum, code: 'mg/dL' },
      interpretation: [
        value > 180
          ? { coding: [{ system: SYSTEM.interpretation, code: 'H', display: 'High' }], text: 'High' }
          : value < 70
            ? { coding: [{ system: SYSTEM.interpretation, code: 'L', display: 'Low' }], text: 'Low' }
            : { coding: [{ system: SYSTEM.interpretation, code: 'N', display: 'Normal' }], text: 'Normal' },
      ],
      referenceRange: [
        {
          low: { value: 70, unit: 'mg/dL', system: SYSTEM.ucum, code: 'mg/dL' },
          high: { value: 180, unit: 'mg/dL', system: SYSTEM.ucum, code: 'mg/dL' },
          text: '70-180 mg/dL (self-monitoring target)',
        },
      ],
      device: { display: 'Home glucometer' },
    };
    resources.push(obs);
    n++;
    if (n % 2 === 0) day--;
  }
  return record;
}

function findLast<T extends Resource>(resources: readonly Resource[], type: T['resourceType'], pred: (r: T) => boolean = () => true): T | undefined {
  for (let i = resources.length - 1; i >= 0; i--) {
    const r = resources[i];
    if (r?.resourceType === type && pred(r as T)) return r as T;
  }
  return undefined;
}

/** Declined answers and data-absent-reason values where US Core allows them. */
function dataAbsentRecord(anchorDay: number, base: Pick<RecordSpec, 'id' | 'rng' | 'anchorDay'>): PatientRecord {
  const record = buildRecord({
    ...base,
    sex: 'male',
    birthDay: anchorDay - years(47) - 77,
    conditions: ['depression', 'copd'],
    historyYears: 3,
    smoking: 'unknown',
    given: ['Samuel'],
    family: 'Achterberg',
    customizePatient: (p) => {
      p.extension = [
        raceExtension([ASKED_DECLINED], 'Declined to answer'),
        ethnicityExtension(ASKED_DECLINED, 'Declined to answer'),
        { url: PROFILE.birthSex, valueCode: 'M' },
      ];
      // No contact details on file: US Core requires system and value on every telecom, so the
      // element is left out rather than carrying a data-absent-reason.
      delete p.telecom;
      p.maritalStatus = { coding: [{ system: SYSTEM.nullFlavor, code: 'UNK', display: 'unknown' }], text: 'Declined to answer' };
    },
  });
  const { resources } = record;
  for (const r of resources) {
    if (r.resourceType !== 'Observation') continue;
    const code = r.code?.coding?.[0]?.code;
    if (code === '88122-7' || code === '88123-5' || code === '55758-7' || code === '44261-6') {
      delete r.valueCodeableConcept;
      delete r.valueQuantity;
      r.dataAbsentReason = concept(DATA_ABSENT.askedDeclined);
    }
  }
  // The screening forms hold the same declined answers: their questions stay unanswered.
  for (const r of resources) {
    if (r.resourceType !== 'QuestionnaireResponse') continue;
    for (const item of r.item ?? []) delete item.answer;
  }
  // The patient declined the blood pressure cuff at the last visit.
  const bp = findLast<Observation>(resources, 'Observation', (o) => o.code?.coding?.[0]?.code === '85354-9');
  if (bp) {
    for (const c of bp.component ?? []) {
      delete c.valueQuantity;
      c.dataAbsentReason = concept(DATA_ABSENT.askedDeclined);
    }
    delete bp.interpretation;
  }
  // A chest X-ray that could not be read: its impression result carries the reason instead.
  const impression = findLast<Observation>(resources, 'Observation', (o) => o.code?.coding?.[0]?.code === '19005-8');
  if (impression) {
    delete impression.valueString;
    impression.dataAbsentReason = concept(DATA_ABSENT.error);
    const report = findLast<DiagnosticReport>(resources, 'DiagnosticReport', (d) =>
      (d.result ?? []).some((r) => r.reference === `Observation/${impression.id ?? ''}`),
    );
    if (report) {
      report.conclusion = 'Non-diagnostic study because of patient motion. Repeat radiograph advised.';
      const text = `${report.code?.text ?? 'Chest X-ray'}\nDate: ${report.effectiveDateTime ?? ''}\n\nIMPRESSION:\n${report.conclusion}\n`;
      for (const form of report.presentedForm ?? []) form.data = Buffer.from(text, 'utf8').toString('base64');
    }
  }
  // A weight that was not measured (wheelchair scale unavailable).
  const weight = findLast<Observation>(resources, 'Observation', (o) => o.code?.coding?.[0]?.code === '29463-7');
  if (weight) {
    delete weight.valueQuantity;
    weight.dataAbsentReason = concept(DATA_ABSENT.notPerformed);
  }
  return record;
}

/** Entered-in-error and amended records next to the correct ones. */
function correctionsRecord(anchorDay: number, base: Pick<RecordSpec, 'id' | 'rng' | 'anchorDay'>): PatientRecord {
  const record = buildRecord({
    ...base,
    sex: 'female',
    birthDay: anchorDay - years(58) - 12,
    conditions: ['diabetes', 'hypertension'],
    historyYears: 3,
    given: ['Grace', 'Helen'],
    family: 'Oyelaran',
  });
  const { resources } = record;
  const id = base.id;
  // A weight keyed in pounds into the kilogram field, then marked entered-in-error.
  const weight = findLast<Observation>(resources, 'Observation', (o) => o.code?.coding?.[0]?.code === '29463-7');
  if (weight?.valueQuantity?.value !== undefined) {
    const wrong: Observation = structuredClone(weight);
    wrong.id = `${id}-obs-error1`;
    wrong.status = 'entered-in-error';
    wrong.valueQuantity = { ...weight.valueQuantity, value: Math.round(weight.valueQuantity.value * 2.20462 * 10) / 10 };
    wrong.note = [{ text: 'Entered in error: value was recorded in pounds. See the corrected measurement.' }];
    resources.push(wrong);
  }
  // An amended HbA1c: the lab corrected a transcription error after release.
  const a1c = findLast<Observation>(resources, 'Observation', (o) => o.code?.coding?.[0]?.code === '4548-4');
  if (a1c?.valueQuantity?.value !== undefined) {
    a1c.status = 'amended';
    a1c.note = [{ text: `Amended: originally reported as ${(a1c.valueQuantity.value + 1).toFixed(1)} % because of a transcription error.` }];
    const report = findLast<DiagnosticReport>(resources, 'DiagnosticReport', (d) =>
      (d.result ?? []).some((r) => r.reference === `Observation/${a1c.id ?? ''}`),
    );
    if (report) {
      report.status = 'amended';
      report.conclusion = 'Amended report: HbA1c value corrected after release.';
    }
  }
  // A diagnosis attached to the wrong patient chart, retracted.
  const condition = findLast<Condition>(resources, 'Condition');
  if (condition) {
    const wrong: Condition = structuredClone(condition);
    wrong.id = `${id}-cond-error1`;
    delete wrong.clinicalStatus;
    delete wrong.abatementDateTime;
    wrong.verificationStatus = { coding: [{ system: SYSTEM.conditionVerification, code: 'entered-in-error', display: 'Entered in Error' }] };
    wrong.code = concept({ system: SYSTEM.snomed, code: '22298006', display: 'Myocardial infarction (disorder)' });
    wrong.note = [{ text: 'Entered in error: documented on the wrong chart.' }];
    resources.push(wrong);
  }
  // A prescription sent for the wrong drug and voided.
  const mr = findLast<MedicationRequest>(resources, 'MedicationRequest');
  if (mr) {
    const wrong: MedicationRequest = structuredClone(mr);
    wrong.id = `${id}-mr-error1`;
    wrong.status = 'entered-in-error';
    delete wrong.priorPrescription;
    wrong.note = [{ text: 'Voided: ordered for the wrong patient.' }];
    resources.push(wrong);
  }
  // An allergy recorded by mistake.
  const enc = findLast<Resource>(resources, 'Encounter');
  const allergy: AllergyIntolerance = {
    resourceType: 'AllergyIntolerance',
    id: `${id}-alg-error1`,
    meta: { profile: [PROFILE.allergy] },
    verificationStatus: { coding: [{ system: SYSTEM.allergyVerification, code: 'entered-in-error', display: 'Entered in Error' }] },
    code: concept({ system: SYSTEM.snomed, code: '764146007', display: 'Penicillin (substance)' }),
    patient: { reference: `Patient/${id}` },
    ...(enc ? { encounter: { reference: `Encounter/${enc.id ?? ''}` } } : {}),
    recordedDate: toDateTime(anchorDay - 30, 15 * 60),
    note: [{ text: 'Entered in error: the patient tolerates penicillin.' }],
  };
  resources.push(allergy);
  // A note replaced by an addendum-corrected version.
  const note = findLast<DocumentReference>(resources, 'DocumentReference');
  if (note) {
    const corrected: DocumentReference = structuredClone(note);
    corrected.id = `${id}-doc-amended1`;
    corrected.docStatus = 'amended';
    corrected.identifier = [{ system: 'urn:ietf:rfc:3986', value: `urn:oid:2.25.${hashId(`${id}-doc-amended1`)}` }];
    corrected.relatesTo = [{ code: 'replaces', target: { reference: `DocumentReference/${note.id ?? ''}` } }];
    const original = Buffer.from(note.content?.[0]?.attachment?.data ?? '', 'base64').toString('utf8');
    const amendedText = `${original}\nADDENDUM (${toDate(anchorDay - 20)}): Medication list reviewed again with the patient; no changes.\n`;
    const attachment = corrected.content?.[0]?.attachment;
    if (attachment) attachment.data = Buffer.from(amendedText, 'utf8').toString('base64');
    note.status = 'superseded';
    resources.push(corrected);
  }
  return record;
}
