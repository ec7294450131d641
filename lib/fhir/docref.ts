/**
 * US Core `DocumentReference/$docref` (US Core 6.1 OperationDefinition-docref): the patient's
 * documents, as a search over DocumentReference. The operation's inputs become ordinary search
 * criteria, so the router runs it through the same policy-bound query as any search.
 */
import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { isFhirId } from '../fhir-id';
import { FhirError } from './errors';
import { parseDateValue } from './search/parse';

export interface DocrefRequest {
  patient: string;
  /** Care dates (DocumentReference.context.period), as given. */
  start: string | null;
  end: string | null;
  /** `system|code` of each requested document type (OR-ed). */
  types: string[];
  /** True: only the document generated on demand (the summary, lib/fhir/summary-document.ts), no stored ones. */
  onDemand: boolean;
  /** `_count` and `_cursor`, handed to the search as they are (paging through the result). */
  paging: [string, string][];
  /** The inputs as given, for the self and next links. */
  echo: [string, string][];
}

const INPUTS = new Set(['patient', 'start', 'end', 'type', 'on-demand', 'profile']);

function bad(message: string, expression?: string): FhirError {
  return new FhirError('invalid', `$docref: ${message}`, expression);
}

/** The operation's inputs from a GET query or a form body (`type` as `system|code`). */
export function docrefInputsOfQuery(params: [string, string][]): [string, string][] {
  return params.filter(([k]) => k !== '_format' && k !== '_pretty');
}

/** The operation's inputs from a POSTed Parameters resource. */
export function docrefInputsOfParameters(body: unknown): [string, string][] {
  const p = body as Parameters;
  if (!p || typeof p !== 'object' || p.resourceType !== 'Parameters') throw bad('POST takes a Parameters resource');
  const out: [string, string][] = [];
  for (const param of p.parameter ?? []) out.push([String(param.name ?? ''), valueOf(param)]);
  return out;
}

function valueOf(param: ParametersParameter): string {
  if (param.valueCoding) return `${param.valueCoding.system ?? ''}|${param.valueCoding.code ?? ''}`;
  const v =
    param.valueId ?? param.valueString ?? param.valueDateTime ?? param.valueDate ?? param.valueCanonical ?? param.valueUri ?? param.valueReference?.reference;
  if (typeof param.valueBoolean === 'boolean') return String(param.valueBoolean);
  if (typeof v !== 'string')
    throw bad(`parameter '${String(param.name ?? '').slice(0, 40)}' has no value of a type this operation takes`, String(param.name ?? ''));
  return v;
}

/** Checks the inputs (US Core 6.1 OperationDefinition-docref): patient 1..1, start/end dateTime, type Coding, on-demand boolean. */
export function parseDocref(inputs: [string, string][]): DocrefRequest {
  const req: DocrefRequest = { patient: '', start: null, end: null, types: [], onDemand: false, paging: [], echo: [] };
  for (const [name, value] of inputs) {
    if (name === '_count' || name === '_cursor') {
      req.paging.push([name, value]);
      if (name === '_count') req.echo.push([name, value]);
      continue;
    }
    if (!INPUTS.has(name)) throw bad(`unknown parameter '${name.slice(0, 40)}' (patient, start, end, type, on-demand, profile)`, name.slice(0, 40));
    switch (name) {
      case 'patient': {
        if (req.patient) throw bad('patient is given more than once', 'patient');
        const id = value.startsWith('Patient/') ? value.slice('Patient/'.length) : value;
        if (!isFhirId(id)) throw bad(`'${value.slice(0, 70)}' is not a patient id`, 'patient');
        req.patient = id;
        break;
      }
      case 'start':
      case 'end':
        if (req[name] !== null) throw bad(`${name} is given more than once`, name);
        parseDateValue(name, value);
        if (!/^\d{4}/.test(value)) throw bad(`${name} is a dateTime without a prefix`, name);
        req[name] = value;
        break;
      case 'type':
        for (const t of value.split(',')) {
          if (!/^[^|]+\|[^|]+$/.test(t)) throw bad(`type '${t.slice(0, 60)}' is not a Coding (system|code)`, 'type');
          req.types.push(t);
        }
        break;
      case 'on-demand':
        if (value !== 'true' && value !== 'false') throw bad('on-demand is true or false', 'on-demand');
        req.onDemand = value === 'true';
        break;
      case 'profile':
        // Every document this server holds is written to US Core DocumentReference; nothing to narrow.
        break;
    }
    req.echo.push([name, value]);
  }
  if (!req.patient) throw bad('patient is required', 'patient');
  return req;
}

/**
 * The search the operation amounts to. With start or end: the documents whose care period
 * overlaps them (entered-in-error ones left out). With neither: the current documents, each
 * type's in-force one (US Core: "the most recent or current document is in scope"). Types are
 * OR-ed; without one every type is in scope (the CCD, generated on demand, is added by the router).
 */
export function docrefSearch(req: DocrefRequest): [string, string][] {
  const params: [string, string][] = [['patient', req.patient]];
  if (req.types.length) params.push(['type', req.types.join(',')]);
  if (req.start !== null) params.push(['period', `ge${req.start}`]);
  if (req.end !== null) params.push(['period', `le${req.end}`]);
  params.push(['status', req.start === null && req.end === null ? 'current' : 'current,superseded']);
  params.push(['_sort', '-period'], ...req.paging);
  return params;
}
