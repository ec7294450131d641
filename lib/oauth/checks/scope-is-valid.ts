/**
 * scope is required and every token must parse (SMART v1 and v2 grammar); a bad scope is
 * invalid_scope naming it. Scopes the client may not have are dropped with a reason the consent
 * screen shows (granted may differ from requested: SMART App Launch 2.2 §scopes-and-launch-context;
 * docs/CONFORMANCE.md #93–#103).
 */
import type { ParsedScope, ScopeError } from '../../smart/scopes';
import { formatScope, intersectScopes, isScopeCovered, parseScopeString } from '../../smart/scopes';
import { clientAllowedScopes } from '../clients';
import { InvalidScope } from '../errors';
import type { AuthorizeCheck } from './context';
import { clientOf } from './context';

export const scopeIsValid: AuthorizeCheck = (ctx) => {
  const client = clientOf(ctx);
  const raw = ctx.params.get('scope');
  if (raw === null || raw.trim() === '')
    throw new InvalidScope('scope is required (SMART App Launch 2.2 §app-launch), e.g. "openid fhirUser launch/patient patient/*.rs"');
  const { scopes, errors } = parseScopeString(raw);
  if (errors.length) throw new InvalidScope(errors.map((e) => e.reason).join('; '));
  const system = scopes.find((s) => s.kind === 'resource' && s.context === 'system');
  if (system) throw new InvalidScope(`'${formatScope(system)}': system/ scopes are for backend services (client_credentials), not for /oauth/authorize`);

  const refreshAllowed = client.grantTypes.includes('refresh_token');
  const grantable = intersectScopes(scopes, clientAllowedScopes(client)).filter((s) => s.kind !== 'access' || refreshAllowed);
  const dropped: ScopeError[] = [];
  for (const requested of scopes) {
    if (isScopeCovered(requested, grantable)) continue;
    const text = formatScope(requested);
    if (requested.kind === 'access' && !refreshAllowed) {
      dropped.push({ scope: text, reason: `client '${client.clientId}' is not registered for the refresh_token grant, so it cannot receive ${text}` });
    } else {
      const partly =
        requested.kind === 'resource' &&
        grantable.some(
          (g) => g.kind === 'resource' && g.context === requested.context && (g.resourceType === requested.resourceType || requested.resourceType === '*'),
        );
      dropped.push({
        scope: text,
        reason: `${partly ? 'only partly' : 'not'} allowed for client '${client.clientId}' (registered scopes: ${client.scope || '(none)'})`,
      });
    }
  }
  ctx.requestedScope = raw;
  ctx.requestedScopes = scopes;
  ctx.scopes = grantable;
  ctx.droppedScopes = dropped;
  ctx.call.audit.scopes = raw.slice(0, 2000);
};

/** True when the parsed scopes include the bare `launch` scope (EHR launch). */
export function hasLaunchScope(scopes: readonly ParsedScope[]): boolean {
  return scopes.some((s) => s.kind === 'launch' && s.target === null);
}
