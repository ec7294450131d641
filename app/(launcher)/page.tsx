import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { loadOrLeave } from '#lib/http/unavailable';
import { findPatients, listLauncherClients, listLauncherUsers } from '#lib/launcher/directory';
import { publicOrigin } from '#lib/http/origin';
import { ensureSampleAppClient } from '#lib/launcher/sample-app';
import { ensureBackendDemoClient } from '#lib/launcher/backend-demo';
import { findShareLink } from '#lib/launcher/share-links';
import { findScenario, listScenarios } from '#lib/launcher/scenarios';
import { oauthUrls } from '#lib/oauth/config';
import { inRequestSandbox } from '../request-sandbox';
import { LauncherClient } from './launcher-client';

export const dynamic = 'force-dynamic';

export default async function LauncherPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const origin = publicOrigin(await headers());
  const query = await searchParams;
  const shareCode = typeof query.share === 'string' ? query.share : null;
  const scenarioId = typeof query.scenario === 'string' ? query.scenario : null;
  const [{ basePath }, [clients, users, patients, shared, scenarios, scenario, backendDemoClientId]] = await inRequestSandbox(
    async (sandbox) =>
      [
        sandbox,
        await loadOrLeave('launcher', `${sandbox.basePath}/`, redirect, async () => {
          await ensureSampleAppClient(origin);
          const demo = await ensureBackendDemoClient();
          return Promise.all([
            listLauncherClients(),
            listLauncherUsers(),
            findPatients({ limit: 30 }),
            shareCode ? findShareLink(shareCode) : Promise.resolve(null),
            listScenarios(),
            scenarioId ? findScenario(scenarioId) : Promise.resolve(null),
            demo.client.clientId,
          ]);
        }),
      ] as const,
  );
  const sandboxUrl = `${origin}${basePath}`;
  return (
    <>
      <nav className="top">
        <strong>SMART Sandbox</strong>
        <a href={`${basePath}/`}>Launcher</a>
        <a href={`${basePath}/console`}>Console</a>
        <a href={`${basePath}/fhir/.well-known/smart-configuration`}>SMART configuration</a>
        <a href={oauthUrls(sandboxUrl).manage}>App access</a>
        <span className="muted-on-dark">FHIR base: {sandboxUrl}/fhir</span>
      </nav>
      <main>
        <h1>Launch a SMART app</h1>
        <p className="muted">Pick an app, a launch type and a patient, then launch. Everything here is synthetic: no real PHI.</p>
        {shareCode && !shared ? (
          <p className="error" role="alert">
            This shared launch link is unknown or no longer valid.
          </p>
        ) : null}
        {scenarioId && !scenario ? (
          <p className="error" role="alert">
            There is no scenario “{scenarioId}”: choose one of the scenarios below.
          </p>
        ) : null}
        <LauncherClient
          origin={origin}
          clients={clients}
          practitioners={users.practitioners}
          patientPersonas={users.patients}
          initialPatients={patients}
          shared={scenario?.config ?? shared}
          scenarios={scenarios}
          backendDemoClientId={backendDemoClientId}
          scenario={scenario}
          fromShare={shared ? shareCode : null}
        />
      </main>
    </>
  );
}
