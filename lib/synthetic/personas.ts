import type { Patient, RelatedPerson } from '@medplum/fhirtypes';
import { generateResolved } from './cohort';
import { resolveOptions } from './options';
import type { GenerateOptions } from './options';
import { ROSTER_IDS, generateRosterPatient } from './roster';
import { staff } from './shared';

/**
 * Someone who can sign in to the sandbox as a user of the mock EHR or patient portal. A
 * `related-person` is a proxy: a minor's parent, who signs in for the child (`patient`).
 */
export interface Persona {
  readonly username: string;
  readonly kind: 'practitioner' | 'patient' | 'related-person';
  /** FHIR reference of the user resource, e.g. `Practitioner/practitioner-1`. */
  readonly fhirUser: string;
  readonly displayName: string;
  /** For a proxy: the patient they act for (`Patient/{id}`). */
  readonly patient?: string;
}

function slug(s: string): string {
  return s
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

/** Lowercase `first.last` in ASCII; falls back to the resource id when the name has no Latin letters. */
export function usernameFor(given: string | undefined, family: string | undefined, fallback: string): string {
  const parts = [slug(given ?? ''), slug(family ?? '')].filter(Boolean);
  return parts.length > 0 ? parts.join('.').slice(0, 64) : fallback;
}

function unique(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let n = 2; taken.has(candidate); n++) candidate = `${name}${n}`;
  taken.add(candidate);
  return candidate;
}

/** Persona of a patient resource. */
export function patientPersona(patient: Patient, taken: Set<string> = new Set()): Persona {
  const name = patient.name?.find((n) => n.use === 'official') ?? patient.name?.[0];
  const id = patient.id ?? 'patient';
  return {
    username: unique(usernameFor(name?.given?.[0], name?.family, id), taken),
    kind: 'patient',
    fhirUser: `Patient/${id}`,
    displayName: [name?.given?.[0], name?.family].filter(Boolean).join(' ') || id,
  };
}

/** Persona of a RelatedPerson: a proxy for the patient it is related to. */
export function relatedPersonPersona(person: RelatedPerson, taken: Set<string> = new Set()): Persona {
  const name = person.name?.find((n) => n.use === 'official') ?? person.name?.[0];
  const id = person.id ?? 'related-person';
  return {
    username: unique(usernameFor(name?.given?.[0], name?.family, id), taken),
    kind: 'related-person',
    fhirUser: `RelatedPerson/${id}`,
    displayName: [name?.given?.[0], name?.family].filter(Boolean).join(' ') || id,
    ...(person.patient?.reference ? { patient: person.patient.reference } : {}),
  };
}

export interface PersonaOptions extends Partial<GenerateOptions> {
  /** How many cohort patients (from index 0) also get a persona (default 0). */
  readonly patients?: number;
}

/**
 * Sign-in personas: every practitioner of the shared staff, every roster patient, the parents of
 * the roster's minors (proxies: `RelatedPerson/roster-growth-rp1` signs in for `Patient/roster-growth`,
 * `RelatedPerson/roster-newborn-rp1` for `Patient/roster-newborn`), and optionally the first cohort
 * patients of a seed. Usernames are unique across the list.
 */
export function personas(opts: PersonaOptions = {}): Persona[] {
  const taken = new Set<string>();
  const out: Persona[] = staff().map((s) => ({
    username: unique(usernameFor(s.given, s.family, s.id), taken),
    kind: 'practitioner',
    fhirUser: `Practitioner/${s.id}`,
    displayName: `Dr. ${s.given} ${s.family}`,
  }));
  const proxies: Persona[] = [];
  for (const id of ROSTER_IDS) {
    // The paging patient's record is large; its Patient and parent are all personas need, so build it once.
    const record = generateRosterPatient(id, opts.anchorDate !== undefined ? { anchorDate: opts.anchorDate } : {});
    out.push(patientPersona(record.patient, taken));
    for (const r of record.resources) if (r.resourceType === 'RelatedPerson') proxies.push(relatedPersonPersona(r, taken));
  }
  out.push(...proxies);
  const n = opts.patients ?? 0;
  if (n > 0) {
    const resolved = resolveOptions({ seed: opts.seed ?? 0, ...opts });
    for (let i = 0; i < n; i++) out.push(patientPersona(generateResolved(i, resolved).patient, taken));
  }
  return out;
}
