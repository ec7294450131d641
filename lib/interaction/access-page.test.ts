import { describe, expect, it } from 'vitest';
import { htmlPage } from '../http/html';
import { accessHeader, accessView, signInView } from './access-page';

const HOSTILE = `<script>alert("pwned")</script> O'Brien`;

describe('access-management page', async () => {
  const page = await htmlPage(
    accessView({
      csrf: 'token"><b>',
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
    }),
    { title: 'App access', header: accessHeader({ name: HOSTILE, fhirUser: 'Patient/p1', logoutCsrf: 'logout-token' }) },
  ).text();

  it('escapes every registered or user value (app names are chosen by whoever registers the app)', () => {
    expect(page).not.toContain('<script>');
    expect(page).toContain('&lt;script&gt;');
    expect(page).not.toContain('token"><b>');
  });

  it('shows each app with what it may do, its refresh token, a revoke form with the CSRF token, and a sign-out form', () => {
    expect(page).toContain('data-client-id="app-1"');
    expect(page).toContain('Read and search this patient&#x27;s observations.');
    expect(page).toContain('until 2026-04-02 03:04 UTC');
    expect(page).toMatch(
      /<form action="\/interaction\/access" method="post"><input type="hidden" name="csrf" value="token&quot;&gt;&lt;b&gt;"\/><input type="hidden" name="client_id" value="app-1"\/>/,
    );
    expect(page).toContain('2 authorizations, with their access and refresh tokens');
    expect(page).toMatch(/<form action="\/interaction\/access\/logout" method="post"><input type="hidden" name="csrf" value="logout-token"\/>/);
  });

  it('the sign-in view posts to the page’s own sign-in and shows why the last attempt failed', async () => {
    const signIn = await htmlPage(signInView({ csrf: 'c', username: HOSTILE, error: 'Unknown username or wrong password.' }), {
      title: 'Sign in',
      status: 401,
    }).text();
    expect(signIn).not.toContain('<script>');
    expect(signIn).toContain('action="/interaction/access/login"');
    expect(signIn).toContain('role="alert"');
  });
});
