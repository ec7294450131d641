import Link from 'next/link';
import { requireConsoleSession } from '#lib/console/auth';
import type { LiveCounter } from '#lib/console/rate-limits';
import { rateLimitOverview } from '#lib/console/rate-limits';
import { inSandboxPage } from '../../../request-sandbox';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'Rate limits · SMART Sandbox console' };

function period(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

function subjectOf(c: LiveCounter, sandboxBase: string) {
  if (c.kind === 'client')
    return (
      <Link href={`${sandboxBase}/console/clients/${encodeURIComponent(c.subject)}`}>
        <code>{c.subject}</code>
      </Link>
    );
  if (c.kind === 'patient')
    return (
      <Link href={`${sandboxBase}/console/data/patients/${encodeURIComponent(c.subject)}`}>
        <code>{c.subject}</code>
      </Link>
    );
  return <code>{c.subject}</code>;
}

async function RateLimitsPage() {
  await requireConsoleSession('/console/rate-limits');
  const sandboxBase = currentSandbox().basePath;
  const { limits, counters } = await rateLimitOverview();
  return (
    <>
      <h1>Rate limits</h1>
      <p className="lead">
        Fixed windows counted in the database, shared by every instance. A caller over a limit gets 429 with Retry-After until its window ends; each refusal is
        an audit record flagged{' '}
        <Link href={`${sandboxBase}/console/audit?flag=rate-limited`}>
          <span className="badge flag">rate-limited</span>
        </Link>{' '}
        (see <Link href={`${sandboxBase}/console/alerts`}>Alerts</Link>).
      </p>
      <h2>Configured limits</h2>
      <table data-testid="rate-limit-settings">
        <thead>
          <tr>
            <th>Counter</th>
            <th>What counts</th>
            <th>Limit</th>
            <th>Window</th>
            <th>Variable</th>
          </tr>
        </thead>
        <tbody>
          {limits.map((l) => (
            <tr key={l.kind}>
              <td>
                <code>{l.kind}</code>
              </td>
              <td>{l.counts}</td>
              <td>
                <strong>{l.limit > 0 ? l.limit : 'off'}</strong>
              </td>
              <td>{period(l.windowSeconds)}</td>
              <td>
                <code>{l.variable}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Current windows, busiest first</h2>
      {counters.length === 0 ? (
        <p className="card muted">No requests counted in the current windows.</p>
      ) : (
        <table data-testid="rate-limit-counters">
          <thead>
            <tr>
              <th>Counter</th>
              <th>Who</th>
              <th>Count</th>
              <th>Of limit</th>
              <th>Window ends</th>
            </tr>
          </thead>
          <tbody>
            {counters.map((c) => (
              <tr key={`${c.kind}:${c.subject}`} className={c.over ? 'flagged' : undefined}>
                <td>
                  <code>{c.kind}</code>
                </td>
                <td>{subjectOf(c, sandboxBase)}</td>
                <td>
                  <strong>{c.count}</strong>
                </td>
                <td>{c.limit > 0 ? `${Math.round(c.load * 100)}% of ${c.limit}${c.over ? ' — refusing' : ''}` : 'no limit'}</td>
                <td>{c.windowEnd.toISOString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export default inSandboxPage(RateLimitsPage);
