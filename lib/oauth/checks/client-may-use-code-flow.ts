/** Backend clients and clients without the authorization_code grant cannot use /oauth/authorize. */
import { UnauthorizedClient } from '../errors';
import type { AuthorizeCheck } from './context';
import { clientOf } from './context';

export const clientMayUseCodeFlow: AuthorizeCheck = (ctx) => {
  const client = clientOf(ctx);
  if (!client.grantTypes.includes('authorization_code')) {
    throw new UnauthorizedClient(`client '${client.clientId}' is a ${client.clientType} client and is not registered for the authorization_code grant`);
  }
};
