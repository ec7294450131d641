import { describe, expect, it } from 'vitest';
import { clientIp, clientIpFrom, peerIsTrustedProxy } from './client-ip';
import { runWithSocketAddress } from './socket-address';

const none = { kind: 'none' } as const;
const oneHop = { kind: 'hops', hops: 1 } as const;
const twoHops = { kind: 'hops', hops: 2 } as const;
const proxies = { kind: 'addresses', addresses: ['10.0.0.2', '10.0.0.3'] } as const;

describe('clientIpFrom', () => {
  it('without a trusted proxy, is the peer whatever X-Forwarded-For claims', () => {
    expect(clientIpFrom('198.51.100.7', ['203.0.113.66'], none)).toBe('198.51.100.7');
    expect(clientIpFrom('198.51.100.7', ['203.0.113.66', '192.0.2.1'], none)).toBe('198.51.100.7');
    expect(clientIpFrom(null, ['203.0.113.66'], none)).toBeNull();
  });

  it('with N trusted hops, takes the entry the nearest proxies appended, never the client-written ones', () => {
    // The client forged 203.0.113.66; the proxy appended the address it saw (192.0.2.1).
    expect(clientIpFrom('10.0.0.2', ['203.0.113.66', '192.0.2.1'], oneHop)).toBe('192.0.2.1');
    expect(clientIpFrom('10.0.0.3', ['203.0.113.66', '192.0.2.1', '10.0.0.2'], twoHops)).toBe('192.0.2.1');
    expect(clientIpFrom('10.0.0.2', [], oneHop)).toBe('10.0.0.2');
  });

  it('with a list of proxies, believes only a listed peer and skips listed hops from the right', () => {
    expect(clientIpFrom('10.0.0.2', ['203.0.113.66', '192.0.2.1', '10.0.0.3'], proxies)).toBe('192.0.2.1');
    expect(clientIpFrom('198.51.100.7', ['192.0.2.1'], proxies)).toBe('198.51.100.7');
    expect(peerIsTrustedProxy('10.0.0.9', proxies)).toBe(false);
    expect(peerIsTrustedProxy(null, proxies)).toBe(false);
  });

  it('writes IPv4-mapped addresses as IPv4', () => {
    expect(clientIpFrom('10.0.0.2', ['::ffff:192.0.2.1'], oneHop)).toBe('192.0.2.1');
  });
});

describe('clientIp', () => {
  it('reads the connection the server recorded for the request', () => {
    const req = new Request('http://localhost/fhir/metadata', { headers: { 'x-forwarded-for': '203.0.113.66' } });
    const socket = { remoteAddress: '::ffff:198.51.100.7', localAddress: '::ffff:127.0.0.1', localPort: 3000, encrypted: false };
    expect(runWithSocketAddress(socket, () => clientIp(req))).toBe('198.51.100.7');
    expect(runWithSocketAddress(socket, () => clientIp({ 'x-forwarded-for': '203.0.113.66' }))).toBe('198.51.100.7');
  });

  it('is unknown without a recorded connection and no trusted proxy', () => {
    expect(clientIp(new Request('http://localhost/', { headers: { 'x-forwarded-for': '203.0.113.66' } }))).toBeNull();
  });
});
