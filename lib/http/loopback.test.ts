import { describe, expect, it } from 'vitest';
import { hostnameOf, isLoopbackAddress, isLoopbackHost } from './loopback';

describe('isLoopbackHost', () => {
  it('accepts localhost, 127.0.0.0/8 and ::1, with or without a port', () => {
    for (const h of ['localhost', 'LOCALHOST:3000', '127.0.0.1', '127.0.0.1:3104', '127.1.2.3', '127.255.255.255:80', '[::1]', '[::1]:3000', '::1']) {
      expect(isLoopbackHost(h), h).toBe(true);
    }
  });

  it('refuses every other name, look-alikes included', () => {
    const others = [
      'example.com',
      'evil.example',
      '10.0.0.5:3000',
      '192.168.1.2',
      'localhost.example.com',
      'app.localhost',
      '127.0.0.1.nip.io',
      '127.0.0.256',
      '128.0.0.1',
      '[::2]',
      '0.0.0.0',
      '',
      null,
      undefined,
    ];
    for (const h of others) expect(isLoopbackHost(h), String(h)).toBe(false);
  });

  it('reads the host name of host:port and bracketed IPv6', () => {
    expect(hostnameOf('Example.COM:8080')).toBe('example.com');
    expect(hostnameOf('[::1]:3000')).toBe('::1');
    expect(hostnameOf('fe80::1')).toBe('fe80::1');
  });

  it('recognises loopback socket addresses, IPv4-mapped ones included', () => {
    for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['10.1.2.3', '::ffff:10.1.2.3', '2001:db8::1', null]) expect(isLoopbackAddress(a)).toBe(false);
  });
});
