/**
 * /oauth/authorize (GET and POST): an ordered list of checks, each its own rule in ../checks/.
 * Until client_id and redirect_uri match a registration, failures are a 400 page; after that they
 * are redirected with error, error_description, state and iss. Success stores the validated
 * request as an Interaction and sends the browser (303) to the interaction screens.
 * SMART App Launch 2.2 §app-launch; RFC 6749 §4.1.1; RFC 9700 §2.1; docs/CONFORMANCE.md §3.
 */
import { authorizeRequestFacts } from '../../audit/facts';
import { formatScopes } from '../../smart/scopes';
import { audIsFhirBase } from '../checks/aud-is-fhir-base';
import { clientAndRedirectUriAreSingle } from '../checks/client-and-redirect-uri-are-single';
import { clientIsRegistered } from '../checks/client-is-registered';
import { clientMayUseCodeFlow } from '../checks/client-may-use-code-flow';
import type { AuthorizeCheck, AuthorizeContext } from '../checks/context';
import { clientOf } from '../checks/context';
import { launchIsFound } from '../checks/launch-is-found';
import { launchIsLive } from '../checks/launch-is-live';
import { launchSimulatedError } from '../checks/launch-simulated-error';
import { noRepeatedParameters } from '../checks/no-repeated-parameters';
import { noRequestObjects } from '../checks/no-request-objects';
import { pkceS256 } from '../checks/pkce-s256';
import { readAuthorizeParams } from '../checks/read-params';
import { redirectUriIsRegistered } from '../checks/redirect-uri-is-registered';
import { responseTypeIsCode } from '../checks/response-type-is-code';
import { scopeIsValid } from '../checks/scope-is-valid';
import { oauthUrls } from '../config';
import { oauthEndpoint } from '../endpoint';
import { PAGE_SECURITY_HEADERS } from '../errors';
import { createInteraction } from '../interaction';

/** The rules, in order. The first three decide whether errors may be redirected at all. */
export const AUTHORIZE_CHECKS: readonly AuthorizeCheck[] = [
  clientAndRedirectUriAreSingle,
  clientIsRegistered,
  redirectUriIsRegistered,
  // From here on, errors go back to the registered redirect_uri.
  noRepeatedParameters,
  launchIsFound, // the launcher's launch: its options decide PKCE and the simulated error
  launchSimulatedError,
  responseTypeIsCode,
  clientMayUseCodeFlow,
  noRequestObjects,
  audIsFhirBase,
  pkceS256,
  scopeIsValid,
  launchIsLive, // last: it uses up the launch id
];

/** Each rule's name as the audit trail records it when it refuses a request: its file in ../checks/. */
const RULE_NAMES = new Map<AuthorizeCheck, string>([
  [clientAndRedirectUriAreSingle, 'client-and-redirect-uri-are-single'],
  [clientIsRegistered, 'client-is-registered'],
  [redirectUriIsRegistered, 'redirect-uri-is-registered'],
  [noRepeatedParameters, 'no-repeated-parameters'],
  [launchIsFound, 'launch-is-found'],
  [launchSimulatedError, 'launch-simulated-error'],
  [responseTypeIsCode, 'response-type-is-code'],
  [clientMayUseCodeFlow, 'client-may-use-code-flow'],
  [noRequestObjects, 'no-request-objects'],
  [audIsFhirBase, 'aud-is-fhir-base'],
  [pkceS256, 'pkce-s256'],
  [scopeIsValid, 'scope-is-valid'],
  [launchIsLive, 'launch-is-live'],
]);

/** GET/POST /oauth/authorize */
export const handleAuthorize = oauthEndpoint({ endpoint: '/oauth/authorize', style: 'authorize' }, async (call) => {
  const ctx: AuthorizeContext = {
    call,
    params: await readAuthorizeParams(call.req),
    client: null,
    redirectUri: null,
    requestedScope: '',
    requestedScopes: [],
    scopes: [],
    droppedScopes: [],
    codeChallenge: null,
    pkceWaivedByLaunch: false,
    pendingLaunch: null,
    launch: null,
    standaloneLaunch: false,
  };
  call.audit.facts = authorizeRequestFacts(ctx.params);
  for (const check of AUTHORIZE_CHECKS) {
    try {
      await check(ctx);
    } catch (err) {
      // The console's flow view names the rule, its spec and what the app should do instead.
      call.audit.facts = { ...call.audit.facts, rule: RULE_NAMES.get(check) ?? 'authorize' };
      throw err;
    }
  }

  const client = clientOf(ctx);
  const maxAge = ctx.params.get('max_age');
  const id = await createInteraction({
    sandboxId: call.sandboxId,
    clientId: client.clientId,
    request: {
      v: 1,
      redirectUri: ctx.redirectUri!,
      state: ctx.params.get('state'),
      nonce: ctx.params.get('nonce'),
      codeChallenge: ctx.codeChallenge,
      requestedScope: ctx.requestedScope,
      scope: formatScopes(ctx.scopes),
      droppedScopes: ctx.droppedScopes,
      launchId: ctx.launch?.id ?? null,
      ...(ctx.standaloneLaunch ? { standaloneLaunch: true } : {}),
      ...(ctx.pkceWaivedByLaunch ? { legacyPkceOptional: true } : {}),
      issuer: call.issuer,
      fhirBase: call.fhirBase,
      prompt: ctx.params.get('prompt'),
      loginHint: ctx.params.get('login_hint'),
      maxAge: maxAge !== null && /^\d{1,9}$/.test(maxAge) ? Number(maxAge) : null,
    },
  });
  call.audit.detail = `interaction ${id}${ctx.pkceWaivedByLaunch ? '; without PKCE: legacy PKCE-optional launch' : ''}${ctx.droppedScopes.length ? `; not grantable: ${ctx.droppedScopes.map((d) => d.scope).join(' ')}` : ''}`;
  // 303 so a POSTed form is followed with GET (RFC 9700 §4.12; docs/CONFORMANCE.md #51). No CORS headers here (docs/CONFORMANCE.md #182).
  return new Response(null, { status: 303, headers: { ...PAGE_SECURITY_HEADERS, location: oauthUrls(call.issuer).interaction(id) } });
});
