/**
 * The kick-off request of a Bulk Data export (Bulk Data Access IG 2.0.0 §bulk-data-kick-off-request):
 * its headers and parameters, from the query string (GET) or a Parameters resource (POST), checked
 * and compiled into what a job needs. Every malformed value is a 400 OperationOutcome.
 */
import type { Parameters } from '@medplum/fhirtypes';
import { isFhirId } from '../../fhir-id';
import { allResourceTypes, getTypeDefinition } from '../definitions';
import { FhirError } from '../errors';
import { parseDateValue, parseSearch } from '../search/parse';

export type ExportLevel = 'system' | 'patient' | 'group';

/** What a job exports; kept as JSON in BulkExportJob.params. */
export interface ExportParams {
  level: ExportLevel;
  groupId: string | null;
  /** `_type`, or null for every type the level covers. */
  types: string[] | null;
  /** `_since` as an ISO instant, or null. */
  since: string | null;
  /** `_typeFilter` queries per type (`category=laboratory`), OR-ed within a type. */
  typeFilters: Record<string, string[]>;
  /** `_elements` (top-level element names), or null. */
  elements: string[] | null;
  /** `patient` (POST): the patients whose data is exported, or null for all of the level. */
  patients: string[] | null;
  /** Parameters not understood and ignored (Prefer: handling=lenient), reported in error[]. */
  ignored: string[];
  /**
   * `includeAssociatedData`: the Provenance of the exported resources, the most recent of each
   * (`latest`, LatestProvenanceResources) or all of them (`relevant`, RelevantProvenanceResources).
   */
  associated?: 'latest' | 'relevant' | null;
}

/** IG 2.0.0 §query-parameters, includeAssociatedData: the values this server supports. */
const ASSOCIATED_DATA: Record<string, 'latest' | 'relevant'> = { LatestProvenanceResources: 'latest', RelevantProvenanceResources: 'relevant' };

/** IG 2.0.0 §query-parameters: the NDJSON formats a server must accept. */
const OUTPUT_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
const MAX_PATIENTS_PARAM = 1000;
const TYPES = new Set(allResourceTypes());

/** IG 2.0.0 §headers: `Accept: application/fhir+json` and `Prefer: respond-async`, else 400. */
export function assertKickOffHeaders(req: Request): void {
  const accept = (req.headers.get('accept') ?? '').split(',').map((t) => t.split(';')[0]!.trim().toLowerCase());
  if (!accept.includes('application/fhir+json')) throw new FhirError('invalid', "A bulk export kick-off needs 'Accept: application/fhir+json'");
  const prefer = (req.headers.get('prefer') ?? '').split(/[,;]/).map((p) => p.trim().toLowerCase());
  if (!prefer.includes('respond-async')) throw new FhirError('invalid', "A bulk export kick-off needs 'Prefer: respond-async'");
}

/** `Prefer: handling=strict` (IG 2.0.0 §query-parameters: unsupported parameters are then an error). */
export function isStrict(req: Request): boolean {
  return /(^|[,;]\s*)handling\s*=\s*"?strict"?/i.test(req.headers.get('prefer') ?? '');
}

/** The parameters of a POST kick-off body (a FHIR Parameters resource) as name/value pairs. */
export function parametersOf(body: unknown): [string, string][] {
  const p = body as Parameters;
  if (typeof body !== 'object' || body === null || p.resourceType !== 'Parameters')
    throw new FhirError('invalid', 'A POST kick-off takes a Parameters resource');
  const out: [string, string][] = [];
  for (const param of p.parameter ?? []) {
    if (typeof param.name !== 'string') throw new FhirError('invalid', 'Every Parameters.parameter needs a name');
    const value = param.valueString ?? param.valueInstant ?? param.valueDateTime ?? param.valueCode ?? param.valueUri ?? param.valueReference?.reference;
    if (typeof value !== 'string')
      throw new FhirError('invalid', `Parameter '${param.name.slice(0, 40)}' has no value of a supported type (string, instant, code, uri or Reference)`);
    out.push([param.name, value]);
  }
  return out;
}

function split(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Compiles kick-off parameters. `fromBody` tells whether they came from a POST Parameters body
 * (where `patient` is allowed, IG 2.0.0 §query-parameters).
 */
export function parseExportParams(
  level: ExportLevel,
  groupId: string | null,
  params: [string, string][],
  opts: { strict: boolean; fromBody: boolean },
): ExportParams {
  const out: ExportParams = { level, groupId, types: null, since: null, typeFilters: {}, elements: null, patients: null, ignored: [] };
  const unsupported = (name: string, why: string) => {
    if (opts.strict) throw new FhirError('invalid', `Parameter '${name.slice(0, 60)}' is not supported (${why}); Prefer: handling=strict forbids ignoring it`);
    out.ignored.push(`${name.slice(0, 60)}: ${why}`);
  };
  for (const [name, value] of params) {
    switch (name) {
      case '_outputFormat':
        if (!OUTPUT_FORMATS.has(value.trim()))
          throw new FhirError('invalid', `_outputFormat '${value.slice(0, 60)}' is not supported: use application/fhir+ndjson`);
        break;
      case '_since': {
        // IG 2.0.0: a FHIR instant (date, time to the second and a zone).
        if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value))
          throw new FhirError('invalid', `_since must be a FHIR instant (e.g. 2024-01-01T00:00:00Z), not '${value.slice(0, 40)}'`);
        const start = parseDateValue('_since', value).start;
        if (start > Date.now()) throw new FhirError('invalid', '_since is in the future');
        out.since = new Date(start).toISOString();
        break;
      }
      case '_type':
        for (const t of split(value)) {
          if (!TYPES.has(t)) throw new FhirError('invalid', `_type names '${t.slice(0, 40)}', which is not a FHIR R4 resource type`);
          out.types = [...new Set([...(out.types ?? []), t])];
        }
        break;
      case '_typeFilter':
        for (const one of split(value)) addTypeFilter(out, one);
        break;
      case '_elements': {
        const els = split(value).map((e) => (e.includes('.') ? e.slice(e.indexOf('.') + 1) : e));
        for (const e of els)
          if (!/^[a-z][A-Za-z0-9]{0,63}(\[x\])?$/.test(e)) throw new FhirError('invalid', `_elements: '${e.slice(0, 40)}' is not a top-level element name`);
        out.elements = [...(out.elements ?? []), ...els];
        break;
      }
      case 'patient': {
        if (!opts.fromBody) {
          unsupported(name, 'patient is a POST Parameters parameter');
          break;
        }
        const id = value.startsWith('Patient/') ? value.slice(8) : '';
        if (!isFhirId(id)) throw new FhirError('invalid', `patient must be a reference 'Patient/<id>', not '${value.slice(0, 60)}'`);
        out.patients = [...new Set([...(out.patients ?? []), id])];
        if (out.patients.length > MAX_PATIENTS_PARAM) throw new FhirError('invalid', `At most ${MAX_PATIENTS_PARAM} patient parameters`);
        if (level === 'system') throw new FhirError('invalid', 'patient applies to Patient- and Group-level exports only');
        break;
      }
      case '_format':
      case '_pretty':
        break;
      case 'includeAssociatedData':
        // A value the server does not support is refused under handling=strict and reported and
        // ignored otherwise, like an unsupported parameter (IG 2.0.0 §query-parameters).
        for (const v of split(value)) {
          const kind = Object.hasOwn(ASSOCIATED_DATA, v) ? ASSOCIATED_DATA[v]! : null;
          if (!kind) unsupported(`includeAssociatedData=${v}`, 'supported values are LatestProvenanceResources and RelevantProvenanceResources');
          else if (out.associated !== 'relevant') out.associated = kind;
        }
        break;
      default:
        unsupported(name, 'unknown export parameter');
    }
  }
  if (out.types) for (const t of Object.keys(out.typeFilters)) if (!out.types.includes(t)) delete out.typeFilters[t];
  return out;
}

/** `_typeFilter=Observation?category=laboratory`: compiled by the search engine now, so a bad one is a 400 at kick-off. */
function addTypeFilter(out: ExportParams, text: string): void {
  const q = text.indexOf('?');
  const type = q < 0 ? '' : text.slice(0, q);
  if (!TYPES.has(type) || !getTypeDefinition(type)) throw new FhirError('invalid', `_typeFilter '${text.slice(0, 80)}' must be <ResourceType>?<search query>`);
  const query = text.slice(q + 1);
  compileTypeFilter(type, query);
  (out.typeFilters[type] ??= []).push(query);
}

/** The search criteria of one `_typeFilter` query; only criteria are allowed (no paging, sorting or includes). */
export function compileTypeFilter(type: string, query: string) {
  const req = parseSearch(type, [...new URLSearchParams(query)], { strict: true, base: null });
  if (req.include.length || req.revinclude.length || req.echo.some(([k]) => k.startsWith('_') && k !== '_id' && k !== '_lastUpdated')) {
    throw new FhirError('invalid', `_typeFilter '${type}?${query.slice(0, 60)}' may hold search criteria only (no _include, _sort, _count, _elements)`);
  }
  if (!req.filters.length) throw new FhirError('invalid', `_typeFilter '${type}?${query.slice(0, 60)}' has no search criteria`);
  return req.filters;
}
