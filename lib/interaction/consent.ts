import { explainScope, formatScope, parseScopeString } from '../smart/scopes';
import type { ParsedScope, ResourceScope } from '../smart/scopes';
import usCoreCategories from './us-core-categories.json';

/**
 * The consent screen's model: each requested scope in plain language, which ones the user may
 * untick, and the category (granular) alternatives for Observation and Condition.
 * SMART App Launch 2.2 §best-practices#considerations-for-scope-consent (docs/CONFORMANCE.md #47); the
 * ONC (g)(10) granular categories are the US Core 6.1.0 ones (ONC g10 test kit, test 9.26).
 */

export interface CategoryOption {
  /** `system|code`, exactly as it goes into the scope's `?category=` value. */
  readonly value: string;
  readonly label: string;
}

/**
 * Category alternatives offered instead of the whole type: the categories US Core 6.1.0's profiles
 * name for Observation and Condition, derived from the package in fhir-packages/ by
 * scripts/us-core-categories.ts (docs/CONFORMANCE.md #100; us-core-categories.test.ts re-derives them).
 */
export const CATEGORY_OPTIONS: Readonly<Record<string, readonly CategoryOption[]>> = Object.fromEntries(
  Object.entries(usCoreCategories).map(([type, list]) => [type, list.map((c): CategoryOption => ({ value: c.value, label: c.label }))]),
);

export interface ConsentItem {
  /** Form field suffix (`keep.{key}`, `mode.{key}`, `cat.{key}`): the scope's position in the request. */
  readonly key: string;
  readonly scope: string;
  readonly kind: ParsedScope['kind'];
  readonly explanation: string;
  /**
   * Resource scopes and `offline_access` / `online_access` may be unticked (declining them means no
   * refresh token); identity and launch scopes are part of the request's shape.
   */
  readonly removable: boolean;
  /** Resource type for resource scopes (`*` for all). */
  readonly resourceType: string | null;
  /** Category alternatives (Observation/Condition scopes without a query). */
  readonly categories: readonly CategoryOption[];
}

export interface ConsentModel {
  readonly items: readonly ConsentItem[];
  /** True when `offline_access` is requested: the app keeps access after the user leaves. */
  readonly offlineAccess: boolean;
  readonly onlineAccess: boolean;
  /** Scopes the parser refused (the authorization server normally rejects these before we get here). */
  readonly invalid: readonly string[];
}

function categoriesFor(scope: ParsedScope): readonly CategoryOption[] {
  if (scope.kind !== 'resource' || scope.query !== null) return [];
  if (!scope.interactions.includes('r') && !scope.interactions.includes('s')) return [];
  return CATEGORY_OPTIONS[scope.resourceType] ?? [];
}

// SMART App Launch 2.2 §best-practices: the user may decline long-lived access; the app then gets no refresh token.
function isRemovable(scope: ParsedScope): boolean {
  return scope.kind === 'resource' || scope.kind === 'access';
}

/** The consent model of a requested `scope` string. */
export function buildConsentModel(requestedScope: string): ConsentModel {
  const { scopes, errors } = parseScopeString(requestedScope);
  const items = scopes.map((scope, i): ConsentItem => ({
    key: String(i),
    scope: formatScope(scope),
    kind: scope.kind,
    explanation: explainScope(scope),
    removable: isRemovable(scope),
    resourceType: scope.kind === 'resource' ? scope.resourceType : null,
    categories: categoriesFor(scope),
  }));
  return {
    items,
    offlineAccess: scopes.some((s) => s.kind === 'access' && s.name === 'offline_access'),
    onlineAccess: scopes.some((s) => s.kind === 'access' && s.name === 'online_access'),
    invalid: errors.map((e) => e.scope),
  };
}

/** What the user chose on the consent form, per item key. */
export interface ConsentChoices {
  /** Keys of removable items the user left ticked. */
  readonly kept: ReadonlySet<string>;
  /** For items with categories: the chosen category values, or 'all' for the whole type. */
  readonly categories: ReadonlyMap<string, 'all' | readonly string[]>;
}

/** Reads the consent form fields (`keep.{key}=on`, `mode.{key}=all|categories`, `cat.{key}=value` repeated). */
export function parseConsentForm(form: URLSearchParams | FormData, model: ConsentModel): ConsentChoices {
  const kept = new Set<string>();
  const categories = new Map<string, 'all' | readonly string[]>();
  for (const item of model.items) {
    if (!item.removable) continue;
    if (form.get(`keep.${item.key}`) !== null) kept.add(item.key);
    if (item.categories.length) {
      const mode = form.get(`mode.${item.key}`);
      if (mode === 'categories') {
        const allowed = new Set(item.categories.map((c) => c.value));
        const chosen = form.getAll(`cat.${item.key}`).filter((v): v is string => typeof v === 'string' && allowed.has(v));
        categories.set(item.key, [...new Set(chosen)]);
      } else {
        categories.set(item.key, 'all');
      }
    }
  }
  return { kept, categories };
}

function withCategories(scope: ResourceScope, values: readonly string[]): string {
  // Granular scopes are v2 only (SMART App Launch 2.2 §finer-grained-resource-constraints-using-search-parameters).
  const granular: ResourceScope = { ...scope, version: 2, query: { category: values } };
  return formatScope(granular);
}

/**
 * The scope string to grant: the requested scopes the user kept, with whole-type Observation or
 * Condition scopes replaced by one granular scope per chosen category. Never wider than the
 * request: every granted scope is the requested one or a narrower category form of it.
 */
export function grantedScopeFrom(requestedScope: string, choices: ConsentChoices): string {
  const { scopes } = parseScopeString(requestedScope);
  const out: string[] = [];
  scopes.forEach((scope, i) => {
    const key = String(i);
    if (!isRemovable(scope)) {
      out.push(formatScope(scope));
      return;
    }
    if (!choices.kept.has(key)) return;
    if (scope.kind !== 'resource') {
      out.push(formatScope(scope));
      return;
    }
    const choice = choices.categories.get(key);
    if (choice === undefined || choice === 'all' || categoriesFor(scope).length === 0) {
      out.push(formatScope(scope));
      return;
    }
    for (const value of choice) out.push(withCategories(scope, [value]));
  });
  return [...new Set(out)].join(' ');
}

/** All removable items kept, no categories: what "skip consent" grants. */
export function approveAll(model: ConsentModel): ConsentChoices {
  return { kept: new Set(model.items.filter((i) => i.removable).map((i) => i.key)), categories: new Map() };
}
