import { describe, expect, it } from 'vitest';
import { env } from '../env';
import { publicOrigin, publicOriginFrom, type OriginSettings } from './origin';
import { runWithSocketAddress, type SocketAddress } from './socket-address';

const plain: OriginSettings = { trustProxy: { kind: 'none' }, port: 3000 };
const socket: SocketAddress = { remoteAddress: '198.51.100.7', localAddress: '::ffff:192.0.2.10', localPort: 3000, encrypted: false };
const loopbackSocket: SocketAddress = { remoteAddress: '127.0.0.1', localAddress: '127.0.0.1', localPort: 3999, encrypted: false };

describe('publicOriginFrom', () => {
  it('PUBLIC_ORIGIN wins over every header', () => {
    const headers = new Headers({ host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' });
    expect(publicOriginFrom(headers, socket, { ...plain, publicOrigin: 'https://sandbox.example.org/' })).toBe('https://sandbox.example.org');
    expect(publicOriginFrom(headers, socket, { ...plain, trustProxy: { kind: 'hops', hops: 1 }, publicOrigin: 'https://sandbox.example.org' })).toBe(
      'https://sandbox.example.org',
    );
  });

  it('ignores forwarded headers and a non-loopback Host without a trusted proxy: the address reached', () => {
    const forged = new Headers({ host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' });
    expect(publicOriginFrom(forged, socket, plain)).toBe('http://192.0.2.10:3000');
    expect(publicOriginFrom(forged, null, plain)).toBe('http://localhost:3000');
    expect(publicOriginFrom(forged, { ...socket, localAddress: '::1' }, plain)).toBe('http://[::1]:3000');
  });

  it('honours a loopback Host, whichever loopback name, but not a loopback X-Forwarded-Host', () => {
    expect(publicOriginFrom(new Headers({ host: 'localhost:3999' }), loopbackSocket, plain)).toBe('http://localhost:3999');
    expect(publicOriginFrom(new Headers({ host: '127.0.0.1:3999' }), loopbackSocket, plain)).toBe('http://127.0.0.1:3999');
    expect(publicOriginFrom(new Headers({ host: '[::1]:3999' }), loopbackSocket, plain)).toBe('http://[::1]:3999');
    expect(publicOriginFrom(new Headers({ host: '127.0.0.1:3999', 'x-forwarded-host': 'localhost:3999' }), loopbackSocket, plain)).toBe(
      'http://127.0.0.1:3999',
    );
    expect(publicOriginFrom(new Headers({ host: 'localhost:3999' }), { ...loopbackSocket, encrypted: true }, plain)).toBe('https://localhost:3999');
  });

  it('behind a trusted proxy, takes the nearest proxy’s X-Forwarded-Host and -Proto', () => {
    const trusted: OriginSettings = { ...plain, trustProxy: { kind: 'addresses', addresses: ['10.0.0.2'] } };
    const headers = new Headers({ host: 'app:3000', 'x-forwarded-host': 'sandbox.example.org', 'x-forwarded-proto': 'https' });
    expect(publicOriginFrom(headers, { ...socket, remoteAddress: '10.0.0.2' }, trusted)).toBe('https://sandbox.example.org');
    // Any other peer is not the proxy: its forwarded headers prove nothing.
    expect(publicOriginFrom(headers, socket, trusted)).toBe('http://192.0.2.10:3000');
    // Garbage in a trusted header falls back to the fixed rule.
    const garbage = new Headers({ host: 'localhost:3000', 'x-forwarded-host': 'evil.example/path?x', 'x-forwarded-proto': 'https' });
    expect(publicOriginFrom(garbage, { ...socket, remoteAddress: '10.0.0.2' }, trusted)).toBe('http://localhost:3000');
  });

  it('publicOrigin reads the recorded connection, for Requests and page headers alike', () => {
    const req = new Request('http://evil.example/fhir/metadata', { headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' } });
    expect(runWithSocketAddress(socket, () => publicOrigin(req))).toBe(env.PUBLIC_ORIGIN ?? 'http://192.0.2.10:3000');
    expect(runWithSocketAddress(loopbackSocket, () => publicOrigin({ host: 'localhost:3999' }))).toBe(env.PUBLIC_ORIGIN ?? 'http://localhost:3999');
  });
});
