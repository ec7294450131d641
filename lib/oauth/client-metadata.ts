/**
 * Validation rules for client metadata: redirect URIs, launch URLs, JWKS URLs and inline JWKS.
 * Each rule returns a reason string (shown to the developer) or null.
 */
import { createPublicKey, type JsonWebKey as NodeJwk, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { env } from '../env';
import { isLoopbackHost } from '../http/loopback';

// Schemes that must never be a redirect target (they run code or read local data).
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'filesystem:', 'view-source:', 'ws:', 'wss:', 'ftp:']);

/**
 * http(s) URLs must spell their host after `//`: WHATWG URL parsing turns `https:///cb`,
 * `https:\\evil.example` or `http:/localhost` into URLs with a host, but they are not absolute
 * URIs with an authority (RFC 3986 §3.2; RFC 9110 §4.2.2), and the registered string must be
 * exactly what is matched and redirected to.
 */
function hasLiteralAuthority(uri: string, url: URL): boolean {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return true;
  return /^https?:\/\/[^/?#\\]/i.test(uri);
}

/** A loopback IP literal (127.0.0.0/8, [::1]), not the name localhost (RFC 8252 §8.3). */
function isLoopbackIpLiteral(hostname: string): boolean {
  return isLoopbackHost(hostname) && hostname.toLowerCase() !== 'localhost';
}

/**
 * Why a redirect_uri cannot be registered, or null. https everywhere; http only on loopback
 * (RFC 9700 §2.6 and RFC 8252 §7.3; docs/CONFORMANCE.md #2); private-use schemes for native apps in reverse
 * domain form (RFC 8252 §7.1); no fragment (RFC 6749 §3.1.2); no credentials in the URL.
 * In https-only mode (HTTPS_ONLY) http is left only to native apps' loopback IP redirects:
 * `localhost` is NOT RECOMMENDED there (RFC 8252 §8.3), a name another program may answer for.
 */
export function redirectUriProblem(uri: string, httpsOnly: boolean = env.HTTPS_ONLY): string | null {
  if (uri.length > 2000) return 'is longer than 2000 characters';
  if (/\s/.test(uri)) return 'contains whitespace';
  if (uri.includes('#')) return 'contains a fragment (#), which a redirect URI must not have (RFC 6749 §3.1.2)';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL (RFC 6749 §3.1.2)';
  }
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `uses the ${url.protocol} scheme, which can never be a redirect target`;
  if (url.username || url.password) return 'contains user credentials';
  if (!hasLiteralAuthority(uri, url)) return 'is not of the form scheme://host/… (the URL parser would fill in a host the string does not name)';
  if (url.protocol === 'https:') return url.hostname ? null : 'has no host';
  if (url.protocol === 'http:') {
    if (httpsOnly) {
      return isLoopbackIpLiteral(url.hostname)
        ? null
        : 'uses http, which this server (HTTPS_ONLY) allows only for a native app on a loopback IP address such as http://127.0.0.1:PORT/ (RFC 8252 §7.3, §8.3): use https';
    }
    return isLoopbackHost(url.hostname)
      ? null
      : 'uses http on a non-loopback host: use https (http is allowed only for localhost, 127.0.0.1 or [::1]; RFC 9700 §2.6)';
  }
  // Native apps: a private-use scheme in reverse-domain form, e.g. com.example.app:/callback (RFC 8252 §7.1).
  const scheme = url.protocol.slice(0, -1);
  if (/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/.test(scheme)) return null;
  return `uses the scheme '${scheme}': use https, http on loopback, or a reverse-domain private-use scheme such as com.example.app (RFC 8252 §7.1)`;
}

/** Why a launch URL or JWKS URL cannot be registered (https, or http on loopback), or null. */
export function webUrlProblem(uri: string): string | null {
  if (uri.length > 2000) return 'is longer than 2000 characters';
  if (uri.includes('#')) return 'contains a fragment (#)';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.username || url.password) return 'contains user credentials';
  if (!hasLiteralAuthority(uri, url)) return 'is not of the form scheme://host/…';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return null;
  return 'must use https (or http on localhost, 127.0.0.1 or [::1])';
}

/**
 * Why a jwks_uri cannot be registered, or null: a web URL as above; in https-only mode
 * (HTTPS_ONLY) https and not a loopback host, because the server fetches it and loopback would
 * be the server's own machine (RFC 9700 §2.6; SMART App Launch 2.2 §client-confidential-asymmetric).
 */
export function jwksUriProblem(uri: string, httpsOnly: boolean = env.HTTPS_ONLY): string | null {
  const problem = webUrlProblem(uri);
  if (problem || !httpsOnly) return problem;
  const url = new URL(uri);
  if (url.protocol !== 'https:') return 'must use https on this server (HTTPS_ONLY)';
  if (isLoopbackHost(url.hostname))
    return 'names a loopback host, which on this server (HTTPS_ONLY) would be the server itself: publish the JWKS on a public https URL';
  return null;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** A public JWK as registered for private_key_jwt (SMART App Launch 2.2 §client-confidential-asymmetric; docs/CONFORMANCE.md #34). */
export const publicJwkSchema = z
  .looseObject({
    kty: z.string(),
    kid: z.string().min(1, 'kid must not be empty').max(200),
    alg: z.string().optional(),
    use: z.string().optional(),
    key_ops: z.array(z.string()).optional(),
    n: z.string().optional(),
    e: z.string().optional(),
    crv: z.string().optional(),
    x: z.string().optional(),
    y: z.string().optional(),
  })
  .superRefine((jwk, ctx) => {
    for (const m of PRIVATE_MEMBERS) {
      if (Object.hasOwn(jwk, m)) ctx.addIssue({ code: 'custom', message: `key '${jwk.kid}' contains the private member '${m}': register the public key only` });
    }
    if (jwk.kty === 'RSA') {
      if (!jwk.n || !jwk.e) return void ctx.addIssue({ code: 'custom', message: `RSA key '${jwk.kid}' needs n and e` });
    } else if (jwk.kty === 'EC') {
      if (!jwk.crv || !jwk.x || !jwk.y) return void ctx.addIssue({ code: 'custom', message: `EC key '${jwk.kid}' needs crv, x and y` });
    } else {
      return void ctx.addIssue({ code: 'custom', message: `key '${jwk.kid}' has kty '${jwk.kty}': use RSA (RS384) or EC (ES384)` });
    }
    const problem = keyMaterialProblem(jwk);
    if (problem) ctx.addIssue({ code: 'custom', message: `key '${jwk.kid}' ${problem}` });
  });

/** The members that make up the key itself, without metadata (alg, use, key_ops). */
function keyMembers(jwk: { kty: string; n?: string; e?: string; crv?: string; x?: string; y?: string }): NodeJwk {
  return jwk.kty === 'RSA' ? { kty: 'RSA', n: jwk.n, e: jwk.e } : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/**
 * Whether the members describe a real public key usable for RS384 or ES384: the key must import
 * (an EC point on its curve, a well-formed RSA modulus), RSA moduli have at least 2048 bits
 * (RFC 7518 §3.3) and EC keys are on P-384 (ES384, RFC 7518 §3.4; SMART App Launch 2.2
 * client-confidential-asymmetric).
 */
function keyMaterialProblem(jwk: { kty: string; n?: string; e?: string; crv?: string; x?: string; y?: string }): string | null {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: keyMembers(jwk), format: 'jwk' });
  } catch {
    return 'is not a valid public key (its members do not import)';
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (jwk.kty === 'RSA' && (details.modulusLength ?? 0) < 2048) return `is an RSA key of ${details.modulusLength ?? 0} bits: at least 2048 are required`;
  if (jwk.kty === 'EC' && jwk.crv !== 'P-384') return `is on curve ${jwk.crv}: ES384 needs P-384`;
  return null;
}

/** A JWK Set as served at a client's jwks_uri. */
export const publicJwksSchema = z.object({ keys: z.array(publicJwkSchema).min(1, 'the JWKS has no keys').max(20, 'the JWKS has more than 20 keys') });

/**
 * A JWK Set registered inline: also refuses a kid used twice, or a client assertion's header could
 * not say which key signed it. (A jwks_uri set may still change to hold duplicates; the token
 * endpoint refuses an assertion naming such a kid, docs/CONFORMANCE.md #178.)
 */
export const registeredJwksSchema = publicJwksSchema.superRefine((jwks, ctx) => {
  const seen = new Set<string>();
  for (const jwk of jwks.keys) {
    if (seen.has(jwk.kid)) ctx.addIssue({ code: 'custom', path: ['keys'], message: `kid '${jwk.kid}' appears more than once: each key needs its own kid` });
    seen.add(jwk.kid);
  }
});

export type PublicJwk = z.infer<typeof publicJwkSchema>;
export type PublicJwks = z.infer<typeof publicJwksSchema>;

/** The first zod issue as one sentence, with its path. */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid value';
  const path = issue.path.map(String).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Origin of a URL (for CORS allow-lists), or null for non-web URLs. */
export function webOrigin(uri: string): string | null {
  try {
    const url = new URL(uri);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : null;
  } catch {
    return null;
  }
}
