/**
 * The console's scope explainer: each scope of a string, parsed, with the plain-language sentence of
 * lib/smart/scopes.ts plus the facts a developer asks about (SMART version, resource types,
 * interactions, compartment, granular filter, v1/v2 spellings). Pure code (browser-safe).
 */
import type { ParsedScope, Permission, ScopeError } from '../smart/scopes';
import { explainScope, formatScope, parseScopeString, toV1Scope, toV2Scope } from '../smart/scopes';

const INTERACTION_WORDS: Record<Permission, string> = {
  c: 'create (POST)',
  r: 'read (GET by id, vread, instance history)',
  u: 'update (PUT)',
  d: 'delete (DELETE)',
  s: 'search (GET ?…, type history)',
};

export interface ExplainedScope {
  readonly scope: string;
  readonly ok: true;
  readonly kind: ParsedScope['kind'];
  /** 1 or 2 for resource scopes, null for the others. */
  readonly version: 1 | 2 | null;
  readonly explanation: string;
  /** Resource types it covers ('every type' for *), empty for non-resource scopes. */
  readonly resourceTypes: string;
  readonly interactions: readonly string[];
  /** Which data it reaches: compartment or not. */
  readonly compartment: string | null;
  /** Granular filter in words, or null. */
  readonly filter: string | null;
  /** The same scope in the other SMART version, when it has one. */
  readonly otherVersion: string | null;
}

export interface RefusedScope {
  readonly scope: string;
  readonly ok: false;
  readonly reason: string;
}

export interface ScopeAnalysis {
  readonly items: readonly (ExplainedScope | RefusedScope)[];
  readonly versions: readonly (1 | 2)[];
  readonly errors: readonly ScopeError[];
  /** Non-blocking observations (mixed versions, missing launch/patient …). */
  readonly notes: readonly string[];
}

function compartmentOf(scope: ParsedScope): string | null {
  if (scope.kind !== 'resource') return null;
  switch (scope.context) {
    case 'patient':
      return "Patient compartment: only data about the patient in context (the token's `patient`); shared reference data such as Practitioner or Medication stays readable.";
    case 'user':
      return 'What the signed-in user may see: every patient for a practitioner, only their own compartment for a patient user.';
    case 'system':
      return 'No compartment: a backend client with no user, limited only by what the client was pre-authorised for.';
  }
}

/** Explains one parsed scope. */
export function explainParsedScope(scope: ParsedScope): ExplainedScope {
  const text = formatScope(scope);
  if (scope.kind !== 'resource') {
    return {
      scope: text,
      ok: true,
      kind: scope.kind,
      version: null,
      explanation: explainScope(scope),
      resourceTypes: '',
      interactions: [],
      compartment: null,
      filter: null,
      otherVersion: null,
    };
  }
  const other =
    scope.version === 1
      ? formatScope(toV2Scope(scope))
      : (() => {
          const v1 = toV1Scope(scope);
          return v1 ? formatScope(v1) : null;
        })();
  const filter =
    scope.query === null
      ? null
      : Object.entries(scope.query)
          .map(([k, v]) => `${k} = ${v.join(' or ')}`)
          .join(' and ');
  return {
    scope: text,
    ok: true,
    kind: 'resource',
    version: scope.version,
    explanation: explainScope(scope),
    resourceTypes: scope.resourceType === '*' ? 'every resource type' : scope.resourceType,
    interactions: scope.interactions.map((l) => INTERACTION_WORDS[l]),
    compartment: compartmentOf(scope),
    filter: filter === null ? null : `Only resources where ${filter} (the server adds this to every query).`,
    otherVersion: other === text ? null : other,
  };
}

/** Parses and explains a whole scope string, keeping the order it was written in. */
export function analyzeScopeString(text: string): ScopeAnalysis {
  const { scopes, errors } = parseScopeString(text);
  const byText = new Map<string, ExplainedScope | RefusedScope>();
  for (const s of scopes) byText.set(formatScope(s), explainParsedScope(s));
  const items: (ExplainedScope | RefusedScope)[] = [];
  const seen = new Set<string>();
  let nextParsed = 0;
  for (const token of text.split(/\s+/)) {
    if (token === '' || seen.has(token)) continue;
    seen.add(token);
    const error = errors.find((e) => e.scope === token);
    if (error) {
      items.push({ scope: token, ok: false, reason: error.reason });
      continue;
    }
    const parsed = scopes[nextParsed++];
    const explained = parsed ? byText.get(formatScope(parsed)) : undefined;
    if (explained) items.push(explained);
  }
  const versions = [...new Set(scopes.flatMap((s) => (s.kind === 'resource' ? [s.version] : [])))].sort();
  const notes: string[] = [];
  if (versions.length > 1) notes.push('Mixes SMART v1 and v2 scopes: allowed, but most servers expect one style per request.');
  const hasPatientScope = scopes.some((s) => s.kind === 'resource' && s.context === 'patient');
  const hasLaunch = scopes.some((s) => s.kind === 'launch' && (s.target === null || s.target === 'patient'));
  if (hasPatientScope && !hasLaunch)
    notes.push('patient/ scopes without launch or launch/patient: a standalone app gets no patient in context, so these scopes would grant nothing.');
  if (scopes.some((s) => s.kind === 'identity' && s.name === 'fhirUser') && !scopes.some((s) => s.kind === 'identity' && s.name === 'openid')) {
    notes.push('fhirUser without openid: the user is only reported in the id_token, which needs openid.');
  }
  if (scopes.some((s) => s.kind === 'resource' && s.context === 'system') && scopes.some((s) => s.kind === 'resource' && s.context !== 'system')) {
    notes.push('system/ scopes belong to backend clients (client_credentials); they are not granted in a user launch.');
  }
  return { items, versions, errors, notes };
}
