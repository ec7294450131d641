import { describe, expect, it } from 'vitest';
import { deriveMilestones } from './milestones';
import type { MilestoneAuditRow } from './milestones';
import { exerciseProgress, parseExercises, toExercise } from './exercises';

let t = Date.UTC(2026, 0, 1, 9, 0, 0);
function row(partial: Partial<MilestoneAuditRow>): MilestoneAuditRow {
  t += 1000;
  return {
    at: new Date(t),
    kind: 'fhir',
    endpoint: '/fhir/Patient',
    status: 200,
    clientId: 'app',
    scopes: null,
    detail: null,
    flags: null,
    facts: null,
    ...partial,
  };
}
const token = (grantType: string, extra: Partial<MilestoneAuditRow> = {}, authMethod = 'none') =>
  row({ kind: 'oauth', endpoint: '/oauth/token', status: 200, facts: JSON.stringify({ grantType, authMethod }), ...extra });

describe('milestones come from the audit trail', () => {
  it('tells an EHR launch from a standalone launch by the launch scope, and PKCE by the verifier note', () => {
    const rows = [
      token('authorization_code', { scopes: 'launch openid fhirUser patient/*.rs', detail: 'issued access token abc…; pkce verifier=abcd…wxyz(43) sha256=x' }),
      token('authorization_code', { scopes: 'launch/patient patient/*.rs' }),
    ];
    const m = deriveMilestones(rows);
    expect(m['ehr-launch']).toEqual(rows[0]?.at);
    expect(m['pkce-exchange']).toEqual(rows[0]?.at);
    expect(m['standalone-launch']).toEqual(rows[1]?.at);
    expect(m.refresh).toBeUndefined();
  });

  it('refused token requests and other endpoints prove nothing', () => {
    const m = deriveMilestones([
      row({ kind: 'oauth', endpoint: '/oauth/token', status: 400, facts: JSON.stringify({ grantType: 'refresh_token' }) }),
      row({ kind: 'oauth', endpoint: '/oauth/register', status: 400 }),
      row({
        kind: 'oauth',
        endpoint: '/oauth/introspect',
        status: 200,
        facts: JSON.stringify({ grantType: 'client_credentials', authMethod: 'private_key_jwt' }),
      }),
    ]);
    expect(m).toEqual({});
  });

  it('backend tokens need private_key_jwt; secrets count as a confidential client; granular scopes are seen in the grant', () => {
    const m = deriveMilestones([
      token('client_credentials', {}, 'client_secret_basic'),
      token('client_credentials', { scopes: 'system/Observation.rs?category=laboratory' }, 'private_key_jwt'),
      token('refresh_token'),
      row({ kind: 'oauth', endpoint: '/oauth/register', status: 201 }),
    ]);
    expect(Object.keys(m).sort()).toEqual(['backend-token', 'client-registered', 'confidential-client', 'granular-scopes', 'refresh']);
  });

  it('a flagged compartment read is fixed only by a later successful FHIR call of the same client', () => {
    const flagged = row({ status: 404, flags: 'suspected-bola', clientId: 'a' });
    const other = row({ status: 200, clientId: 'b' });
    expect(deriveMilestones([flagged, other])['bola-fixed']).toBeUndefined();
    const fixed = row({ status: 200, clientId: 'a' });
    // Out of order on purpose: records are put in time order first.
    const m = deriveMilestones([fixed, flagged, other]);
    expect(m['bola-flagged']).toEqual(flagged.at);
    expect(m['bola-fixed']).toEqual(fixed.at);
  });

  it('an expired token then a successful call is a recovery; scope refusals and simulated errors are seen', () => {
    const expired = row({ status: 401, facts: JSON.stringify({ tokenExpired: true }) });
    const refused = row({ status: 403 });
    const simulated = row({ status: 429, flags: 'simulated' });
    const ok = row({ status: 200 });
    const m = deriveMilestones([expired, refused, simulated, ok]);
    expect(m['expired-token']).toEqual(expired.at);
    expect(m['scope-refused']).toEqual(refused.at);
    expect(m['simulated-error']).toEqual(simulated.at);
    expect(m['expired-recovered']).toEqual(ok.at);
  });

  it('a client created in the console counts as registered', () => {
    const at = new Date(Date.UTC(2026, 0, 1));
    expect(deriveMilestones([], [at])['client-registered']).toEqual(at);
  });
});

describe('exercises', () => {
  it('an exercise is done when all of its milestones are reached, at the last one', () => {
    const specs = parseExercises(
      JSON.stringify([
        { builtIn: 'expired-token' },
        { title: 'Mine', instructions: '**go**', milestones: ['refresh', 'refresh'] },
        { builtIn: 'simulated-error', simulatedError: 'invalid_scope' },
      ]),
    );
    const exercises = specs.map(toExercise);
    expect(exercises.map((e) => e.title)).toEqual(['Handle an expired token', 'Mine', 'Debug a simulated error']);
    expect(exercises[1]?.milestones).toEqual(['refresh']);
    expect(exercises[2]?.instructions).toContain('Invalid scope');
    const a = new Date(1000);
    const b = new Date(2000);
    const progress = exerciseProgress(exercises, { 'expired-token': b, 'expired-recovered': a });
    expect(progress[0]?.doneAt).toEqual(b);
    expect(progress[1]?.doneAt).toBeNull();
  });

  it('stored exercises that no longer parse show as none rather than failing', () => {
    expect(parseExercises('not json')).toEqual([]);
    expect(parseExercises(JSON.stringify([{ builtIn: 'nope' }]))).toEqual([]);
  });
});
