'use client';

import { useState } from 'react';
import { CONSOLE_AUTH_PATH } from '../auth-path';

/** Signs in through next-auth's Credentials callback (provider `console`) and follows the answer. */
export function LoginForm({ returnTo, defaultUser, disabled }: { returnTo: string; defaultUser: string; disabled: boolean }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(form: HTMLFormElement) {
    setBusy(true);
    setError(null);
    try {
      const data = new FormData(form);
      const csrf = (await (await fetch(`${CONSOLE_AUTH_PATH}/csrf`, { cache: 'no-store' })).json()) as { csrfToken?: string };
      const res = await fetch(`${CONSOLE_AUTH_PATH}/callback/console`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          csrfToken: csrf.csrfToken ?? '',
          username: String(data.get('username') ?? ''),
          password: String(data.get('password') ?? ''),
          callbackUrl: returnTo,
          json: 'true',
        }),
      });
      const body = (await res.json().catch(() => ({}))) as { url?: string };
      const url = body.url ? new URL(body.url, window.location.href) : null;
      const refusal = url?.searchParams.get('error') ?? null;
      // Too many failed attempts: the login page explains the lock and for about how long.
      if (refusal?.startsWith('locked-')) {
        window.location.href = `/console/login?${new URLSearchParams({ error: refusal, callbackUrl: returnTo }).toString()}`;
        return;
      }
      if (!res.ok || !url || refusal !== null) {
        setError('Wrong username or password, or this account is not allowed here.');
        return;
      }
      window.location.href = returnTo;
    } catch {
      setError('Could not reach the sign-in endpoint.');
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        void submit(e.currentTarget);
      }}
    >
      <label htmlFor="username">Username</label>
      <input id="username" name="username" autoComplete="username" defaultValue={defaultUser} required disabled={disabled} />
      <label htmlFor="password">Password</label>
      <input id="password" name="password" type="password" autoComplete="current-password" required disabled={disabled} />
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      <p>
        <button type="submit" disabled={busy || disabled}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </p>
    </form>
  );
}
