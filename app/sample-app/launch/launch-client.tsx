'use client';

import { useEffect, useState } from 'react';
import { DEFAULT_EHR_SCOPE, DEFAULT_STANDALONE_SCOPE, loadFhirClient, SAMPLE_CLIENT_ID } from '../fhirclient';

/** Starts the SMART authorization exactly as a third-party app would: FHIR.oauth2.authorize(). */
export function LaunchClient() {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const params = new URLSearchParams(window.location.search);
    const launch = params.get('launch');
    const scope = params.get('scope') || (launch ? DEFAULT_EHR_SCOPE : DEFAULT_STANDALONE_SCOPE);
    const iss = params.get('iss') || `${window.location.origin}/fhir`;
    loadFhirClient()
      .then((FHIR) =>
        FHIR.oauth2.authorize({
          clientId: SAMPLE_CLIENT_ID,
          scope,
          redirectUri: `${window.location.origin}/sample-app`,
          iss,
          ...(launch ? { launch } : {}),
          pkceMode: 'required',
        }),
      )
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  }, []);
  return error ? (
    <p className="error" role="alert">
      Could not start the authorization: {error}
    </p>
  ) : (
    <p className="muted">Redirecting to the authorization server…</p>
  );
}
