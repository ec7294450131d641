import Link from 'next/link';
import { notFound } from 'next/navigation';
import { requireConsoleSession } from '#lib/console/auth';
import { getResource, patientResourceCounts, patientResources, resourceLabel } from '#lib/console/data';
import { firstParam } from '#lib/console/format';
import { inSandboxPage } from '../../../../../request-sandbox';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'Patient · SMART Sandbox console' };

type Props = { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> };

async function PatientPage({ params, searchParams }: Props) {
  const { id } = await params;
  await requireConsoleSession(`/console/data/patients/${id}`);
  const sandboxBase = currentSandbox().basePath;
  const sp = await searchParams;
  const patient = await getResource('Patient', id);
  if (!patient) notFound();
  const counts = await patientResourceCounts(id);
  const type = firstParam(sp.type) ?? '';
  const selected = counts.some((c) => c.type === type) ? type : '';
  const resources = selected ? await patientResources(id, selected) : [];
  const rawId = firstParam(sp.raw);
  const raw = rawId && selected ? resources.find((r) => r.id === rawId) ?? null : null;
  const base = `${sandboxBase}/console/data/patients/${encodeURIComponent(id)}`;
  return (
    <>
      <p><Link href={`${sandboxBase}/console/data`}>← Data</Link></p>
      <h1>Patient <code>{id}</code></h1>
      <p className="actions">
        <Link className="button secondary" href={`${sandboxBase}/console/audit?patientId=${encodeURIComponent(id)}`}>Audit records about this patient</Link>
        <Link className="button secondary" href={`${sandboxBase}/console/tokens?patientId=${encodeURIComponent(id)}`}>Tokens for this patient</Link>
      </p>
      <div className="grid2">
        <div>
          <h2>Resources by type</h2>
          <table>
            <tbody>
              {counts.map((c) => (
                <tr key={c.type} className={c.type === selected ? 'flagged' : undefined}>
                  <td><Link href={`${base}?type=${encodeURIComponent(c.type)}`}>{c.type}</Link></td>
                  <td>{c.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <h2>Patient resource</h2>
          <pre className="json">{JSON.stringify(patient, null, 2)}</pre>
        </div>
      </div>
      {selected ? (
        <>
          <h2>{selected} ({resources.length}{resources.length >= 100 ? '+' : ''})</h2>
          <table>
            <tbody>
              {resources.map((r) => (
                <tr key={r.id} className={r.id === rawId ? 'flagged' : undefined}>
                  <td><Link href={`${base}?type=${encodeURIComponent(selected)}&raw=${encodeURIComponent(r.id ?? '')}`}><code>{r.id}</code></Link></td>
                  <td>{resourceLabel(r)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {raw ? (<><h2>{raw.resourceType}/{raw.id}</h2><pre className="json" data-testid="raw-json">{JSON.stringify(raw, null, 2)}</pre></>) : null}
        </>
      ) : null}
    </>
  );
}

export default inSandboxPage(PatientPage);
