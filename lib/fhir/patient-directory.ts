import type { AllergyIntolerance, Condition, Encounter, HumanName, Patient, Practitioner } from '@medplum/fhirtypes';
import { getDb } from '../db';
import type { Db } from '../db';
import { FhirError } from './errors';
import { normalizeString } from './indexer';
import { searchPage, resourceOf } from './search/execute';
import type { ResourceRow } from './search/execute';
import { parseSearch } from './search/parse';
import type { SearchFilter, SearchRequest } from './search/parse';
import type { AccessScope } from './search/sql';
import { FHIR_ID_SOURCE } from '../fhir-id';

/**
 * Patient and encounter look-ups for the people-facing screens: the launcher's pickers, the
 * authorization server's patient and encounter pickers, and the EHR frame's patient banner.
 * Searches go through the FHIR search engine (lib/fhir/search) with no compartment or granular
 * restriction: these screens act as the EHR itself, never on behalf of an app's token.
 */

/** MRN identifier system of the synthetic dataset. */
export const MRN_SYSTEM = 'http://smart-sandbox.example.org/fhir/sid/mrn';
const MR_TYPE_CODE = 'MR';
const PATIENT_REFERENCE_TAIL = new RegExp(`(?:^|/)Patient/(${FHIR_ID_SOURCE})$`);

export interface PatientSummary {
  readonly id: string;
  /** Display name, e.g. "Ms. Jane Q Doe" without prefix: "Jane Q Doe". */
  readonly name: string;
  readonly birthDate: string | null;
  readonly gender: string | null;
  readonly mrn: string | null;
  readonly deceased: boolean;
}

export interface PatientBanner extends PatientSummary {
  /** Active allergies (substance names), for the banner's allergy badge. */
  readonly allergies: readonly string[];
}

export interface EncounterSummary {
  readonly id: string;
  readonly status: string | null;
  /** ISO start of the encounter period, when known. */
  readonly start: string | null;
  readonly end: string | null;
  /** Encounter class (AMB, IMP, EMER, …) display or code. */
  readonly classLabel: string | null;
  /** Type or reason, in words. */
  readonly description: string;
}

export interface PractitionerSummary {
  readonly id: string;
  readonly name: string;
  readonly npi: string | null;
}

export interface PatientSearch {
  /** Words that must each start one part of a name (family, given, prefix, text). */
  readonly name?: string;
  /** YYYY, YYYY-MM or YYYY-MM-DD. */
  readonly birthdate?: string;
  /** Identifier value (MRN, SSN…), optionally `system|value`. */
  readonly identifier?: string;
  readonly gender?: string;
  /** Inclusive age range in years. */
  readonly minAge?: number;
  readonly maxAge?: number;
  /** Words in the text of one of the patient's conditions (FHIR `code:text`), e.g. "diabetes". */
  readonly condition?: string;
  readonly limit?: number;
}

/** Display name of a FHIR HumanName list: the official (or first) name as "given family" or its text. */
export function formatHumanName(names: readonly HumanName[] | undefined): string {
  if (!names || names.length === 0) return '(no name)';
  const name = names.find((n) => n.use === 'official') ?? names.find((n) => n.use !== 'old' && n.use !== 'maiden') ?? names[0];
  if (!name) return '(no name)';
  const parts = [...(name.given ?? []), name.family ?? ''].map((s) => s.trim()).filter(Boolean);
  if (parts.length) return parts.join(' ');
  return name.text?.trim() || '(no name)';
}

/** A Patient resource as the pickers and banner show it. */
export function toPatientSummary(patient: Patient): PatientSummary {
  const identifiers = patient.identifier ?? [];
  const mrn =
    identifiers.find((i) => i.system === MRN_SYSTEM) ?? identifiers.find((i) => i.type?.coding?.some((c) => c.code === MR_TYPE_CODE)) ?? identifiers[0];
  return {
    id: patient.id ?? '',
    name: formatHumanName(patient.name),
    birthDate: patient.birthDate ?? null,
    gender: patient.gender ?? null,
    mrn: mrn?.value ?? null,
    deceased: Boolean(patient.deceasedBoolean || patient.deceasedDateTime),
  };
}

/** An Encounter resource as the encounter pickers show it. */
export function toEncounterSummary(encounter: Encounter): EncounterSummary {
  const type = encounter.type?.[0];
  const description =
    type?.text ??
    type?.coding?.[0]?.display ??
    encounter.reasonCode?.[0]?.text ??
    encounter.reasonCode?.[0]?.coding?.[0]?.display ??
    encounter.serviceType?.text ??
    'Encounter';
  return {
    id: encounter.id ?? '',
    status: encounter.status ?? null,
    start: encounter.period?.start ?? null,
    end: encounter.period?.end ?? null,
    classLabel: encounter.class?.display ?? encounter.class?.code ?? null,
    description,
  };
}

/** Age in whole years on a given day. */
export function ageOn(birthDate: string, today: Date = new Date()): number {
  const [y, m = 1, d = 1] = birthDate.split('-').map(Number);
  if (y === undefined || Number.isNaN(y)) return NaN;
  let age = today.getUTCFullYear() - y;
  if (today.getUTCMonth() + 1 < m || (today.getUTCMonth() + 1 === m && today.getUTCDate() < d)) age--;
  return age;
}

const MAX_CANDIDATES = 5000;

/** The EHR's own view of the store: no compartment, no granular filter (these screens never act for an app's token). */
const EHR_ACCESS: AccessScope = { compartmentPatientId: null, filters: null };

/** A value written as FHIR search syntax (FHIR R4 search.html §3.1.1.3.2: `\`, `,`, `$`, `|` escaped). */
function searchValue(value: string): string {
  return value.replace(/[\\,$|]/g, (c) => `\\${c}`);
}

/** YYYY-MM-DD of a UTC day. */
function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * One page of a FHIR search run by the FHIR search engine (lib/fhir/search) as the EHR itself; a
 * value the engine refuses (a malformed date, say) matches nothing.
 */
async function ehrSearch(
  db: Db,
  sandboxId: string,
  type: string,
  params: [string, string][],
  count: number,
  extra: SearchFilter[] = [],
): Promise<ResourceRow[] | null> {
  let req: SearchRequest;
  try {
    req = parseSearch(type, params, { strict: true, base: null });
  } catch (err) {
    if (err instanceof FhirError) return null;
    throw err;
  }
  const page = await searchPage(db, sandboxId, { ...req, filters: [...req.filters, ...extra], count }, EHR_ACCESS);
  return page.rows;
}

/**
 * Patients matching every given criterion, sorted by name: a Patient search of the FHIR search
 * engine (`name` prefix per word, `identifier` token, `birthdate` overlap, `gender`, an age range
 * as `birthdate=ge…&birthdate=le…`), and for `condition` the patients of a `Condition?code:text=` search.
 */
export async function searchPatients(sandboxId: string, search: PatientSearch, db: Db = getDb()): Promise<PatientSummary[]> {
  const limit = Math.min(Math.max(search.limit ?? 20, 1), 200);
  const params: [string, string][] = [];
  for (const word of normalizeString(search.name ?? '')
    .split(/[\s,]+/)
    .filter(Boolean)
    .slice(0, 5))
    params.push(['name', searchValue(word)]);
  const identifier = search.identifier?.trim();
  if (identifier) {
    const bar = identifier.indexOf('|');
    params.push(['identifier', bar >= 0 ? `${searchValue(identifier.slice(0, bar))}|${searchValue(identifier.slice(bar + 1))}` : searchValue(identifier)]);
  }
  const birthdate = search.birthdate?.trim();
  if (birthdate) params.push(['birthdate', searchValue(birthdate)]);
  if (search.gender) params.push(['gender', searchValue(search.gender)]);
  if (search.minAge !== undefined || search.maxAge !== undefined) {
    // Born between (today - maxAge - 1 year, today - minAge].
    const now = new Date();
    params.push(['birthdate', `le${day(Date.UTC(now.getUTCFullYear() - (search.minAge ?? 0), now.getUTCMonth(), now.getUTCDate()))}`]);
    if (search.maxAge !== undefined)
      params.push(['birthdate', `ge${day(Date.UTC(now.getUTCFullYear() - search.maxAge - 1, now.getUTCMonth(), now.getUTCDate() + 1))}`]);
  }

  const extra: SearchFilter[] = [];
  const condition = normalizeString(search.condition ?? '');
  if (condition) {
    const conditions = await ehrSearch(db, sandboxId, 'Condition', [['code:text', searchValue(condition)]], MAX_CANDIDATES);
    const owners = new Set<string>();
    for (const row of conditions ?? []) {
      const owner = PATIENT_REFERENCE_TAIL.exec((resourceOf(row) as Condition).subject?.reference ?? '')?.[1];
      if (owner) owners.add(owner);
    }
    if (owners.size === 0) return [];
    extra.push({ kind: 'id', code: '_id', values: [...owners] });
  }

  const rows = await ehrSearch(db, sandboxId, 'Patient', params, params.length || extra.length ? MAX_CANDIDATES : 500, extra);
  return (rows ?? [])
    .map((r) => toPatientSummary(resourceOf(r) as Patient))
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
    .slice(0, limit);
}

/** One patient's summary, or null when unknown or deleted. */
export async function findPatientSummary(sandboxId: string, patientId: string, db: Db = getDb()): Promise<PatientSummary | null> {
  const row = await db.resource.findUnique({
    where: { sandboxId_type_id: { sandboxId, type: 'Patient', id: patientId } },
    select: { content: true, deleted: true },
  });
  if (!row || row.deleted) return null;
  return toPatientSummary(JSON.parse(row.content) as Patient);
}

const INACTIVE_ALLERGY = new Set(['inactive', 'resolved']);

/** The EHR frame's patient banner: demographics, MRN and active allergies. */
export async function findPatientBanner(sandboxId: string, patientId: string, db: Db = getDb()): Promise<PatientBanner | null> {
  const summary = await findPatientSummary(sandboxId, patientId, db);
  if (!summary) return null;
  const rows = (await ehrSearch(db, sandboxId, 'AllergyIntolerance', [['patient', searchValue(patientId)]], 100)) ?? [];
  const allergies: string[] = [];
  for (const row of rows) {
    const allergy = resourceOf(row) as AllergyIntolerance;
    const clinical = allergy.clinicalStatus?.coding?.[0]?.code;
    const verification = allergy.verificationStatus?.coding?.[0]?.code;
    if ((clinical && INACTIVE_ALLERGY.has(clinical)) || verification === 'entered-in-error' || verification === 'refuted') continue;
    allergies.push(allergy.code?.text ?? allergy.code?.coding?.[0]?.display ?? 'Unnamed allergy');
  }
  return { ...summary, allergies: [...new Set(allergies)].sort() };
}

/** How many current resources of each type are in the patient's compartment (the patient's own record excluded), largest first. */
export async function countResourcesByType(sandboxId: string, patientId: string, db: Db = getDb()): Promise<{ type: string; count: number }[]> {
  const groups = await db.compartmentMember.groupBy({ by: ['type'], where: { sandboxId, patientId }, _count: { _all: true } });
  const counts = new Map(groups.filter((g) => g.type !== 'Patient').map((g) => [g.type, g._count._all]));
  // Deleted resources keep their compartment rows (history access checks need them): leave them out.
  const deleted = await db.resource.findMany({
    where: { sandboxId, deleted: true, type: { in: [...counts.keys()] } },
    select: { type: true, id: true },
    take: MAX_CANDIDATES,
  });
  if (deleted.length) {
    const byType = new Map<string, string[]>();
    for (const d of deleted) byType.set(d.type, [...(byType.get(d.type) ?? []), d.id]);
    for (const [type, resourceIds] of byType) {
      const gone = await db.compartmentMember.count({ where: { sandboxId, patientId, type, resourceId: { in: resourceIds } } });
      counts.set(type, (counts.get(type) ?? 0) - gone);
    }
  }
  return [...counts]
    .filter(([, count]) => count > 0)
    .map(([type, count]) => ({ type, count }))
    .sort((a, b) => b.count - a.count || a.type.localeCompare(b.type));
}

/** The patient's encounters, newest first. */
export async function listEncounters(sandboxId: string, patientId: string, limit = 50, db: Db = getDb()): Promise<EncounterSummary[]> {
  const rows = (await ehrSearch(db, sandboxId, 'Encounter', [['patient', searchValue(patientId)]], MAX_CANDIDATES)) ?? [];
  return rows
    .map((r) => toEncounterSummary(resourceOf(r) as Encounter))
    .sort((a, b) => (b.start ?? '').localeCompare(a.start ?? '') || a.id.localeCompare(b.id))
    .slice(0, limit);
}

/** One encounter with the patient it belongs to, or null. */
export async function findEncounter(
  sandboxId: string,
  encounterId: string,
  db: Db = getDb(),
): Promise<(EncounterSummary & { patientId: string | null }) | null> {
  const row = await db.resource.findUnique({
    where: { sandboxId_type_id: { sandboxId, type: 'Encounter', id: encounterId } },
    select: { content: true, deleted: true },
  });
  if (!row || row.deleted) return null;
  const encounter = JSON.parse(row.content) as Encounter;
  const subject = encounter.subject?.reference ?? '';
  const match = PATIENT_REFERENCE_TAIL.exec(subject);
  return { ...toEncounterSummary(encounter), patientId: match?.[1] ?? null };
}

/** A practitioner's display name and NPI. */
export function toPractitionerSummary(practitioner: Practitioner): PractitionerSummary {
  const npi = practitioner.identifier?.find((i) => i.system === 'http://hl7.org/fhir/sid/us-npi')?.value ?? null;
  return { id: practitioner.id ?? '', name: formatHumanName(practitioner.name), npi };
}

/** Practitioners of the sandbox, by id. */
export async function listPractitioners(sandboxId: string, limit = 100, db: Db = getDb()): Promise<PractitionerSummary[]> {
  const rows = (await ehrSearch(db, sandboxId, 'Practitioner', [], Math.min(limit, 1000))) ?? [];
  return rows.map((r) => toPractitionerSummary(resourceOf(r) as Practitioner)).sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}
