// What the user can choose on the consent screen, over real HTTP with real authorization-code
// flows: decline offline_access (the token response then has no refresh token), and share only
// some US Core categories (docs/CONFORMANCE.md #100, #101), including US Core's own health-concern
// code system and observation-category procedure, echoed exactly in the granted scope.
import { describe, it, expect, inject, beforeAll } from 'vitest';
import type * as oauth from 'oauth4webapi';
import { discover, registerSymmetricClient, runCodeFlow } from './support/smart-client';
import type { RegisteredClient } from './support/smart-client';

const base = inject('baseUrl');
// Deterministic seed (SEED=42); a patient other suites do not use.
const PATIENT = 'pat-42-7';
const OBS = 'http://terminology.hl7.org/CodeSystem/observation-category';
const HEALTH_CONCERN = 'http://hl7.org/fhir/us/core/CodeSystem/condition-category|health-concern';

let as: oauth.AuthorizationServer;
let app: RegisteredClient;

beforeAll(async () => {
  as = await discover(base);
  app = await registerSymmetricClient(base);
});

describe('consent choices', () => {
  it('offline_access is declinable: unticked, the grant has no offline_access and the token response no refresh_token', async () => {
    const scope = 'openid fhirUser launch/patient offline_access patient/Patient.rs';
    const declined = await runCodeFlow(base, as, app, { scope, interaction: { persona: `Patient/${PATIENT}`, consent: { untick: ['offline_access'] } } });
    expect(declined.offered).toContain('offline_access');
    expect(declined.tokens.scope?.split(' ')).not.toContain('offline_access');
    expect(declined.tokens.scope?.split(' ')).toContain('patient/Patient.rs');
    expect(declined.tokens.refresh_token).toBeUndefined();
    // Control: left ticked, the same request gets a refresh token.
    const kept = await runCodeFlow(base, as, app, { scope, interaction: { persona: `Patient/${PATIENT}` } });
    expect(kept.tokens.scope?.split(' ')).toContain('offline_access');
    expect(kept.tokens.refresh_token).toBeTruthy();
  });

  it('US Core categories chosen at consent are granted exactly: health-concern in US Core condition-category, observation procedure', async () => {
    const scope = 'launch/patient patient/Condition.rs patient/Observation.rs';
    const flow = await runCodeFlow(base, as, app, {
      scope,
      interaction: {
        persona: `Patient/${PATIENT}`,
        consent: { categories: { 'patient/Condition.rs': [HEALTH_CONCERN], 'patient/Observation.rs': [`${OBS}|procedure`, `${OBS}|vital-signs`] } },
      },
    });
    expect(flow.tokens.scope?.split(' ').sort()).toEqual(
      [
        'launch/patient',
        `patient/Condition.rs?category=${HEALTH_CONCERN}`,
        `patient/Observation.rs?category=${OBS}|procedure`,
        `patient/Observation.rs?category=${OBS}|vital-signs`,
      ].sort(),
    );
    // A category the screen does not offer (the old, wrong system for health-concern) is not granted.
    const wrong = await runCodeFlow(base, as, app, {
      scope,
      interaction: {
        persona: `Patient/${PATIENT}`,
        consent: { categories: { 'patient/Condition.rs': ['http://hl7.org/fhir/us/core/CodeSystem/us-core-category|health-concern'] } },
      },
    });
    expect(wrong.tokens.scope?.split(' ').filter((s) => s.startsWith('patient/Condition'))).toEqual([]);
  });
});
