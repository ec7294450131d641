/** client_id and redirect_uri must each be sent once, or no redirect target can be trusted (RFC 6749 §3.1). */
import { UnsafeToRedirect } from '../errors';
import type { AuthorizeCheck } from './context';

export const clientAndRedirectUriAreSingle: AuthorizeCheck = ({ params }) => {
  for (const name of ['client_id', 'redirect_uri']) {
    if (params.all(name).length > 1) {
      throw new UnsafeToRedirect(
        'Repeated parameter',
        `'${name}' was sent ${params.all(name).length} times. OAuth parameters must not be repeated (RFC 6749 §3.1).`,
      );
    }
  }
};
