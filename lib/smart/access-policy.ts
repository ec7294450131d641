/**
 * The access policy: a token's granted scopes plus its context (patient, user), compiled once per
 * request into decisions the FHIR layer pushes into its database query (never post-filtered:
 * totals and paging would leak what the token may not see; docs/SECURITY.md, BOLA).
 *
 * SMART App Launch 2.2 §scopes-and-launch-context; docs/CONFORMANCE.md #96–#98, #116–#124.
 */
import type { GranularQuery, ParsedScope, Permission, ResourceScope, ScopeContext } from './scopes';
import { formatScope, intersectQueries } from './scopes';
import { FHIR_ID_SOURCE } from '../fhir-id';

/** A FHIR REST interaction as the router sees it. */
export type FhirInteraction = 'read' | 'vread' | 'search' | 'history' | 'create' | 'update' | 'delete' | 'operation';

/** One granular constraint the search layer ANDs into its WHERE (param → values OR-ed). */
export type GranularFilter = GranularQuery;

/** What the token says about who is acting and for whom. */
export interface AccessContext {
  /** The `patient` launch context (bare id). */
  patientId?: string;
  /** The signed-in user's FHIR reference (`Practitioner/1`, `Patient/2`, `RelatedPerson/3`, or an absolute URL of one). */
  fhirUser?: string;
}

export interface AllowedDecision {
  readonly allowed: true;
  /** Restrict to this patient's compartment, or null for no compartment restriction. Writes check ownership against it. */
  readonly compartmentPatientId: string | null;
  /** null = the whole type; otherwise an OR of granular filters, each an AND of param → values. */
  readonly filters: GranularFilter[] | null;
  /** The granted scopes this decision rests on (for the audit record's "scopes used"). */
  readonly grantedBy: string[];
  readonly interaction: FhirInteraction;
  readonly resourceType: string;
}

export interface DeniedDecision {
  readonly allowed: false;
  readonly reason: string;
  /** A scope that would have allowed the request, e.g. `patient/Observation.rs` (or `launch/patient`). */
  readonly wouldAllow: string;
  readonly interaction: FhirInteraction;
  readonly resourceType: string;
}

export type AccessDecision = AllowedDecision | DeniedDecision;

export interface DecideOptions {
  /**
   * For `history`: `instance` (`Observation/1/_history`, needs `r`) or `type` (`Observation/_history`, needs `s`).
   * Defaults to `instance`. Ignored for other interactions.
   */
  level?: 'instance' | 'type';
}

export interface AccessPolicy {
  /** The resource scopes the policy was compiled from. */
  readonly scopes: readonly ResourceScope[];
  readonly patientId: string | null;
  readonly fhirUser: string | null;
  decide(interaction: FhirInteraction, resourceType: string, options?: DecideOptions): AccessDecision;
}

/**
 * Types outside the patient compartment that a patient/ scope may still read (docs/CONFORMANCE.md #120: g10
 * requests `patient/Practitioner.rs` and resolves references to them). An allow-list of reference and
 * definitional data, not every non-compartment type: Binary, Bundle, Device, MessageHeader, Contract,
 * Linkage and the like can carry one patient's data, so patient/ scopes keep them compartment-bound.
 */
export const SHARED_RESOURCE_TYPES: readonly string[] = [
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'OrganizationAffiliation',
  'Location',
  'HealthcareService',
  'Endpoint',
  'InsurancePlan',
  'Slot',
  'Medication',
  'MedicationKnowledge',
  'Substance',
  'DeviceDefinition',
  'ActivityDefinition',
  'PlanDefinition',
  'Questionnaire',
  'Library',
  'Measure',
  'ObservationDefinition',
  'SpecimenDefinition',
  'EventDefinition',
  'ChargeItemDefinition',
  'ValueSet',
  'CodeSystem',
  'ConceptMap',
  'NamingSystem',
  'StructureDefinition',
  'StructureMap',
  'SearchParameter',
  'OperationDefinition',
  'CapabilityStatement',
  'CompartmentDefinition',
  'ImplementationGuide',
  'GraphDefinition',
  'MessageDefinition',
  'TerminologyCapabilities',
];

const SHARED = new Set(SHARED_RESOURCE_TYPES);

// docs/CONFORMANCE.md #116: read, vread and instance history need r; search and type history need s.
// An operation without a more specific mapping needs both (it reads and returns sets); the
// router may decide a known operation as the interaction it performs instead.
function requiredPermissions(interaction: FhirInteraction, options: DecideOptions | undefined): Permission[] {
  switch (interaction) {
    case 'read':
    case 'vread':
      return ['r'];
    case 'history':
      return options?.level === 'type' ? ['s'] : ['r'];
    case 'search':
      return ['s'];
    case 'create':
      return ['c'];
    case 'update':
      return ['u'];
    case 'delete':
      return ['d'];
    case 'operation':
      return ['r', 's'];
  }
}

interface Grant {
  compartment: string | null;
  filter: GranularFilter | null;
  scope: string;
}

type LetterResult =
  { ok: true; compartment: string | null; filters: GranularFilter[] | null; grantedBy: string[] } | { ok: false; noPatient: boolean; sharedWrite: boolean };

const FHIR_USER_TAIL = new RegExp(`(?:^|/)(Patient|Practitioner|PractitionerRole|RelatedPerson|Person)/(${FHIR_ID_SOURCE})$`);

/**
 * Whose records user/ scopes reach (docs/CONFORMANCE.md #98: user/ = what the user may see):
 * a Patient user their own compartment; a RelatedPerson or Person user (a proxy, e.g. a parent)
 * only the compartment of the patient in context, which the authorization server sets to the
 * patient they are related to, and nothing without one; practitioners every patient (#123).
 */
function userReach(fhirUser: string | undefined, patientId: string | null): { compartment: string | null } | 'none' {
  const match = fhirUser?.match(FHIR_USER_TAIL);
  if (match?.[1] === 'Patient') return { compartment: match[2] ?? null };
  if (match?.[1] === 'RelatedPerson' || match?.[1] === 'Person') return patientId === null ? 'none' : { compartment: patientId };
  return { compartment: null };
}

/** Compile granted scopes and token context into a policy; non-resource scopes are ignored. */
export function compileAccessPolicy(scopes: readonly ParsedScope[], ctx: AccessContext): AccessPolicy {
  const resourceScopes = scopes.filter((s): s is ResourceScope => s.kind === 'resource');
  const patientId = ctx.patientId && ctx.patientId !== '' ? ctx.patientId : null;
  const reach = userReach(ctx.fhirUser, patientId);

  function compartmentOwner(context: ScopeContext): string | null | 'none' {
    if (context === 'system') return null;
    if (context === 'user') return reach === 'none' ? 'none' : reach.compartment;
    // SMART App Launch 2.2 §patient-specific-scopes: patient/ scopes mean the patient in context;
    // without one they grant nothing (docs/CONFORMANCE.md #98, #119).
    return patientId ?? 'none';
  }

  function decideLetter(letter: Permission, resourceType: string): LetterResult {
    const grants: Grant[] = [];
    let noPatient = false;
    let sharedWrite = false;
    for (const s of resourceScopes) {
      if (!s.interactions.includes(letter) || (s.resourceType !== '*' && s.resourceType !== resourceType)) continue;
      const owner = compartmentOwner(s.context);
      if (owner === 'none') {
        noPatient = true;
        continue;
      }
      let compartment = owner;
      if (owner !== null && SHARED.has(resourceType)) {
        // Shared types belong to no patient: readable unrestricted (#120); a patient-bound
        // write cannot be confined to a compartment, so it is refused.
        if (letter !== 'r' && letter !== 's') {
          sharedWrite = true;
          continue;
        }
        compartment = null;
      }
      grants.push({ compartment, filter: s.query, scope: formatScope(s) });
    }
    if (grants.length === 0) return { ok: false, noPatient, sharedWrite };

    // The broadest wins. A compartment-free grant beats a compartment-bound one; the two cannot be
    // expressed as one (compartment, filters) pair, so the narrower one is dropped (never widened).
    const unbound = grants.filter((g) => g.compartment === null);
    const chosen = unbound.length > 0 ? unbound : grants.filter((g) => g.compartment === grants[0]?.compartment);
    const unrestricted = chosen.find((g) => g.filter === null);
    if (unrestricted) return { ok: true, compartment: chosen[0]?.compartment ?? null, filters: null, grantedBy: [unrestricted.scope] };
    return {
      ok: true,
      compartment: chosen[0]?.compartment ?? null,
      filters: dedupeFilters(chosen.map((g) => g.filter)),
      grantedBy: chosen.map((g) => g.scope),
    };
  }

  function suggestionContext(): ScopeContext {
    if (resourceScopes.some((s) => s.context === 'patient') || (patientId !== null && resourceScopes.length === 0)) return 'patient';
    if (resourceScopes.some((s) => s.context === 'system')) return 'system';
    return 'user';
  }

  function decide(interaction: FhirInteraction, resourceType: string, options?: DecideOptions): AccessDecision {
    const letters = requiredPermissions(interaction, options);
    const results = letters.map((l) => decideLetter(l, resourceType));
    const denied = results.find((r) => !r.ok);
    if (denied && !denied.ok) {
      const deny = (reason: string, wouldAllow: string): DeniedDecision => ({ allowed: false, reason, wouldAllow, interaction, resourceType });
      if (denied.noPatient) {
        return deny(
          `patient/ scopes (and a related person's user/ scopes) allow ${interaction} on ${resourceType} only for the patient in context, and this token has no patient in context`,
          'launch/patient',
        );
      }
      if (denied.sharedWrite) {
        return deny(
          `${resourceType} is not in a patient's compartment: patient/ scopes may read it but not ${interaction} it`,
          `user/${resourceType}.${letters.join('')}`,
        );
      }
      return deny(`no granted scope allows ${interaction} on ${resourceType}`, `${suggestionContext()}/${resourceType}.${letters.join('')}`);
    }

    // Every required letter is granted; combine them (only 'operation' needs two): the request must
    // satisfy both, so compartments must agree and filters are AND-ed pairwise.
    let compartment: string | null = null;
    let filters: GranularFilter[] | null = null;
    const grantedBy: string[] = [];
    for (const r of results) {
      if (!r.ok) continue;
      if (r.compartment !== null) {
        if (compartment !== null && compartment !== r.compartment) {
          return {
            allowed: false,
            reason: `the scopes for ${interaction} on ${resourceType} apply to different patients`,
            wouldAllow: `${suggestionContext()}/${resourceType}.${letters.join('')}`,
            interaction,
            resourceType,
          };
        }
        compartment = r.compartment;
      }
      filters = andFilters(filters, r.filters);
      for (const s of r.grantedBy) if (!grantedBy.includes(s)) grantedBy.push(s);
    }
    if (filters !== null && filters.length === 0) {
      return {
        allowed: false,
        reason: `the granular scopes for ${interaction} on ${resourceType} do not overlap`,
        wouldAllow: `${suggestionContext()}/${resourceType}.${letters.join('')}`,
        interaction,
        resourceType,
      };
    }
    return { allowed: true, compartmentPatientId: compartment, filters, grantedBy, interaction, resourceType };
  }

  return { scopes: resourceScopes, patientId, fhirUser: ctx.fhirUser ?? null, decide };
}

function filterKey(f: GranularFilter): string {
  return JSON.stringify(
    Object.entries(f)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => [k, [...v].sort()]),
  );
}

function dedupeFilters(filters: readonly (GranularFilter | null)[]): GranularFilter[] {
  const seen = new Set<string>();
  const out: GranularFilter[] = [];
  for (const f of filters) {
    if (f === null) continue;
    const key = filterKey(f);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(f);
    }
  }
  return out;
}

// (A1 ∨ A2) ∧ (B1 ∨ B2) = ∨ of Ai ∧ Bj; a pair that cannot both hold is dropped.
function andFilters(a: GranularFilter[] | null, b: GranularFilter[] | null): GranularFilter[] | null {
  if (a === null) return b;
  if (b === null) return a;
  const out: (GranularFilter | null)[] = [];
  for (const x of a) {
    for (const y of b) {
      const q = intersectQueries(x, y);
      if (q) out.push(q.query);
    }
  }
  return dedupeFilters(out);
}

function describeFilter(f: GranularFilter): string {
  return Object.entries(f)
    .map(([name, values]) => `${name}=${values.join(',')}`)
    .join('&');
}

/** One line for the audit trail and the console: what was decided and why. */
export function describeDecision(decision: AccessDecision): string {
  const what = `${decision.interaction} ${decision.resourceType}`;
  if (!decision.allowed) return `Denied ${what}: ${decision.reason}. ${decision.wouldAllow} would allow it.`;
  const where = decision.compartmentPatientId === null ? 'any patient' : `patient ${decision.compartmentPatientId}'s compartment only`;
  const which = decision.filters === null ? '' : `, only where ${decision.filters.map(describeFilter).join(' or ')}`;
  return `Allowed ${what} (${where}${which}) by ${decision.grantedBy.join(', ')}.`;
}
