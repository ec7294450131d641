import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { ACCESS_PAGE_CSP, renderAccessPage, renderSignInPage } from './access-page';

const HOSTILE = `<script>alert("pwned")</script> O'Brien`;

describe('access-management page', () => {
  const page = renderAccessPage({
    name: HOSTILE,
    fhirUser: 'Patient/p1',
    csrf: 'token"><b>',
    logoutCsrf: 'logout-token',
    revoked: { clientName: HOSTILE, grants: 2 },
    apps: [
      {
        clientId: 'app-1',
        clientName: HOSTILE,
        grants: [
          {
            id: 'g1',
            scope: 'offline_access patient/Observation.rs',
            scopes: [{ scope: 'patient/Observation.rs', explanation: "Read and search this patient's observations." }],
            patient: 'p1',
            launchKind: 'standalone',
            authorizedAt: new Date('2026-01-02T03:04:05Z'),
            activeUntil: new Date('2026-04-02T03:04:05Z'),
            refreshable: true,
          },
        ],
      },
    ],
  });

  it('escapes every registered or user value (app names are chosen by whoever registers the app)', () => {
    expect(page).not.toContain('<script>');
    expect(page).toContain('&lt;script&gt;');
    expect(page).not.toContain('token"><b>');
  });

  it('shows each app with what it may do, its refresh token and a revoke form with the CSRF token', () => {
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).toContain('data-client-id="app-1"');
    expect(page).toContain("Read and search this patient&#x27;s observations.");
    expect(page).toContain('until 2026-04-02 03:04 UTC');
    expect(page).toMatch(/<form action="\/interaction\/access" method="post"><input type="hidden" name="csrf" value="token&quot;&gt;&lt;b&gt;"\/><input type="hidden" name="client_id" value="app-1"\/>/);
    expect(page).toContain('2 authorizations, with their access and refresh tokens');
  });

  it('the CSP allows exactly the page stylesheet and no script', () => {
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)?.[1] ?? '';
    expect(ACCESS_PAGE_CSP).toContain(`'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    expect(ACCESS_PAGE_CSP).not.toContain('script-src');
    const signIn = renderSignInPage({ csrf: 'c', username: HOSTILE, error: 'Unknown username or wrong password.' });
    expect(signIn).not.toContain('<script>');
    expect(signIn).toContain('action="/interaction/access/login"');
    expect(signIn).toContain('role="alert"');
  });
});
