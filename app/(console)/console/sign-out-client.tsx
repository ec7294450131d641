'use client';

import { CONSOLE_AUTH_PATH } from './auth-path';

/** Signs out of the console through next-auth (POST /api/console/auth/signout with its CSRF token). */
export function SignOutButton() {
  async function signOut() {
    const csrf = (await (await fetch(`${CONSOLE_AUTH_PATH}/csrf`, { cache: 'no-store' })).json()) as { csrfToken?: string };
    await fetch(`${CONSOLE_AUTH_PATH}/signout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrfToken: csrf.csrfToken ?? '', callbackUrl: '/console/login', json: 'true' }),
    });
    window.location.href = '/console/login';
  }
  return (
    <button type="button" onClick={() => void signOut()}>
      Sign out
    </button>
  );
}
