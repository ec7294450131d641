import type { ReactNode } from 'react';
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { loadOrLeave } from '#lib/http/unavailable';
import Link from 'next/link';
import { readConsoleSession } from '#lib/console/auth';
import { SignOutButton } from './sign-out-client';
import './console.css';

export const dynamic = 'force-dynamic';

const TABS: [string, string][] = [
  ['/console/tokens', 'Tokens'],
  ['/console/audit', 'Audit'],
  ['/console/alerts', 'Alerts'],
  ['/console/rate-limits', 'Rate limits'],
  ['/console/flows', 'Flows'],
  ['/console/scopes', 'Scopes'],
  ['/console/clients', 'Clients'],
  ['/console/backend-demo', 'Backend demo'],
  ['/console/data', 'Data'],
  ['/console/workshops', 'Workshops'],
];

export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const requestHeaders = await headers();
  const session = await loadOrLeave('console', '/console', redirect, () => readConsoleSession(requestHeaders));
  return (
    <div className="console">
      <nav className="console-nav" aria-label="Console">
        <Link className="brand" href="/console">
          SMART Sandbox console
        </Link>
        {session
          ? TABS.map(([href, label]) => (
              <Link key={href} className="tab" href={href}>
                {label}
              </Link>
            ))
          : null}
        <span className="spacer" />
        {session ? (
          <span className="who">
            <span>
              {session.user}
              {session.account === 'development' ? ' (development account)' : ''}
            </span>
            <SignOutButton />
          </span>
        ) : null}
      </nav>
      <main>{children}</main>
    </div>
  );
}
