import type Client from 'fhirclient/lib/Client';

/** The parts of fhirclient's browser API the sample app uses (its published typings describe the Node entry). */
export interface FhirBrowser {
  oauth2: {
    authorize(options: {
      clientId: string;
      scope: string;
      redirectUri: string;
      iss?: string;
      launch?: string;
      pkceMode?: 'ifSupported' | 'required' | 'disabled' | 'unsafeV1';
    }): Promise<string | void>;
    ready(): Promise<Client>;
    settings: { refreshTokenWithClientId?: boolean };
  };
}

export type { Client };

/** Loads fhirclient's browser build (only ever in the browser: its "browser" entry). */
export async function loadFhirClient(): Promise<FhirBrowser> {
  const mod = (await import('fhirclient')) as unknown as { default?: FhirBrowser } & FhirBrowser;
  return mod.default ?? mod;
}

export const DEFAULT_EHR_SCOPE = 'launch openid fhirUser patient/*.rs offline_access';
export const DEFAULT_STANDALONE_SCOPE =
  'launch/patient openid fhirUser offline_access patient/Patient.rs patient/Observation.rs patient/Condition.rs patient/MedicationRequest.rs patient/AllergyIntolerance.rs patient/Immunization.rs';
