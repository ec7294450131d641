/** Request objects are not supported (OpenID Connect Core §6), and responses only go in the query. */
import { InvalidRequest, RequestNotSupported, RequestUriNotSupported } from '../errors';
import type { AuthorizeCheck } from './context';

export const noRequestObjects: AuthorizeCheck = ({ params }) => {
  if (params.has('request')) throw new RequestNotSupported('request objects are not supported: send the parameters directly (OpenID Connect Core §6)');
  if (params.has('request_uri')) throw new RequestUriNotSupported('request_uri is not supported: send the parameters directly (OpenID Connect Core §6)');
  const mode = params.get('response_mode');
  if (mode !== null && mode !== 'query') throw new InvalidRequest(`response_mode '${mode}' is not supported: responses are sent in the redirect query`);
};
