'use client';

import { useEffect, useState } from 'react';
import { DEFAULT_EHR_SCOPE, DEFAULT_STANDALONE_SCOPE, loadFhirClient } from '../fhirclient';

/**
 * Starts the SMART authorization exactly as a third-party app would: FHIR.oauth2.authorize(). In a
 * sandbox under `/s/{id}` the app lives under that prefix too, with that sandbox's client id.
 */
export function LaunchClient({ clientId, basePath }: { clientId: string; basePath: string }) {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const params = new URLSearchParams(window.location.search);
    const launch = params.get('launch');
    const scope = params.get('scope') || (launch ? DEFAULT_EHR_SCOPE : DEFAULT_STANDALONE_SCOPE);
    const iss = params.get('iss') || `${window.location.origin}${basePath}/fhir`;
    loadFhirClient()
      .then((FHIR) =>
        FHIR.oauth2.authorize({
          clientId,
          scope,
          redirectUri: `${window.location.origin}${basePath}/sample-app`,
          iss,
          ...(launch ? { launch } : {}),
          pkceMode: 'required',
        }),
      )
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  }, [clientId, basePath]);
  return error ? (
    <p className="error" role="alert">
      Could not start the authorization: {error}
    </p>
  ) : (
    <p className="muted">Redirecting to the authorization server…</p>
  );
}
