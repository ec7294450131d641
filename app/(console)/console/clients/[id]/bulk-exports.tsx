import type { BulkJobReport } from '#lib/console/bulk-report';

/** The client's Bulk Data exports: each job's timeline and how well the client behaved (lib/console/bulk-report). */
export function BulkExports({ reports }: { reports: BulkJobReport[] }) {
  return (
    <section className="card" data-testid="bulk-exports">
      <h2>Bulk Data exports</h2>
      {reports.map((r) => (
        <details key={r.jobId} open={r === reports[0]}>
          <summary>
            <code>{r.request}</code> at {r.kickedOffAt.toISOString()} — grade {r.passed}/{r.applicable}
          </summary>
          <table>
            <tbody>
              {r.checks.map((c) => (
                <tr key={c.name}>
                  <td>{c.ok === null ? '–' : c.ok ? '✓' : '✗'}</td>
                  <td>{c.name}</td>
                  <td className="muted">{c.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <table>
            <thead>
              <tr>
                <th>+s</th>
                <th>request</th>
                <th>status</th>
                <th>spacing vs Retry-After</th>
              </tr>
            </thead>
            <tbody>
              {r.events.map((e, i) => (
                <tr key={i} className={e.early || e.withoutToken ? 'error' : undefined}>
                  <td>{((e.at.getTime() - r.kickedOffAt.getTime()) / 1000).toFixed(1)}</td>
                  <td>
                    {e.kind}
                    {e.file ? ` ${e.file}` : ''}
                    {e.withoutToken ? ' (no token)' : ''}
                  </td>
                  <td>{e.status}</td>
                  <td>
                    {e.sincePreviousMs !== null
                      ? `${(e.sincePreviousMs / 1000).toFixed(1)} s after the last poll${e.toldRetryAfterS !== null ? `, told ${e.toldRetryAfterS} s` : ''}${e.early ? ' — too early' : ''}`
                      : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ))}
    </section>
  );
}
