'use client';

import Link from 'next/link';
import { useEffect, useRef, useState } from 'react';
import type { AuditRecordJson } from '#lib/console/audit';

const MAX_ROWS = 500;

/**
 * The audit table, polling /api/console/audit every 2 s for records newer than the newest shown
 * (on the first page only: an older page stays as it is). Client names are shown beside their ids.
 */
export function AuditLive({
  initial,
  query,
  clientNames = {},
  paged = false,
  sandboxBase,
}: {
  initial: AuditRecordJson[];
  query: string;
  clientNames?: Record<string, string>;
  paged?: boolean;
  /** The console's sandbox prefix ('' or `/s/{id}`): its API and record pages. */
  sandboxBase: string;
}) {
  const [records, setRecords] = useState(initial);
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [live, setLive] = useState(!paged);
  const [error, setError] = useState<string | null>(null);
  const newest = useRef(initial[0]?.at ?? new Date(0).toISOString());

  useEffect(() => {
    if (!live) return;
    let stopped = false;
    const tick = async () => {
      try {
        const params = new URLSearchParams(query);
        params.set('since', newest.current);
        const res = await fetch(`${sandboxBase}/api/console/audit?${params.toString()}`, { cache: 'no-store' });
        if (res.status === 401) {
          setError('Signed out: reload to sign in again.');
          setLive(false);
          return;
        }
        if (!res.ok) throw new Error(String(res.status));
        const body = (await res.json()) as { records: AuditRecordJson[] };
        if (stopped) return;
        setError(null);
        if (body.records.length === 0) return;
        setRecords((old) => {
          const known = new Set(old.map((r) => r.id));
          const added = body.records.filter((r) => !known.has(r.id));
          if (added.length === 0) return old;
          setFresh(new Set(added.map((r) => r.id)));
          return [...added, ...old].slice(0, MAX_ROWS);
        });
        const top = body.records[0]?.at;
        if (top && top > newest.current) newest.current = top;
      } catch {
        if (!stopped) setError('Live updates paused: the server did not answer.');
      }
    };
    const timer = setInterval(() => void tick(), 2000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [live, query]);

  return (
    <>
      <p className="actions">
        {paged ? null : (
          <label>
            <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} /> Live (every 2 s)
          </label>
        )}
        {error ? <span className="error">{error}</span> : null}
      </p>
      {records.length === 0 ? (
        <p className="card muted" data-testid="audit-empty">
          No records match yet.
        </p>
      ) : (
        <table data-testid="audit-table">
          <thead>
            <tr>
              <th>Time</th>
              <th>Kind</th>
              <th>Request</th>
              <th>Status</th>
              <th>Client</th>
              <th>User</th>
              <th>Patient</th>
              <th>Detail</th>
              <th>Flags</th>
            </tr>
          </thead>
          <tbody>
            {records.map((r) => (
              <tr key={r.id} className={[r.flags.length ? 'flagged' : '', fresh.has(r.id) ? 'new' : ''].join(' ').trim() || undefined}>
                <td>
                  <Link href={`${sandboxBase}/console/audit/${encodeURIComponent(r.id)}`} title={r.at}>
                    {new Date(r.at).toLocaleTimeString()}
                  </Link>
                </td>
                <td>{r.kind}</td>
                <td>
                  <code>
                    {r.method} {r.endpoint.length > 70 ? `${r.endpoint.slice(0, 70)}…` : r.endpoint}
                  </code>
                </td>
                <td>
                  <span className={`badge ${r.status >= 400 ? 'error' : 'ok'}`}>{r.status}</span>
                  {r.errorCode ? <div className="muted-small">{r.errorCode}</div> : null}
                </td>
                <td>
                  {r.clientId ? (
                    <>
                      {clientNames[r.clientId] ? <div>{clientNames[r.clientId]}</div> : null}
                      <code className="muted-small">{r.clientId}</code>
                    </>
                  ) : (
                    '—'
                  )}
                </td>
                <td>{r.userId ?? '—'}</td>
                <td>{r.patientId ?? '—'}</td>
                <td className="muted-small">
                  {r.detail && r.detail.length > 120 ? `${r.detail.slice(0, 120)}…` : r.detail}
                  {r.resultCount !== null ? ` (${r.resultCount} results)` : ''}
                </td>
                <td>
                  {r.flags.map((f) => (
                    <span
                      key={f}
                      className={f === 'simulated' ? 'badge info' : 'badge flag'}
                      title={f === 'simulated' ? 'caused by a simulated error armed in the launcher' : undefined}
                    >
                      {f}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
