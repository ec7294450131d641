/**
 * The one loopback rule: `localhost`, 127.0.0.0/8 and ::1 (RFC 8252 §7.3 and §8.3; RFC 6761 §6.3
 * for the name). Used for the public origin (a loopback Host is honoured), http redirect URIs and
 * JWKS URLs in development, HSTS and the console's development account.
 */

const IPV4_LOOPBACK = /^127(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The host name of a `host[:port]` (or a bare host name), lower-cased, IPv6 without brackets. */
export function hostnameOf(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : h;
  }
  const colon = h.lastIndexOf(':');
  // More than one colon without brackets: a bare IPv6 address, no port.
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/** True for a loopback host name or `host:port`: localhost, 127.0.0.0/8, ::1 (bracketed or not). */
export function isLoopbackHost(host: string | null | undefined): boolean {
  if (!host) return false;
  const name = hostnameOf(host);
  return name === 'localhost' || IPV4_LOOPBACK.test(name) || name === '::1';
}

/** True for a loopback IP address as a socket reports it (IPv4-mapped IPv6 included). */
export function isLoopbackAddress(address: string | null | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return IPV4_LOOPBACK.test(a) || a === '::1';
}
