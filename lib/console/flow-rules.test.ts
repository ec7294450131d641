import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allFlowRules, flowRule, refusalRuleOf } from './flow-rules';

const CHECKS_DIR = fileURLToPath(new URL('../oauth/checks/', import.meta.url));

const record = (r: Partial<Parameters<typeof refusalRuleOf>[0]>) =>
  refusalRuleOf({ kind: 'oauth', endpoint: '/oauth/token', status: 400, errorCode: null, detail: null, flags: null, facts: null, ...r });

describe('flow rules', () => {
  it('explain every rule of the authorization endpoint, each with a spec and advice', () => {
    const checks = readdirSync(CHECKS_DIR)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'context.ts' && f !== 'read-params.ts')
      .map((f) => f.replace(/\.ts$/, ''));
    expect(checks.length).toBeGreaterThan(10);
    for (const id of checks) expect(flowRule(id), id).not.toBeNull();
    for (const r of allFlowRules()) {
      expect(r.spec, r.id).toMatch(/SMART App Launch 2\.2 §|RFC \d+|docs\/CONFORMANCE\.md|OpenID Connect Core/);
      expect(r.advice.length, r.id).toBeGreaterThan(20);
    }
  });

  it('name the rule of a refused request from what the audit trail recorded', () => {
    expect(record({ endpoint: '/oauth/authorize', errorCode: 'invalid_request', facts: JSON.stringify({ rule: 'pkce-s256' }) })?.id).toBe('pkce-s256');
    expect(record({ errorCode: 'invalid_grant', detail: 'authorization_code; code_verifier does not match the code_challenge' })?.id).toBe('pkce-verifier');
    expect(record({ errorCode: 'invalid_grant', detail: 'refresh_token; the refresh token has expired' })?.id).toBe('refresh-invalid');
    expect(record({ errorCode: 'invalid_grant', flags: 'refresh-replay' })?.id).toBe('refresh-replay');
    expect(record({ errorCode: 'invalid_client', flags: 'assertion-replay', status: 401 })?.id).toBe('assertion-replay');
    expect(record({ endpoint: '/interaction/x', errorCode: 'access_denied', status: 303 })?.id).toBe('consent-denied');
    expect(
      record({ kind: 'fhir', endpoint: '/fhir/Patient/1', status: 401, errorCode: 'invalid_token', detail: 'read: the access token has expired' })?.id,
    ).toBe('token-expired');
    expect(record({ kind: 'fhir', endpoint: '/fhir/Patient', status: 403, errorCode: 'insufficient_scope' })?.id).toBe('insufficient-scope');
    expect(record({ errorCode: 'invalid_grant', flags: 'simulated' })?.id).toBe('simulated');
    // Not refused: no rule.
    expect(record({ status: 200 })).toBeNull();
  });
});
