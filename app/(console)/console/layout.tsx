import type { ReactNode } from 'react';
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { loadOrLeave } from '#lib/http/unavailable';
import Link from 'next/link';
import { readConsoleSession } from '#lib/console/auth';
import { inRequestSandbox } from '../../request-sandbox';
import { SignOutButton } from './sign-out-client';
import { ClockControls } from './clock-client';
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

/** What a workshop attendee's console shows of their own sandbox (issue 15 item 3). */
const ATTENDEE_TABS = new Set(['Tokens', 'Audit', 'Alerts', 'Flows', 'Scopes', 'Clients']);

export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const requestHeaders = await headers();
  const [session, sandbox] = await inRequestSandbox(
    async (sandbox) => [await loadOrLeave('console', `${sandbox.basePath}/console`, redirect, () => readConsoleSession(requestHeaders)), sandbox] as const,
  );
  const base = sandbox.basePath;
  // In an attendee's sandbox: their own pages and exercises; the room pages stay on the instructor's console.
  const tabs: [string, string][] = base
    ? [...TABS.filter(([, label]) => ATTENDEE_TABS.has(label) || (session?.account !== 'attendee' && label === 'Data')), ['/console/exercises', 'Exercises']]
    : TABS;
  return (
    <div className="console">
      <nav className="console-nav" aria-label="Console">
        <Link className="brand" href={`${base}/console`}>
          {base ? 'SMART Sandbox console · your sandbox' : 'SMART Sandbox console'}
        </Link>
        {session
          ? tabs.map(([href, label]) => (
              <Link key={href} className="tab" href={`${base}${href}`}>
                {label}
              </Link>
            ))
          : null}
        <span className="spacer" />
        {session ? (
          <span className="who">
            <span>
              {session.user}
              {session.account === 'development' ? ' (development account)' : session.account === 'attendee' ? ' (workshop attendee)' : ''}
            </span>
            {session.account === 'attendee' ? null : <SignOutButton />}
          </span>
        ) : null}
      </nav>
      {session && base ? <ClockControls base={base} offsetSeconds={sandbox.clockOffsetSeconds} /> : null}
      <main>{children}</main>
    </div>
  );
}
