/** No parameter may be sent twice (RFC 6749 §3.1). */
import { InvalidRequest } from '../errors';
import type { AuthorizeCheck } from './context';

export const noRepeatedParameters: AuthorizeCheck = ({ params }) => {
  const repeated = params.duplicates();
  if (repeated.length)
    throw new InvalidRequest(`parameter${repeated.length > 1 ? 's' : ''} ${repeated.map((n) => `'${n}'`).join(', ')} sent more than once (RFC 6749 §3.1)`);
};
