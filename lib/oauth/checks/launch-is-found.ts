/**
 * The launcher's launch this request belongs to, looked up (not used up) as soon as the client is
 * known, because its options decide later checks: PKCE (docs/CONFORMANCE.md #52) and the simulated error.
 * EHR launch: the live launch the `launch` parameter names. Standalone launch (no `launch`): the
 * launch the launcher armed for this client, if any (lib/launch-options/lookup.ts). A launch that
 * is not live is ignored here and refused by launch-is-live, which uses the launch up.
 */
import { findArmedLaunch } from '../../launch-options/lookup';
import { getLiveLaunch } from '../launches';
import type { AuthorizeCheck } from './context';
import { clientOf } from './context';

export const launchIsFound: AuthorizeCheck = async (ctx) => {
  const client = clientOf(ctx);
  const launchId = ctx.params.get('launch');
  if (launchId !== null) {
    const launch = await getLiveLaunch(launchId, client.clientId, ctx.call.sandboxId);
    if (launch) ctx.pendingLaunch = { id: launch.id, standalone: false, options: launch.options };
    return;
  }
  const armed = await findArmedLaunch(client.clientId, ctx.call.sandboxId);
  if (armed) ctx.pendingLaunch = { id: armed.id, standalone: true, options: armed.options };
};
