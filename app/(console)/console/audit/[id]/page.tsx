import { Fragment } from 'react';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { getAuditRecord, toAuditJson } from '#lib/console/audit';
import { toAuditEvent } from '#lib/audit/audit-event';
import { requireConsoleSession } from '#lib/console/auth';
import { FLAG_DESCRIPTIONS } from '#lib/console/alerts';
import type { AuditFlag } from '#lib/audit/record';
import { inSandboxPage } from '../../../../request-sandbox';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'Audit record · SMART Sandbox console' };

type Props = { params: Promise<{ id: string }> };

async function AuditRecordPage({ params }: Props) {
  const { id } = await params;
  await requireConsoleSession(`/console/audit/${id}`);
  const sandboxBase = currentSandbox().basePath;
  const record = await getAuditRecord(id);
  if (!record) notFound();
  const r = toAuditJson(record);
  const rows: [string, string | number | null][] = [
    ['Time', r.at],
    ['Kind', r.kind],
    ['Method', r.method],
    ['Endpoint', r.endpoint],
    ['Status', r.status],
    ['Error code', r.errorCode],
    ['Detail', r.detail],
    ['Resource', r.resourceType ? `${r.resourceType}${r.resourceId ? `/${r.resourceId}` : ''}` : null],
    ['Results returned', r.resultCount],
    ['Client', r.clientId],
    ['User', r.userId],
    ['Patient', r.patientId],
    ['Launch', r.launchId],
    ['Scopes used', r.scopes],
    ['Latency', `${r.latencyMs} ms`],
    ['IP', r.ip],
    ['User agent', r.userAgent],
    ['Origin', r.origin],
  ];
  return (
    <>
      <p>
        <Link href={`${sandboxBase}/console/audit`}>← Audit trail</Link>
      </p>
      <h1>
        {r.method} <code>{r.endpoint}</code> <span className={`badge ${r.status >= 400 ? 'error' : 'ok'}`}>{r.status}</span>
      </h1>
      {r.flags.map((f) => (
        <p key={f} className={f === 'simulated' ? 'notice' : 'notice warn'}>
          <span className={f === 'simulated' ? 'badge info' : 'badge flag'}>{f}</span>{' '}
          {Object.hasOwn(FLAG_DESCRIPTIONS, f) ? FLAG_DESCRIPTIONS[f as AuditFlag] : ''}
        </p>
      ))}
      <div className="card">
        <dl className="kv">
          {rows.map(([k, v]) => (
            <Fragment key={k}>
              <dt>{k}</dt>
              <dd>{v === null || v === '' ? '—' : String(v)}</dd>
            </Fragment>
          ))}
        </dl>
        <p className="actions" style={{ marginTop: 12 }}>
          {r.clientId ? (
            <Link className="button secondary" href={`${sandboxBase}/console/audit?clientId=${encodeURIComponent(r.clientId)}`}>
              All records of this client
            </Link>
          ) : null}
          {r.launchId ? (
            <Link className="button secondary" href={`${sandboxBase}/console/audit?launchId=${encodeURIComponent(r.launchId)}`}>
              All records of this launch
            </Link>
          ) : null}
          {r.kind === 'fhir' && r.status === 403 ? (
            <Link
              className="button secondary"
              href={`${sandboxBase}/console/scopes?url=${encodeURIComponent(r.endpoint)}&method=${r.method}&scope=${encodeURIComponent(r.scopes ?? '')}&patient=${encodeURIComponent(r.patientId ?? '')}`}
            >
              Why was this denied?
            </Link>
          ) : null}
        </p>
      </div>
      <h2>As a FHIR AuditEvent</h2>
      <pre className="json">{JSON.stringify(toAuditEvent(record), null, 2)}</pre>
    </>
  );
}

export default inSandboxPage(AuditRecordPage);
