import { timingSafeEqual } from 'node:crypto';
import type { HumanName, Patient, Practitioner, RelatedPerson } from '@medplum/fhirtypes';
import { getDb } from '../db';
import type { Db } from '../db';
import { normalizeString } from '../fhir/indexer';
import { formatHumanName } from '../fhir/patient-directory';
import { isFhirId, referencePattern } from '../fhir-id';

/**
 * Sandbox personas: every Practitioner, Patient and RelatedPerson of a sandbox can sign in (a
 * RelatedPerson as a proxy for the patient it is related to, e.g. a parent for a child). There is
 * no real PHI here, so all personas share one published password (shown on the sign-in page).
 */
export const PERSONA_PASSWORD = 'sandbox';

export type PersonaKind = 'practitioner' | 'patient' | 'related-person';
export type FhirUserRef = `Practitioner/${string}` | `Patient/${string}` | `RelatedPerson/${string}`;
type PersonaResource = Patient | Practitioner | RelatedPerson;

export interface Persona {
  readonly kind: PersonaKind;
  /** FHIR resource id of the Practitioner, Patient or RelatedPerson. */
  readonly id: string;
  /** `Practitioner/{id}`, `Patient/{id}` or `RelatedPerson/{id}`: the `fhirUser` claim. */
  readonly fhirUser: FhirUserRef;
  /** A proxy's patient (RelatedPerson.patient): the only patient a related person acts for. */
  readonly patientId?: string;
  readonly name: string;
  /** What to type in the username field (`first.last`; the resource id always works too). */
  readonly username: string;
  /** One line under the name: NPI for practitioners, birth date for patients, the patient for proxies. */
  readonly detail: string;
}

const RESOURCE_TYPE: Record<PersonaKind, PersonaResource['resourceType']> = {
  practitioner: 'Practitioner',
  patient: 'Patient',
  'related-person': 'RelatedPerson',
};
const KIND_OF: Record<PersonaResource['resourceType'], PersonaKind> = {
  Practitioner: 'practitioner',
  Patient: 'patient',
  RelatedPerson: 'related-person',
};
/** The search parameter whose index rows hold a persona's family name. */
const FAMILY_PARAM: Record<PersonaKind, string> = { practitioner: 'family', patient: 'family', 'related-person': 'name' };
const USERNAME_PART = /^[a-z0-9]+$/;
const READABLE_NAME = /^[\p{L}\p{M}][\p{L}\p{M} .'’-]*$/u;

function usernamePart(s: string | undefined): string {
  return normalizeString(s ?? '').replace(/[^a-z0-9]/g, '');
}

function officialName(names: readonly HumanName[] | undefined): HumanName | undefined {
  return names?.find((n) => n.use === 'official') ?? names?.[0];
}

/**
 * The username of a persona: `given.family` in lower-case ASCII (accents and punctuation dropped),
 * or the resource id when the name has no usable letters (the roster's hostile names).
 */
export function usernameFor(resource: PersonaResource): string {
  const name = officialName(resource.name);
  const given = usernamePart(name?.given?.[0]);
  const family = usernamePart(name?.family);
  return given && family ? `${given}.${family}` : (resource.id ?? '');
}

const PATIENT_REFERENCE = referencePattern(['Patient']);

/** The persona of a Practitioner, Patient or RelatedPerson resource. */
export function toPersona(resource: PersonaResource): Persona {
  const kind = KIND_OF[resource.resourceType];
  const id = resource.id ?? '';
  let detail: string;
  let patientId: string | undefined;
  if (resource.resourceType === 'Practitioner') {
    const npi = resource.identifier?.find((i) => i.system === 'http://hl7.org/fhir/sid/us-npi')?.value;
    detail = npi ? `Practitioner · NPI ${npi}` : 'Practitioner';
  } else if (resource.resourceType === 'RelatedPerson') {
    patientId = PATIENT_REFERENCE.exec(resource.patient?.reference ?? '')?.[2];
    const relationship = resource.relationship?.[0]?.text ?? resource.relationship?.[0]?.coding?.[0]?.display ?? 'Related person';
    detail = `${relationship} of ${resource.patient?.display ?? patientId ?? 'a patient'} · signs in for them`;
  } else {
    detail = resource.birthDate ? `Patient · born ${resource.birthDate}` : 'Patient';
  }
  const persona: Persona = {
    kind,
    id,
    fhirUser: `${RESOURCE_TYPE[kind]}/${id}` as FhirUserRef,
    name: formatHumanName(resource.name),
    username: usernameFor(resource),
    detail,
  };
  return patientId ? { ...persona, patientId } : persona;
}

const PERSONA_REFERENCE = referencePattern(['Practitioner', 'Patient', 'RelatedPerson']);

/** Parses `Practitioner/{id}`, `Patient/{id}` or `RelatedPerson/{id}`. */
export function parseFhirUser(ref: string): { kind: PersonaKind; id: string } | null {
  const m = PERSONA_REFERENCE.exec(ref);
  if (!m) return null;
  return { kind: KIND_OF[m[1] as PersonaResource['resourceType']], id: m[2]! };
}

/** Numeric-aware id order, so practitioner-2 comes before practitioner-10. */
export function compareIds(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

async function loadPersona(sandboxId: string, kind: PersonaKind, id: string, db: Db): Promise<Persona | null> {
  const row = await db.resource.findUnique({
    where: { sandboxId_type_id: { sandboxId, type: RESOURCE_TYPE[kind], id } },
    select: { content: true, deleted: true },
  });
  if (!row || row.deleted) return null;
  return toPersona(JSON.parse(row.content) as PersonaResource);
}

/** The persona behind a `fhirUser` reference, or null when that resource does not exist. */
export async function findPersonaByFhirUser(sandboxId: string, ref: string, db: Db = getDb()): Promise<Persona | null> {
  const parsed = parseFhirUser(ref);
  return parsed ? loadPersona(sandboxId, parsed.kind, parsed.id, db) : null;
}

/**
 * The persona a username names: `first.last` (practitioners first, then patients, then related
 * persons; the lowest id when two people share a name), a resource id (`practitioner-3`), or a
 * reference (`Patient/abc`, `RelatedPerson/abc`).
 */
export async function findPersonaByUsername(sandboxId: string, username: string, db: Db = getDb()): Promise<Persona | null> {
  const input = username.trim();
  if (!input || input.length > 200) return null;
  const byRef = parseFhirUser(input);
  if (byRef) return loadPersona(sandboxId, byRef.kind, byRef.id, db);

  const wanted = input.toLowerCase();
  const dot = wanted.indexOf('.');
  if (dot > 0) {
    const family = wanted.slice(dot + 1);
    const given = wanted.slice(0, dot);
    if (USERNAME_PART.test(given) && USERNAME_PART.test(family)) {
      for (const kind of ['practitioner', 'patient', 'related-person'] as const) {
        const rows = await db.searchString.findMany({
          where: { sandboxId, type: RESOURCE_TYPE[kind], param: FAMILY_PARAM[kind], value: { startsWith: family.slice(0, 2) } },
          select: { resourceId: true },
          take: 5000,
        });
        const ids = [...new Set(rows.map((r) => r.resourceId))].sort(compareIds);
        if (ids.length === 0) continue;
        const resources = await db.resource.findMany({
          where: { sandboxId, type: RESOURCE_TYPE[kind], deleted: false, id: { in: ids } },
          select: { id: true, content: true },
        });
        const match = resources
          .sort((a, b) => compareIds(a.id, b.id))
          .map((r) => JSON.parse(r.content) as PersonaResource)
          .find((r) => usernameFor(r) === wanted);
        if (match) return toPersona(match);
      }
    }
  }
  if (isFhirId(input)) {
    return (
      (await loadPersona(sandboxId, 'practitioner', input, db)) ??
      (await loadPersona(sandboxId, 'patient', input, db)) ??
      (await loadPersona(sandboxId, 'related-person', input, db))
    );
  }
  return null;
}

/** Whether a password is the sandbox password (constant-time). */
export function passwordMatches(password: string): boolean {
  const a = Buffer.from(password);
  const b = Buffer.from(PERSONA_PASSWORD);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The persona when the username names one and the password is the sandbox password, else null. */
export async function verifyPersonaCredentials(sandboxId: string, username: string, password: string, db: Db = getDb()): Promise<Persona | null> {
  const ok = passwordMatches(password);
  const persona = await findPersonaByUsername(sandboxId, username, db);
  return ok && persona ? persona : null;
}

/**
 * Personas for the one-click buttons: the first practitioners by id, the first patients by id
 * whose names make a readable username and who are alive (the edge-case roster stays reachable by
 * id), and the first active related persons by id (proxies: a parent signs in for a child).
 */
export async function listFeaturedPersonas(
  sandboxId: string,
  counts: { practitioners?: number; patients?: number; relatedPersons?: number } = {},
  db: Db = getDb(),
): Promise<Persona[]> {
  const wantPractitioners = counts.practitioners ?? 4;
  const wantPatients = counts.patients ?? 4;
  const wantProxies = counts.relatedPersons ?? 2;
  const practitionerRows = await db.resource.findMany({
    where: { sandboxId, type: 'Practitioner', deleted: false },
    select: { id: true, content: true },
    take: 500,
  });
  const practitioners = practitionerRows
    .sort((a, b) => compareIds(a.id, b.id))
    .slice(0, wantPractitioners)
    .map((r) => toPersona(JSON.parse(r.content) as Practitioner));

  const patients: Persona[] = [];
  let skip = 0;
  while (patients.length < wantPatients) {
    const batch = await db.resource.findMany({
      where: { sandboxId, type: 'Patient', deleted: false },
      select: { content: true },
      orderBy: { id: 'asc' },
      skip,
      take: 50,
    });
    if (batch.length === 0) break;
    skip += batch.length;
    for (const row of batch) {
      const patient = JSON.parse(row.content) as Patient;
      const persona = toPersona(patient);
      // The roster's edge cases (markup in names, no name, deceased) stay reachable by id, not as buttons.
      if (persona.username === persona.id || !READABLE_NAME.test(persona.name) || patient.deceasedBoolean || patient.deceasedDateTime) continue;
      patients.push(persona);
      if (patients.length === wantPatients) break;
    }
    if (skip >= 500) break;
  }
  const proxies: Persona[] = [];
  if (wantProxies > 0) {
    const rows = await db.resource.findMany({ where: { sandboxId, type: 'RelatedPerson', deleted: false }, select: { id: true, content: true }, take: 500 });
    for (const row of rows.sort((a, b) => compareIds(a.id, b.id))) {
      const person = JSON.parse(row.content) as RelatedPerson;
      const persona = toPersona(person);
      if (person.active === false || !persona.patientId || persona.username === persona.id || !READABLE_NAME.test(persona.name)) continue;
      proxies.push(persona);
      if (proxies.length === wantProxies) break;
    }
  }
  return [...practitioners, ...patients, ...proxies];
}
