import { describe, expect, it } from 'vitest';
import { jwksUriProblem, redirectUriProblem } from './client-metadata';

describe('registration URL rules in development and in https-only mode (HTTPS_ONLY)', () => {
  it('development: http redirect URIs only on loopback, localhost included (RFC 9700 §2.6)', () => {
    for (const uri of ['http://localhost:8080/cb', 'http://127.0.0.1:9/cb', 'http://[::1]:9/cb', 'https://app.example.org/cb'])
      expect(redirectUriProblem(uri, false), uri).toBeNull();
    expect(redirectUriProblem('http://app.example.org/cb', false)).toMatch(/non-loopback/);
  });

  it('https-only: http redirect URIs only on a loopback IP, not the name localhost (RFC 8252 §7.3, §8.3)', () => {
    for (const uri of ['http://127.0.0.1:9/cb', 'http://[::1]:9/cb', 'https://app.example.org/cb', 'https://localhost:8443/cb', 'com.example.app:/cb']) {
      expect(redirectUriProblem(uri, true), uri).toBeNull();
    }
    for (const uri of ['http://localhost:8080/cb', 'http://app.example.org/cb', 'http://app.localhost/cb'])
      expect(redirectUriProblem(uri, true), uri).toMatch(/HTTPS_ONLY/);
  });

  it('jwks_uri: http on loopback in development; https and never loopback in https-only mode', () => {
    expect(jwksUriProblem('http://127.0.0.1:9/jwks.json', false)).toBeNull();
    expect(jwksUriProblem('http://app.example.org/jwks.json', false)).toMatch(/https/);
    expect(jwksUriProblem('https://app.example.org/jwks.json', true)).toBeNull();
    for (const uri of [
      'http://127.0.0.1:9/jwks.json',
      'http://app.example.org/jwks.json',
      'https://localhost/jwks.json',
      'https://127.0.0.1/jwks.json',
      'https://[::1]/jwks.json',
    ]) {
      expect(jwksUriProblem(uri, true), uri).not.toBeNull();
    }
  });
});
