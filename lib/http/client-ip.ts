/**
 * The client's IP address, for the audit record and the per-IP rate limits alike. It is the
 * address of the TCP peer; X-Forwarded-For is believed only when TRUST_PROXY says the peer is a
 * reverse proxy, and then only as far as the trusted hops go: entries further left were written
 * by the client and prove nothing (RFC 7239 §8.3 on forged forwarding information).
 */
import { env, type TrustProxy } from '../env';
import { headerList, type HeaderSource } from './headers';
import { currentSocketAddress, normalizeAddress } from './socket-address';

/** Whether the peer is a proxy whose forwarded headers are believed (TRUST_PROXY). */
export function peerIsTrustedProxy(peer: string | null, trust: TrustProxy = env.TRUST_PROXY): boolean {
  if (trust.kind === 'none') return false;
  if (trust.kind === 'hops') return true;
  return peer !== null && trust.addresses.includes(peer);
}

/**
 * The client address from the peer and the X-Forwarded-For entries: with N trusted hops, the
 * entry N places left of the peer; with a list of proxy addresses, the right-most address that
 * is not one of them. Pure, for tests.
 */
export function clientIpFrom(peer: string | null, forwardedFor: readonly string[], trust: TrustProxy = env.TRUST_PROXY): string | null {
  const ip = ((): string | null => {
    if (!peerIsTrustedProxy(peer, trust)) return peer;
    const chain = [...forwardedFor.map(normalizeAddress), peer];
    if (trust.kind === 'hops') return chain[Math.max(0, chain.length - 1 - trust.hops)] ?? null;
    if (trust.kind === 'addresses') {
      for (let i = chain.length - 1; i >= 0; i--) {
        const hop = chain[i];
        if (hop && !trust.addresses.includes(hop)) return hop;
      }
      return chain[0] ?? null;
    }
    return peer;
  })();
  return ip === null || ip === '' ? null : ip.slice(0, 64);
}

/**
 * The IP address of the client making the current request (null when the server recorded no
 * connection, e.g. an in-process call: per-IP limits then do not apply).
 */
export function clientIp(request: Request | HeaderSource): string | null {
  const headers = request instanceof Request ? request.headers : request;
  const socket = currentSocketAddress();
  const peer = socket?.remoteAddress ? normalizeAddress(socket.remoteAddress) : null;
  return clientIpFrom(peer, headerList(headers, 'x-forwarded-for'));
}
