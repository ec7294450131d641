import Link from 'next/link';
import { summarizeAlerts } from '#lib/console/alerts';
import { requireConsoleSession } from '#lib/console/auth';
import { inSandboxPage } from '../../../request-sandbox';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'Alerts · SMART Sandbox console' };

async function AlertsPage() {
  await requireConsoleSession('/console/alerts');
  const sandboxBase = currentSandbox().basePath;
  const s = await summarizeAlerts();
  return (
    <>
      <h1>Alerts</h1>
      <p className="lead">Requests the server flagged as abuse or attack attempts. {s.total} flagged record(s) in the audit trail.</p>
      <h2>By kind</h2>
      <table data-testid="alerts-by-flag">
        <thead>
          <tr>
            <th>Flag</th>
            <th>What it means</th>
            <th>Count</th>
            <th>Last seen</th>
          </tr>
        </thead>
        <tbody>
          {s.byFlag.map((f) => (
            <tr key={f.flag} className={f.count ? 'flagged' : undefined}>
              <td>
                {f.count ? (
                  <Link href={f.href}>
                    <span className="badge flag">{f.flag}</span>
                  </Link>
                ) : (
                  <span className="badge">{f.flag}</span>
                )}
              </td>
              <td>{f.description}</td>
              <td>
                <strong>{f.count}</strong>
              </td>
              <td>{f.last ? f.last.toISOString() : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>By client</h2>
      {s.byClient.length === 0 ? (
        <p className="card muted">No flagged records.</p>
      ) : (
        <table data-testid="alerts-by-client">
          <thead>
            <tr>
              <th>Client</th>
              <th>Flagged records</th>
              <th>Flags</th>
            </tr>
          </thead>
          <tbody>
            {s.byClient.map((c) => (
              <tr key={c.clientId ?? '(none)'}>
                <td>
                  <Link href={c.href}>{c.clientId ?? '(unidentified caller)'}</Link>
                </td>
                <td>
                  <strong>{c.count}</strong>
                </td>
                <td>
                  {Object.entries(c.flags).map(([flag, n]) => (
                    <Link
                      key={flag}
                      href={`${sandboxBase}/console/audit?flag=${flag}${c.clientId ? `&clientId=${encodeURIComponent(c.clientId)}` : ''}`}
                      style={{ marginRight: 6 }}
                    >
                      <span className="badge flag">
                        {flag} × {n}
                      </span>
                    </Link>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Simulated errors (armed in the launcher)</h2>
      {s.simulated.count === 0 ? (
        <p className="card muted">No record was caused by a simulated error.</p>
      ) : (
        <>
          <p className="muted-small">
            <Link href={s.simulated.href}>{s.simulated.count} record(s)</Link> had the outcome of a simulated error a developer armed: tests of the app, not
            counted above.
          </p>
          <table data-testid="alerts-simulated">
            <thead>
              <tr>
                <th>Client</th>
                <th>Records</th>
                <th>Outcomes</th>
              </tr>
            </thead>
            <tbody>
              {s.simulated.byClient.map((c) => (
                <tr key={c.clientId ?? '(none)'}>
                  <td>
                    <Link href={c.href}>{c.clientId ?? '(unidentified caller)'}</Link>
                  </td>
                  <td>{c.count}</td>
                  <td>
                    {Object.entries(c.flags).map(([flag, n]) => (
                      <span key={flag} className="badge info" style={{ marginRight: 6 }}>
                        simulated {flag} × {n}
                      </span>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h2>Repeated invalid tokens from one caller</h2>
      {s.repeatedInvalidTokens.length === 0 ? (
        <p className="card muted">No caller sent 5 or more invalid tokens.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>IP</th>
              <th>User agent</th>
              <th>Invalid-token requests</th>
              <th>Last</th>
            </tr>
          </thead>
          <tbody>
            {s.repeatedInvalidTokens.map((c) => (
              <tr key={`${c.ip ?? ''}|${c.userAgent ?? ''}`}>
                <td>{c.ip ?? '—'}</td>
                <td className="muted-small">{c.userAgent ?? '—'}</td>
                <td>
                  <Link href={`${sandboxBase}/console/audit?flag=invalid-token`}>
                    <strong>{c.count}</strong>
                  </Link>
                </td>
                <td>{c.last.toISOString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export default inSandboxPage(AlertsPage);
