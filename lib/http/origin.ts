/**
 * The public origin of the sandbox: issuer, FHIR base, token `aud` and every URL discovery
 * advertises are derived from it, so a client must not be able to choose it. In order:
 *
 * 1. PUBLIC_ORIGIN when set;
 * 2. X-Forwarded-Proto/-Host when the peer is a trusted proxy (TRUST_PROXY);
 * 3. the Host header when it names a loopback host (localhost, 127.0.0.0/8, [::1]): a browser on
 *    this machine, whichever loopback name it used;
 * 4. otherwise the address the connection reached (its local address and port), or
 *    http://localhost:PORT when the server recorded no connection.
 *
 * A forged X-Forwarded-Host or Host therefore changes nothing unless it names loopback (RFC 9700
 * §4.15 on mix-up through attacker-chosen issuers; RFC 7239 §8 on forwarded headers).
 */
import { env, type TrustProxy } from '../env';
import { headerList, headerValue, type HeaderSource } from './headers';
import { isLoopbackHost } from './loopback';
import { peerIsTrustedProxy } from './client-ip';
import { currentSandbox } from '../sandbox/context';
import { currentSocketAddress, normalizeAddress, type SocketAddress } from './socket-address';

const HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

function validHost(host: string | null | undefined): string | null {
  const h = host?.trim() ?? '';
  return h !== '' && h.length <= 260 && HOST.test(h) ? h.toLowerCase() : null;
}

function hostOfAddress(address: string): string {
  const a = normalizeAddress(address);
  return a.includes(':') ? `[${a}]` : a;
}

/** What the origin rule reads from the environment. */
export interface OriginSettings {
  readonly publicOrigin?: string | undefined;
  readonly trustProxy: TrustProxy;
  readonly port: number;
}

function settingsFromEnv(): OriginSettings {
  return { publicOrigin: env.PUBLIC_ORIGIN, trustProxy: env.TRUST_PROXY, port: env.PORT };
}

/** The origin from a request's headers and connection (pure, for tests). */
export function publicOriginFrom(headers: HeaderSource, socket: SocketAddress | null, settings: OriginSettings = settingsFromEnv()): string {
  if (settings.publicOrigin) return settings.publicOrigin.replace(/\/+$/, '');
  const ownScheme = socket?.encrypted ? 'https' : 'http';
  const peer = socket?.remoteAddress ? normalizeAddress(socket.remoteAddress) : null;
  if (peerIsTrustedProxy(peer, settings.trustProxy)) {
    // The nearest proxy's view: the last entry of each list.
    const host = validHost(headerList(headers, 'x-forwarded-host').pop() ?? headerValue(headers, 'host'));
    const proto = headerList(headers, 'x-forwarded-proto').pop()?.toLowerCase();
    if (host) return `${proto === 'https' || proto === 'http' ? proto : ownScheme}://${host}`;
  }
  const host = validHost(headerValue(headers, 'host'));
  if (host && isLoopbackHost(host)) return `${ownScheme}://${host}`;
  if (socket?.localAddress && socket.localPort) return `${ownScheme}://${hostOfAddress(socket.localAddress)}:${socket.localPort}`;
  return `http://localhost:${settings.port}`;
}

/** The public origin for a request (or a page's request headers): see the rules above. */
export function publicOrigin(request: Request | HeaderSource): string {
  return publicOriginFrom(request instanceof Request ? request.headers : request, currentSocketAddress());
}

/**
 * The public base URL of the request's sandbox: the origin for the default sandbox,
 * `{origin}/s/{id}` for any other (lib/sandbox/context.ts). Every URL a sandbox advertises starts here.
 */
export function sandboxUrlOf(req: Request | HeaderSource): string {
  return `${publicOrigin(req)}${currentSandbox().basePath}`;
}

/** FHIR base URL of the request's sandbox ({origin}/fhir, or {origin}/s/{id}/fhir). */
export function fhirBaseOf(req: Request): string {
  return `${sandboxUrlOf(req)}/fhir`;
}

/** OAuth issuer of the request's sandbox (the origin, or {origin}/s/{id}). */
export function issuerOf(req: Request): string {
  return sandboxUrlOf(req);
}

/**
 * Cache headers for a document that embeds the origin (discovery, CapabilityStatement): shared
 * caches may keep it only when PUBLIC_ORIGIN fixes the origin; otherwise it depends on the
 * request's Host (and forwarded headers behind a trusted proxy), so no shared cache may serve one
 * client's answer to another.
 */
export function originCacheHeaders(maxAgeSeconds: number): Record<string, string> {
  if (env.PUBLIC_ORIGIN) return { 'cache-control': `public, max-age=${maxAgeSeconds}` };
  const vary = env.TRUST_PROXY.kind === 'none' ? 'Host' : 'Host, X-Forwarded-Host, X-Forwarded-Proto';
  return { 'cache-control': 'no-store', vary };
}
