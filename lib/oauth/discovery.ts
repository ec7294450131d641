/**
 * Discovery documents: SMART configuration at {fhirBase}/.well-known/smart-configuration
 * (SMART App Launch 2.2 §conformance; docs/CONFORMANCE.md §1), OpenID Provider metadata at
 * {issuer}/.well-known/openid-configuration (OIDC Discovery §3; docs/CONFORMANCE.md #77), and the
 * SMART style document behind smart_style_url (docs/CONFORMANCE.md #110).
 * Always application/json whatever the Accept header, absolute URLs, CORS for any origin.
 */
import { issuerOf, originCacheHeaders } from '../http/origin';
import { ASSERTION_ALGS } from '../oauth/client-assertion';
import { oauthUrls } from '../oauth/config';
import { CORS_ANY } from '../oauth/http';

/** Capabilities, exact strings (SMART App Launch 2.2 §conformance capabilities; docs/CONFORMANCE.md #23–#27). Every one works. */
export const SMART_CAPABILITIES = [
  'launch-ehr',
  'launch-standalone',
  'authorize-post',
  'client-public',
  'client-confidential-symmetric',
  'client-confidential-asymmetric',
  'sso-openid-connect',
  'context-banner',
  'context-style',
  'context-ehr-patient',
  'context-ehr-encounter',
  'context-standalone-patient',
  'context-standalone-encounter',
  'permission-offline',
  'permission-online',
  'permission-patient',
  'permission-user',
  'permission-v1',
  'permission-v2',
] as const;

/** Scopes listed in scopes_supported: every one of them is supported (docs/CONFORMANCE.md #19, #21). */
export const SCOPES_SUPPORTED = [
  'openid',
  'fhirUser',
  'profile',
  'launch',
  'launch/patient',
  'launch/encounter',
  'offline_access',
  'online_access',
  'patient/*.cruds',
  'patient/*.rs',
  'user/*.cruds',
  'user/*.rs',
  'system/*.cruds',
  'system/*.rs',
  'patient/*.read',
  'patient/*.write',
  'patient/*.*',
  'user/*.read',
  'user/*.write',
  'user/*.*',
  'system/*.read',
  'system/*.write',
  'system/*.*',
] as const;

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

/** Discovery embeds the origin: publicly cacheable only when PUBLIC_ORIGIN fixes it (lib/http/origin.ts). */
function jsonHeaders(): Record<string, string> {
  return { 'content-type': 'application/json', ...originCacheHeaders(300), ...CORS_ANY };
}

/** The SMART configuration document for a FHIR base and issuer. */
export function smartConfiguration(issuer: string) {
  const urls = oauthUrls(issuer);
  return {
    // issuer and jwks_uri: REQUIRED with sso-openid-connect (docs/CONFORMANCE.md #18).
    issuer,
    jwks_uri: urls.jwks,
    authorization_endpoint: urls.authorize,
    token_endpoint: urls.token,
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    registration_endpoint: urls.register,
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    management_endpoint: urls.manage,
    introspection_endpoint: urls.introspect,
    revocation_endpoint: urls.revoke,
    // RFC 9207 §3: the authorization response carries iss.
    authorization_response_iss_parameter_supported: true,
    capabilities: SMART_CAPABILITIES,
    // S256 only, never plain (docs/CONFORMANCE.md #17).
    code_challenge_methods_supported: ['S256'],
  };
}

/** OpenID Provider metadata (OIDC Discovery §3; docs/CONFORMANCE.md #77). */
export function openIdConfiguration(issuer: string) {
  const urls = oauthUrls(issuer);
  return {
    issuer,
    authorization_endpoint: urls.authorize,
    token_endpoint: urls.token,
    jwks_uri: urls.jwks,
    registration_endpoint: urls.register,
    introspection_endpoint: urls.introspect,
    revocation_endpoint: urls.revoke,
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: ['none', ...AUTH_METHODS],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'fhirUser', 'profile'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
  };
}

/** Most issuers whose documents are kept as text (the Host header names the issuer unless PUBLIC_ORIGIN fixes it). */
const DOCUMENTS_KEPT = 32;
const documentTexts = new Map<string, string>();

/** A discovery document as JSON text: a pure function of its issuer, so the text of recent issuers is kept. */
function documentText(kind: 'smart' | 'openid', issuer: string): string {
  const key = `${kind} ${issuer}`;
  let text = documentTexts.get(key);
  if (text === undefined) {
    text = JSON.stringify(kind === 'smart' ? smartConfiguration(issuer) : openIdConfiguration(issuer));
    if (documentTexts.size >= DOCUMENTS_KEPT) documentTexts.delete(documentTexts.keys().next().value as string);
    documentTexts.set(key, text);
  }
  return text;
}

/** GET {fhirBase}/.well-known/smart-configuration */
export async function handleSmartConfiguration(req: Request): Promise<Response> {
  // The FHIR base is {origin}/fhir; the issuer is the origin.
  return new Response(documentText('smart', issuerOf(req)), { status: 200, headers: jsonHeaders() });
}

/** GET {issuer}/.well-known/openid-configuration */
export async function handleOpenIdConfiguration(req: Request): Promise<Response> {
  return new Response(documentText('openid', issuerOf(req)), { status: 200, headers: jsonHeaders() });
}

/** OPTIONS on the discovery documents (CORS preflight from any origin; docs/CONFORMANCE.md #28). */
export async function handleDiscoveryPreflight(_req: Request): Promise<Response> {
  return new Response(null, { status: 204, headers: CORS_ANY });
}

/**
 * The SMART style object behind the default smart_style_url (SMART App Launch 2.2
 * §scopes-and-launch-context styling; docs/CONFORMANCE.md #110): fetchable without authentication.
 */
export const SMART_STYLE = {
  color_background: '#f8fafc',
  color_error: '#b42318',
  color_highlight: '#2563eb',
  color_modal_backdrop: 'rgba(15, 23, 42, 0.5)',
  color_success: '#067647',
  color_text: '#0f172a',
  dim_border_radius: '6px',
  dim_font_size: '14px',
  dim_spacing_size: '16px',
  font_family_body: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
  font_family_heading: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
} as const;

/** GET {origin}/smart-style.json */
export async function handleSmartStyle(_req: Request): Promise<Response> {
  return new Response(JSON.stringify(SMART_STYLE), {
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300', ...CORS_ANY },
  });
}
