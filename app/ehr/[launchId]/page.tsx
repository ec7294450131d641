import { headers } from 'next/headers';
import { notFound } from 'next/navigation';
import { getEhrFrame } from '#lib/launcher/ehr-frame';
import { publicOrigin } from '#lib/http/origin';
import { describeSimulatedError } from '#lib/launch-options/simulated-errors';
import { inRequestSandbox } from '../../request-sandbox';

export const dynamic = 'force-dynamic';

// The mock EHR: chrome, patient banner, and the app in an iframe opened at its launch URL with
// iss and launch (SMART App Launch 2.2 §launch-app-ehr-launch; docs/CONFORMANCE.md #155, #158).
export default async function EhrFramePage({ params }: { params: Promise<{ launchId: string }> }) {
  const { launchId } = await params;
  const origin = publicOrigin(await headers());
  const [frame, basePath] = await inRequestSandbox(async (sandbox) => [await getEhrFrame(launchId, origin), sandbox.basePath] as const);
  if (!frame) notFound();
  const b = frame.banner;
  return (
    <div className="ehr">
      <header className="ehr-chrome">
        <strong>Riverbend EHR</strong>
        <span className="muted-on-dark">SMART Sandbox mock EHR</span>
        <span className="ehr-user">{frame.user ? `${frame.user.name}` : 'No EHR user'}</span>
        <a href={`${basePath}/`}>Back to launcher</a>
      </header>
      {b ? (
        <section className="patient-banner" aria-label="Patient banner" data-testid="patient-banner">
          <strong className="patient-name" data-testid="banner-name">
            {b.name}
          </strong>
          <span>
            DOB <b>{b.birthDate ?? 'unknown'}</b>
            {frame.age !== null ? ` (${frame.age} y)` : null}
          </span>
          <span>
            Sex <b>{b.gender ?? 'unknown'}</b>
          </span>
          <span>
            MRN <b>{b.mrn ?? '—'}</b>
          </span>
          <span className={b.allergies.length ? 'badge danger' : 'badge'} title={b.allergies.join(', ')}>
            {b.allergies.length ? `Allergies (${b.allergies.length}): ${b.allergies.slice(0, 3).join(', ')}${b.allergies.length > 3 ? '…' : ''}` : 'NKA'}
          </span>
          {b.deceased ? <span className="badge danger">Deceased</span> : null}
          {frame.encounter ? (
            <span className="muted">
              Encounter {frame.encounter.start?.slice(0, 10) ?? ''} · {frame.encounter.description}
            </span>
          ) : null}
        </section>
      ) : null}
      <div className="ehr-body">
        <aside className="ehr-nav" aria-label="EHR navigation">
          <p>Chart</p>
          <p>Results</p>
          <p>Medications</p>
          <p className="active">{frame.clientName}</p>
          {frame.options.simulatedError ? <p className="error">Simulated: {describeSimulatedError(frame.options.simulatedError)}</p> : null}
          {frame.stale ? <p className="muted">This launch was already used. Launch again from the launcher to get a new one.</p> : null}
        </aside>
        <iframe
          className="ehr-app"
          title={frame.clientName}
          src={frame.appUrl}
          sandbox="allow-forms allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads"
          allow="clipboard-write"
          referrerPolicy="no-referrer"
        />
      </div>
    </div>
  );
}
