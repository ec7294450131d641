import { describe, expect, it } from 'vitest';
import { createCsrfToken, isSameOriginPost, verifyCsrfToken } from './csrf';
import type { Persona } from './personas';
import { readCookie } from '../http/cookies';
import { clearSessionCookie, createSessionCookie, readPersonaSession, sessionCookieName } from './session';

const persona: Persona = {
  kind: 'practitioner',
  id: 'practitioner-1',
  fhirUser: 'Practitioner/practitioner-1',
  name: 'Rose Bashirian',
  username: 'rose.bashirian',
  detail: '',
};

function requestWith(cookie: string, headers: Record<string, string> = {}): Request {
  return new Request('http://localhost:3000/interaction/x', { headers: { cookie, ...headers } });
}

describe('persona session', () => {
  it('a session cookie signs the persona in, with a fresh sid per sign-in', async () => {
    const { cookie, session } = await createSessionCookie(persona);
    expect(cookie).toMatch(/; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(cookie).toContain('; Max-Age=28800;');
    const value = cookie.split(';')[0] ?? '';
    const read = await readPersonaSession(requestWith(value));
    expect(read).toEqual(session);
    expect(read?.fhirUser).toBe('Practitioner/practitioner-1');
    const second = await createSessionCookie(persona);
    expect(second.session.sid).not.toBe(session.sid);
  });

  it('ignores missing, tampered and cleared cookies', async () => {
    expect(await readPersonaSession(requestWith(''))).toBeNull();
    expect(await readPersonaSession(requestWith(`${sessionCookieName()}=garbage`))).toBeNull();
    expect(clearSessionCookie()).toContain('Max-Age=0');
  });

  it('reads cookie headers: the first of a name, percent-decoded, nothing from the prototype', () => {
    expect(readCookie('a=1; b=x%20y; a=2', 'a')).toBe('1');
    expect(readCookie('a=1; b=x%20y', 'b')).toBe('x y');
    expect(readCookie('a=%E0%A4%A', 'a')).toBe('%E0%A4%A');
    expect(readCookie('a=1', 'constructor')).toBeNull();
    expect(readCookie(null, 'a')).toBeNull();
  });
});

describe('CSRF tokens', () => {
  it('are bound to purpose, interaction, browser binding and session', async () => {
    const token = await createCsrfToken('consent', 'int-1', 'bind-1', 'sid-1');
    expect(await verifyCsrfToken(token, 'consent', 'int-1', 'bind-1', 'sid-1')).toBe(true);
    expect(await verifyCsrfToken(token, 'login', 'int-1', 'bind-1', 'sid-1')).toBe(false);
    expect(await verifyCsrfToken(token, 'consent', 'int-2', 'bind-1', 'sid-1')).toBe(false);
    expect(await verifyCsrfToken(token, 'consent', 'int-1', 'bind-2', 'sid-1')).toBe(false);
    expect(await verifyCsrfToken(token, 'consent', 'int-1', 'bind-1', 'sid-2')).toBe(false);
    expect(await verifyCsrfToken('', 'consent', 'int-1', 'bind-1', 'sid-1')).toBe(false);
    expect(await verifyCsrfToken(token, 'consent', 'int-1', '', 'sid-1')).toBe(false);
  });

  it('POSTs must come from our own origin', () => {
    const origin = 'http://localhost:3000';
    expect(isSameOriginPost(requestWith('', { origin }), origin)).toBe(true);
    expect(isSameOriginPost(requestWith('', { origin: 'https://evil.example' }), origin)).toBe(false);
    expect(isSameOriginPost(requestWith('', { origin: 'null', 'sec-fetch-site': 'cross-site' }), origin)).toBe(false);
    expect(isSameOriginPost(requestWith('', { origin: 'null', 'sec-fetch-site': 'same-origin' }), origin)).toBe(true);
    expect(isSameOriginPost(requestWith('', { 'sec-fetch-site': 'cross-site' }), origin)).toBe(false);
  });
});
