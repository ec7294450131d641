/**
 * EHR launch: `launch` must be a live launch record created for this client, and is used up here
 * (single-use). The `launch` scope and the `launch` parameter go together. A refused launch
 * leaks no context (SMART App Launch 2.2 §app-launch; docs/CONFORMANCE.md #45, #156, #171).
 * Standalone launch: the launch the launcher armed for this client (launch-is-found) is used up
 * too, so its options and simulated error apply to this authorization only.
 * Runs last, because it consumes the launch.
 */
import { consumeLaunch } from '../launches';
import { InvalidRequest } from '../errors';
import type { AuthorizeCheck } from './context';
import { clientOf } from './context';
import { hasLaunchScope } from './scope-is-valid';

export const launchIsLive: AuthorizeCheck = async (ctx) => {
  const client = clientOf(ctx);
  const launchId = ctx.params.get('launch');
  const wantsLaunch = hasLaunchScope(ctx.requestedScopes);
  if (launchId === null) {
    if (wantsLaunch) {
      throw new InvalidRequest(
        "the 'launch' scope is for EHR launches and needs the launch parameter the EHR sent to the app; a standalone launch asks for 'launch/patient' instead (SMART App Launch 2.2 §app-launch)",
      );
    }
    const armed = ctx.pendingLaunch;
    if (armed?.standalone) {
      const taken = await consumeLaunch(armed.id, client.clientId, ctx.call.sandboxId);
      // Lost to a concurrent authorization of the same client: that one carries the launch.
      if (taken.ok) {
        ctx.launch = taken.launch;
        ctx.standaloneLaunch = true;
        ctx.call.audit.launchId = taken.launch.id;
      }
    }
    return;
  }
  if (!wantsLaunch)
    throw new InvalidRequest(
      "a launch parameter was sent without the 'launch' scope: request the 'launch' scope in an EHR launch (SMART App Launch 2.2 §scopes-and-launch-context)",
    );
  const result = await consumeLaunch(launchId, client.clientId, ctx.call.sandboxId);
  if (!result.ok) throw new InvalidRequest(`launch '${launchId.slice(0, 60)}' ${result.reason}`);
  ctx.launch = result.launch;
  ctx.call.audit.launchId = result.launch.id;
  ctx.call.audit.patientId = result.launch.patientId;
};
