import Link from 'next/link';
import { requireConsoleSession } from '#lib/console/auth';
import { currentDataset, getReseedStatus, searchPatients } from '#lib/console/data';
import { firstParam } from '#lib/console/format';
import { ReseedPanel } from './reseed-client';
import { inSandboxPage } from '../../../request-sandbox';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'Data · SMART Sandbox console' };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

async function DataPage({ searchParams }: Props) {
  await requireConsoleSession('/console/data');
  const sandboxBase = currentSandbox().basePath;
  const q = (firstParam((await searchParams).q) ?? '').slice(0, 100);
  const [patients, dataset, status] = await Promise.all([searchPatients(q), currentDataset(), getReseedStatus()]);
  return (
    <>
      <h1>Data</h1>
      <p className="lead">
        Synthetic dataset: {dataset.resources} resources
        {dataset.seed !== undefined ? `, seed ${dataset.seed}, ${dataset.patients ?? '?'} generated patients plus the edge-case roster, anchor date ${dataset.anchorDate ?? '?'}` : ''}.
      </p>
      <ReseedPanel initial={status} defaultSeed={dataset.seed ?? 42} defaultPatients={dataset.patients ?? 100} />
      <h2>Patients</h2>
      <form method="get" className="filters">
        <label>Name or id<input name="q" defaultValue={q} placeholder="e.g. smith" /></label>
        <button type="submit">Search</button>
      </form>
      {patients.length === 0 ? <p className="card muted">No patients match.</p> : (
        <table data-testid="patients-table">
          <thead><tr><th>Name</th><th>id</th><th>Gender</th><th>Birth date</th></tr></thead>
          <tbody>
            {patients.map((p) => (
              <tr key={p.id}>
                <td><Link href={`${sandboxBase}/console/data/patients/${encodeURIComponent(p.id)}`}>{p.name}</Link></td>
                <td><code>{p.id}</code></td>
                <td>{p.gender}</td>
                <td>{p.birthDate}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export default inSandboxPage(DataPage);
