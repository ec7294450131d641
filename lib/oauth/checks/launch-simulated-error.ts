/**
 * The launch's simulated /oauth/authorize failure (invalid client id, redirect URI or scope), as
 * lib/oauth/simulated-failures.ts decides it. A launch fails once: the failing request uses
 * it up, like a real authorization would.
 */
import { simulatedNote } from '../../launch-options/lookup';
import { simulatedAuthorizeFailure } from '../simulated-failures';
import { consumeLaunch } from '../launches';
import type { AuthorizeCheck } from './context';
import { clientOf } from './context';

export const launchSimulatedError: AuthorizeCheck = async (ctx) => {
  const simulated = ctx.pendingLaunch?.options.simulatedError ?? null;
  if (!ctx.pendingLaunch || !simulated) return;
  const client = clientOf(ctx);
  const failure = simulatedAuthorizeFailure(simulated, {
    clientId: client.clientId,
    redirectUri: ctx.redirectUri ?? '',
    registeredRedirectUris: client.redirectUris,
    scope: ctx.params.get('scope'),
  });
  if (!failure) return;
  await consumeLaunch(ctx.pendingLaunch.id, client.clientId, ctx.call.sandboxId);
  ctx.call.audit.launchId = ctx.pendingLaunch.id;
  ctx.call.audit.detail = simulatedNote(simulated);
  ctx.call.audit.flags.push('simulated');
  throw failure;
};
