/**
 * aud is required and must be this FHIR server's base URL, compared after normalising a trailing
 * slash and the case of scheme and host (SMART App Launch 2.2 §app-launch; docs/CONFORMANCE.md #4, #42; G10 9.4).
 */
import { normalizeBaseUrl } from '../access-token';
import { InvalidRequest } from '../errors';
import type { AuthorizeCheck } from './context';

export const audIsFhirBase: AuthorizeCheck = ({ params, call }) => {
  const aud = params.get('aud');
  if (aud === null) throw new InvalidRequest(`aud is required: send the FHIR base URL ${call.fhirBase} (SMART App Launch 2.2 §app-launch)`);
  const want = normalizeBaseUrl(call.fhirBase);
  const matches = normalizeBaseUrl(aud) !== null && normalizeBaseUrl(aud) === want;
  call.audit.facts = { ...call.audit.facts, audMatches: matches };
  if (!matches) {
    throw new InvalidRequest(`aud '${aud.slice(0, 300)}' is not this FHIR server: use ${call.fhirBase} (SMART App Launch 2.2 §app-launch)`);
  }
};
