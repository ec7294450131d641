import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { accountModeFor, consoleLockedMessage, readConsoleSession } from '#lib/console/auth';
import { firstParam } from '#lib/console/format';
import { LoginForm } from './login-client';
import { inSandboxPage } from '../../../request-sandbox';

export const metadata = { title: 'Console sign-in · SMART Sandbox' };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

function safeReturn(path: string | undefined): string {
  return path && path.startsWith('/console') && !path.startsWith('//') ? path : '/console';
}

async function LoginPage({ searchParams }: Props) {
  const params = await searchParams;
  const h = await headers();
  const returnTo = safeReturn(firstParam(params.callbackUrl));
  if (await readConsoleSession(h)) redirect(returnTo);
  const mode = accountModeFor(h);
  const error = firstParam(params.error);
  const locked = error ? consoleLockedMessage(error) : null;
  return (
    <div className="login">
      <h1>Console sign-in</h1>
      {mode.kind === 'development' ? (
        <div className="notice" data-testid="dev-account-notice">
          <strong>Development account:</strong> this server runs in development mode on localhost, so the built-in account <code>{mode.user}</code> /{' '}
          <code>{mode.password}</code> works. It is refused in production mode and from other hosts; set <code>CONSOLE_USER</code> and{' '}
          <code>CONSOLE_PASSWORD</code> there.
        </div>
      ) : mode.kind === 'configured' ? (
        <div className="notice warn" data-testid="configured-account-notice">
          A configured console account is required ({mode.why}). The default development account is refused.
        </div>
      ) : (
        <div className="notice bad" data-testid="no-account-notice">
          No console account can sign in: {mode.why}.
        </div>
      )}
      {locked ? (
        <p className="error" role="alert" data-testid="sign-in-locked">
          {locked}
        </p>
      ) : error ? (
        <p className="error" role="alert">
          Sign-in failed: wrong username or password{mode.kind !== 'development' ? ', or the default account was refused' : ''}.
        </p>
      ) : null}
      <LoginForm returnTo={returnTo} defaultUser={mode.kind === 'development' ? mode.user : ''} disabled={mode.kind === 'unavailable'} />
    </div>
  );
}

export default inSandboxPage(LoginPage);
