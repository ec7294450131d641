/**
 * Test support for the FHIR API tests: a handler on the test database, tokens, and requests.
 * Not imported by the application.
 */
import type { AuditEntry } from '../audit/record';
import { getDb } from '../db';
import type { OAuthClient } from '../oauth/clients';
import { issueTokens } from '../oauth/tokens';
import { DEFAULT_SANDBOX_ID } from '../sandbox';
import { createFhirHandler } from './router';
import type { FhirHandlerOptions } from './router';

export const ORIGIN = 'http://localhost:3000';
export const BASE = `${ORIGIN}/fhir`;

/**
 * Real access tokens from lib/oauth (signed JWT + token row), so the tests go through the same
 * verification path as production: signature, audience = the FHIR base, expiry, revocation.
 */
export function testTokens(): {
  issue(scope: string, ctx?: { patientId?: string; fhirUser?: string; userId?: string; expired?: boolean }): Promise<string>;
  revoke(token: string): Promise<void>;
} {
  const jtis = new Map<string, string>();
  const client = { sandboxId: DEFAULT_SANDBOX_ID, clientId: 'test-client' } as OAuthClient;
  return {
    async issue(scope, ctx = {}) {
      const { body, accessJti } = await issueTokens({
        sandboxId: DEFAULT_SANDBOX_ID,
        client,
        grantId: null,
        userId: ctx.userId ?? null,
        context: { patient: ctx.patientId ?? null, encounter: null, fhirUser: ctx.fhirUser ?? null, launchKind: 'standalone' },
        launchId: null,
        scope,
        accessTtlSeconds: 3600,
        issuer: ORIGIN,
        fhirBase: BASE,
        refresh: null,
        idToken: null,
      });
      if (ctx.expired) await getDb().token.update({ where: { id: accessJti }, data: { expiresAt: new Date(Date.now() - 1000) } });
      jtis.set(body.access_token, accessJti);
      return body.access_token;
    },
    async revoke(token) {
      const id = jtis.get(token);
      if (id) await getDb().token.update({ where: { id }, data: { revoked: true } });
    },
  };
}

/** A handler whose audit records are kept in memory for assertions. */
export function testHandler(opts: FhirHandlerOptions = {}): { handle: (req: Request) => Promise<Response>; audits: AuditEntry[] } {
  const audits: AuditEntry[] = [];
  const handle = createFhirHandler({ audit: async (e) => void audits.push(e), ...opts });
  return { handle, audits };
}

/** A FHIR request against the test base. */
export function fhirRequest(path: string, token: string | null, init: RequestInit & { json?: unknown } = {}): Request {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    if (!headers.has('content-type')) headers.set('content-type', 'application/fhir+json');
  }
  return new Request(`${BASE}/${path.replace(/^\//, '')}`, { ...init, headers, body });
}
