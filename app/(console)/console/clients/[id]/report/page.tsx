import Link from 'next/link';
import { notFound } from 'next/navigation';
import { requireConsoleSession } from '#lib/console/auth';
import type { CheckStatus } from '#lib/console/report-card';
import { buildReportCard } from '#lib/console/report-card';
import { bulkExportReports } from '#lib/console/bulk-report';
import { BulkExports } from '../bulk-exports';
import { inSandboxPage } from '../../../../../request-sandbox';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'App report card · SMART Sandbox console' };
export const dynamic = 'force-dynamic';

type Props = { params: Promise<{ id: string }> };

const LABEL: Record<CheckStatus, string> = { pass: 'pass', fail: 'fail', 'not-seen': 'not yet seen', 'not-applicable': 'does not apply' };

async function ReportCardPage({ params }: Props) {
  const { id } = await params;
  await requireConsoleSession(`/console/clients/${id}/report`);
  const sandboxBase = currentSandbox().basePath;
  const card = await buildReportCard(id);
  if (!card) notFound();
  const exports = card.clientType === 'backend' ? await bulkExportReports(card.clientId) : [];
  const jsonUrl = `${sandboxBase}/api/console/clients/${encodeURIComponent(card.clientId)}/report`;
  return (
    <>
      <p>
        <Link href={`${sandboxBase}/console/clients/${encodeURIComponent(card.clientId)}`}>← {card.clientName}</Link>
      </p>
      <h1>
        App report card <code className="muted-small">{card.clientId}</code>
      </h1>
      <p data-testid="report-summary" className={card.ok ? 'ok' : 'error'}>
        {card.summary.fail === 0 ? 'No check failed.' : `${card.summary.fail} check(s) failed.`} {card.summary.pass} passed, {card.summary.notSeen} not yet
        seen, {card.summary.notApplicable} do not apply to a {card.clientType} client. Built from the client&apos;s {card.window.records} newest audit records
        {card.window.from ? ` (${card.window.from} to ${card.window.to})` : ''}.
      </p>
      <p className="muted-small">
        The same report as JSON for CI: <a href={jsonUrl}>{jsonUrl}</a> (console session, or <code>Authorization: Bearer</code> with an access token of this
        client; fail the build when <code>ok</code> is false).
      </p>
      <div className="table-scroll">
        <table data-testid="report-checks">
          <thead>
            <tr>
              <th>Check</th>
              <th>Verdict</th>
              <th>What was seen</th>
              <th>Evidence</th>
              <th>Rule</th>
            </tr>
          </thead>
          <tbody>
            {card.checks.map((c) => (
              <tr key={c.id} data-check={c.id} data-status={c.status}>
                <td>{c.title}</td>
                <td>
                  <span className={`badge ${c.status}`}>{LABEL[c.status]}</span>
                </td>
                <td>{c.summary}</td>
                <td>
                  {c.evidence.length === 0
                    ? '—'
                    : c.evidence.map((e) => (
                        <div key={`${c.id}-${e.auditId}`}>
                          <Link href={`${sandboxBase}/console/audit/${encodeURIComponent(e.auditId)}`}>
                            {e.method} {e.endpoint.length > 60 ? `${e.endpoint.slice(0, 60)}…` : e.endpoint} → {e.status}
                          </Link>{' '}
                          <span className="muted-small">{e.note}</span>
                        </div>
                      ))}
                </td>
                <td className="muted-small">{c.spec}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {exports.length ? <BulkExports reports={exports} /> : null}
    </>
  );
}

export default inSandboxPage(ReportCardPage);
