import type { AllergyIntolerance, Encounter, HumanName, Patient, Practitioner } from '@medplum/fhirtypes';
import { getDb } from '../db';
import type { Db } from '../db';
import { dateRange } from '../fhir/dates';
import { normalizeString } from '../fhir/indexer';
import { FHIR_ID_SOURCE } from '../fhir-id';

/**
 * Patient and encounter look-ups for the people-facing screens: the launcher's pickers, the
 * authorization server's patient and encounter pickers, and the EHR frame's patient banner.
 * Reads the FHIR store's tables and search index directly (no access policy: these screens act as
 * the EHR itself, never on behalf of an app's token).
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
  /** Words starting the text of one of the patient's conditions, e.g. "diabetes". */
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
    identifiers.find((i) => i.system === MRN_SYSTEM) ??
    identifiers.find((i) => i.type?.coding?.some((c) => c.code === MR_TYPE_CODE)) ??
    identifiers[0];
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
    type?.text ?? type?.coding?.[0]?.display ?? encounter.reasonCode?.[0]?.text ?? encounter.reasonCode?.[0]?.coding?.[0]?.display ?? encounter.serviceType?.text ?? 'Encounter';
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

function intersect(a: Set<string> | null, b: Iterable<string>): Set<string> {
  if (a === null) return new Set(b);
  const next = new Set<string>();
  for (const id of b) if (a.has(id)) next.add(id);
  return next;
}

const MAX_CANDIDATES = 5000;

/** Patients matching every given criterion (FHIR search semantics: string prefix, token exact, date overlap), sorted by name. */
export async function searchPatients(sandboxId: string, search: PatientSearch, db: Db = getDb()): Promise<PatientSummary[]> {
  const limit = Math.min(Math.max(search.limit ?? 20, 1), 200);
  let ids: Set<string> | null = null;

  const words = normalizeString(search.name ?? '')
    .split(/[\s,]+/)
    .filter(Boolean)
    .slice(0, 5);
  for (const word of words) {
    const rows = await db.searchString.findMany({
      where: { sandboxId, type: 'Patient', param: 'name', value: { startsWith: word } },
      select: { resourceId: true },
      take: MAX_CANDIDATES,
    });
    ids = intersect(ids, rows.map((r) => r.resourceId));
    if (ids.size === 0) return [];
  }

  const identifier = search.identifier?.trim();
  if (identifier) {
    const bar = identifier.indexOf('|');
    const system = bar >= 0 ? identifier.slice(0, bar) : undefined;
    const code = bar >= 0 ? identifier.slice(bar + 1) : identifier;
    const rows = await db.searchToken.findMany({
      where: { sandboxId, type: 'Patient', param: 'identifier', code, ...(system ? { system } : {}) },
      select: { resourceId: true },
      take: MAX_CANDIDATES,
    });
    ids = intersect(ids, rows.map((r) => r.resourceId));
    if (ids.size === 0) return [];
  }

  const birthdate = search.birthdate?.trim();
  if (birthdate) {
    const range = dateRange(birthdate);
    if (!range) return [];
    const rows = await db.searchDate.findMany({
      where: { sandboxId, type: 'Patient', param: 'birthdate', start: { lte: range[1] }, end: { gte: range[0] } },
      select: { resourceId: true },
      take: MAX_CANDIDATES,
    });
    ids = intersect(ids, rows.map((r) => r.resourceId));
    if (ids.size === 0) return [];
  }

  if (search.gender) {
    const rows = await db.searchToken.findMany({
      where: { sandboxId, type: 'Patient', param: 'gender', code: search.gender },
      select: { resourceId: true },
      take: MAX_CANDIDATES,
    });
    ids = intersect(ids, rows.map((r) => r.resourceId));
    if (ids.size === 0) return [];
  }

  if (search.minAge !== undefined || search.maxAge !== undefined) {
    // Born between (today - maxAge - 1 year, today - minAge].
    const now = new Date();
    const latest = new Date(Date.UTC(now.getUTCFullYear() - (search.minAge ?? 0), now.getUTCMonth(), now.getUTCDate())).getTime();
    const earliest = search.maxAge === undefined ? -8.64e15 : new Date(Date.UTC(now.getUTCFullYear() - search.maxAge - 1, now.getUTCMonth(), now.getUTCDate() + 1)).getTime();
    const rows = await db.searchDate.findMany({
      where: { sandboxId, type: 'Patient', param: 'birthdate', start: { gte: earliest, lte: latest + 86_399_999 } },
      select: { resourceId: true },
      take: MAX_CANDIDATES,
    });
    ids = intersect(ids, rows.map((r) => r.resourceId));
    if (ids.size === 0) return [];
  }

  const condition = normalizeString(search.condition ?? '');
  if (condition) {
    const conditions = await db.searchToken.findMany({
      where: { sandboxId, type: 'Condition', param: 'code', text: { startsWith: condition } },
      select: { resourceId: true },
      take: MAX_CANDIDATES,
    });
    const owners = await db.compartmentMember.findMany({
      where: { sandboxId, type: 'Condition', resourceId: { in: [...new Set(conditions.map((c) => c.resourceId))] } },
      select: { patientId: true },
    });
    ids = intersect(ids, owners.map((o) => o.patientId));
    if (ids.size === 0) return [];
  }

  const rows = await db.resource.findMany({
    where: { sandboxId, type: 'Patient', deleted: false, ...(ids ? { id: { in: [...ids].slice(0, MAX_CANDIDATES) } } : {}) },
    select: { content: true },
    orderBy: { id: 'asc' },
    take: ids ? undefined : 500,
  });
  return rows
    .map((r) => toPatientSummary(JSON.parse(r.content) as Patient))
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
    .slice(0, limit);
}

/** One patient's summary, or null when unknown or deleted. */
export async function findPatientSummary(sandboxId: string, patientId: string, db: Db = getDb()): Promise<PatientSummary | null> {
  const row = await db.resource.findUnique({ where: { sandboxId_type_id: { sandboxId, type: 'Patient', id: patientId } }, select: { content: true, deleted: true } });
  if (!row || row.deleted) return null;
  return toPatientSummary(JSON.parse(row.content) as Patient);
}

const INACTIVE_ALLERGY = new Set(['inactive', 'resolved']);

/** The EHR frame's patient banner: demographics, MRN and active allergies. */
export async function findPatientBanner(sandboxId: string, patientId: string, db: Db = getDb()): Promise<PatientBanner | null> {
  const summary = await findPatientSummary(sandboxId, patientId, db);
  if (!summary) return null;
  const members = await db.compartmentMember.findMany({ where: { sandboxId, patientId, type: 'AllergyIntolerance' }, select: { resourceId: true }, take: 100 });
  const rows = members.length
    ? await db.resource.findMany({ where: { sandboxId, type: 'AllergyIntolerance', deleted: false, id: { in: members.map((m) => m.resourceId) } }, select: { content: true } })
    : [];
  const allergies: string[] = [];
  for (const row of rows) {
    const allergy = JSON.parse(row.content) as AllergyIntolerance;
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
  const deleted = await db.resource.findMany({ where: { sandboxId, deleted: true, type: { in: [...counts.keys()] } }, select: { type: true, id: true }, take: MAX_CANDIDATES });
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
  const members = await db.compartmentMember.findMany({ where: { sandboxId, patientId, type: 'Encounter' }, select: { resourceId: true }, take: MAX_CANDIDATES });
  if (members.length === 0) return [];
  const rows = await db.resource.findMany({ where: { sandboxId, type: 'Encounter', deleted: false, id: { in: members.map((m) => m.resourceId) } }, select: { content: true } });
  return rows
    .map((r) => toEncounterSummary(JSON.parse(r.content) as Encounter))
    .sort((a, b) => (b.start ?? '').localeCompare(a.start ?? '') || a.id.localeCompare(b.id))
    .slice(0, limit);
}

/** One encounter with the patient it belongs to, or null. */
export async function findEncounter(sandboxId: string, encounterId: string, db: Db = getDb()): Promise<(EncounterSummary & { patientId: string | null }) | null> {
  const row = await db.resource.findUnique({ where: { sandboxId_type_id: { sandboxId, type: 'Encounter', id: encounterId } }, select: { content: true, deleted: true } });
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
  const rows = await db.resource.findMany({ where: { sandboxId, type: 'Practitioner', deleted: false }, select: { content: true }, orderBy: { id: 'asc' }, take: Math.min(limit, 1000) });
  return rows
    .map((r) => toPractitionerSummary(JSON.parse(r.content) as Practitioner))
    .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}
