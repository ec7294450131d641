/** Only the authorization code flow: no implicit or hybrid flows (RFC 9700 §2.1.2; docs/CONFORMANCE.md #38, #165). */
import { InvalidRequest, UnsupportedResponseType } from '../errors';
import type { AuthorizeCheck } from './context';

export const responseTypeIsCode: AuthorizeCheck = ({ params }) => {
  const responseType = params.get('response_type');
  if (responseType === null) throw new InvalidRequest("response_type is required and must be 'code'");
  if (responseType !== 'code')
    throw new UnsupportedResponseType(`response_type '${responseType}' is not supported: only 'code' (the implicit flow is not allowed, RFC 9700 §2.1.2)`);
};
