import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { getDb } from '../db';
import { exchange, getCode, newClient, ORIGIN } from '../oauth/test-support';
import { auditNdjsonStream, decodeAuditPosition, encodeAuditPosition, parseAuditFilters, queryAudit } from './audit';
import { summarizeAlerts } from './alerts';
import { getFlow, listFlows } from './flows';
import { pkceAuditNote } from '../oauth/pkce';
import { getTokenDetail, listTokens, revokeTokenFromConsole } from './tokens';

const T0 = new Date(Date.now() - 60_000);
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const VERIFIER = 'v'.repeat(20) + 'erifier-0123456789-abcdefghijklmnop';
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');
const SCOPE = 'launch openid fhirUser patient/Patient.rs patient/Observation.rs?category=vital-signs';

let n = 0;
function audit(over: Record<string, unknown>) {
  n++;
  return {
    id: `a${String(n).padStart(3, '0')}`,
    sandboxId: 'default',
    at: at(n),
    kind: 'fhir',
    method: 'GET',
    endpoint: '/fhir/Patient/p1',
    status: 200,
    latencyMs: 3,
    clientId: 'app1',
    ...over,
  };
}

beforeAll(async () => {
  const db = getDb();
  await db.client.create({
    data: {
      sandboxId: 'default',
      clientId: 'app1',
      name: 'Demo app',
      clientType: 'public',
      tokenEndpointAuthMethod: 'none',
      redirectUris: '["http://localhost:9000/cb"]',
      scope: SCOPE,
      grantTypes: '["authorization_code","refresh_token"]',
    },
  });
  await db.launch.create({
    data: { id: 'L1', sandboxId: 'default', clientId: 'app1', patientId: 'p1', userId: 'Practitioner/d1', createdAt: at(0), expiresAt: at(300) },
  });
  await db.grant.create({
    data: {
      id: 'G1',
      sandboxId: 'default',
      clientId: 'app1',
      userId: 'Practitioner/d1',
      scope: SCOPE,
      context: JSON.stringify({ patient: 'p1', encounter: null, fhirUser: 'Practitioner/d1', launchKind: 'ehr' }),
      launchId: 'L1',
      createdAt: at(2),
    },
  });
  await db.authCode.create({
    data: {
      codeHash: 'h'.repeat(64),
      grantId: 'G1',
      clientId: 'app1',
      redirectUri: 'http://localhost:9000/cb',
      codeChallenge: CHALLENGE,
      codeChallengeMethod: 'S256',
      used: true,
      createdAt: at(2),
      expiresAt: at(62),
    },
  });
  await db.token.createMany({
    data: [
      {
        id: 'AT1',
        sandboxId: 'default',
        kind: 'access',
        grantId: 'G1',
        clientId: 'app1',
        userId: 'Practitioner/d1',
        patientId: 'p1',
        scope: SCOPE,
        issuedAt: at(5),
        expiresAt: at(3605),
      },
      {
        id: 'RT1',
        sandboxId: 'default',
        kind: 'refresh',
        grantId: 'G1',
        clientId: 'app1',
        userId: 'Practitioner/d1',
        patientId: 'p1',
        scope: SCOPE,
        tokenHash: 'x'.repeat(64),
        issuedAt: at(5),
        expiresAt: at(99999),
      },
      { id: 'AT0', sandboxId: 'default', kind: 'access', clientId: 'backend', scope: 'system/*.rs', issuedAt: at(-3600), expiresAt: at(-1) },
    ],
  });
  await db.auditRecord.createMany({
    data: [
      audit({ kind: 'oauth', endpoint: '/oauth/authorize', status: 303, detail: 'interaction IX1', launchId: 'L1', scopes: SCOPE }),
      audit({
        kind: 'oauth',
        method: 'POST',
        endpoint: '/interaction/IX1',
        status: 303,
        detail: 'user approved',
        launchId: 'L1',
        userId: 'Practitioner/d1',
        patientId: 'p1',
      }),
      audit({
        kind: 'oauth',
        method: 'POST',
        endpoint: '/oauth/token',
        status: 200,
        detail: `issued access token AT1… + refresh token; ${pkceAuditNote(VERIFIER)}`,
        launchId: 'L1',
        userId: 'Practitioner/d1',
        patientId: 'p1',
      }),
      audit({
        endpoint: '/fhir/Patient/p1',
        detail: 'read',
        launchId: 'L1',
        userId: 'Practitioner/d1',
        patientId: 'p1',
        resourceType: 'Patient',
        resourceId: 'p1',
        resultCount: 1,
      }),
      audit({
        endpoint: '/fhir/Condition?patient=p1',
        detail: 'search: no granted scope allows search on Condition',
        status: 403,
        errorCode: 'insufficient_scope',
        launchId: 'L1',
        patientId: 'p1',
        resourceType: 'Condition',
      }),
      audit({
        endpoint: '/fhir/Patient/p2',
        detail: "read: Patient/p2 exists but is outside the token's access",
        status: 404,
        launchId: 'L1',
        patientId: 'p1',
        resourceType: 'Patient',
        resourceId: 'p2',
        flags: 'suspected-bola',
      }),
      audit({
        kind: 'oauth',
        method: 'POST',
        endpoint: '/oauth/token',
        status: 400,
        errorCode: 'invalid_grant',
        detail: 'authorization_code; the authorization code was already used',
        clientId: 'app2',
        flags: 'code-replay',
      }),
      ...Array.from({ length: 5 }, () =>
        audit({ endpoint: '/fhir/Patient', status: 401, clientId: null, flags: 'invalid-token', ip: '10.0.0.9', userAgent: 'scanner' }),
      ),
      // A simulated error the developer armed: listed apart, not an attack.
      ...Array.from({ length: 6 }, () =>
        audit({
          endpoint: '/fhir/Patient',
          status: 401,
          clientId: 'app2',
          flags: 'invalid-token simulated',
          detail: 'simulated error: the access token has expired',
          ip: '10.0.0.7',
          userAgent: 'app',
        }),
      ),
      audit({
        endpoint: '/fhir/Observation',
        status: 429,
        clientId: 'app2',
        flags: 'rate-limited simulated',
        detail: 'simulated error: 429',
        ip: '10.0.0.7',
        userAgent: 'app',
      }),
    ],
  });
});

describe('tokens', () => {
  it('lists tokens with status filters', async () => {
    expect((await listTokens({ status: 'active' })).map((t) => t.id).sort()).toEqual(['AT1', 'RT1']);
    expect((await listTokens({ status: 'expired' })).map((t) => t.id)).toEqual(['AT0']);
    expect((await listTokens({ clientId: 'app1', kind: 'refresh' })).map((t) => t.id)).toEqual(['RT1']);
  });

  it('rebuilds the claims of an access token and explains its scopes', async () => {
    const d = await getTokenDetail('AT1', { origin: 'http://localhost:3000' });
    expect(d?.claims).toMatchObject({
      iss: 'http://localhost:3000',
      aud: 'http://localhost:3000/fhir',
      jti: 'AT1',
      patient: 'p1',
      fhirUser: 'Practitioner/d1',
      launch_id: 'L1',
      client_id: 'app1',
    });
    expect(d?.scopes.find((s) => s.scope.startsWith('patient/Observation'))?.explanation).toBe("Read and search this patient's vital-sign Observations.");
    expect(d?.chain.map((t) => t.id).sort()).toEqual(['AT1', 'RT1']);
  });

  it('revokes a token and writes a console audit record', async () => {
    const result = await revokeTokenFromConsole('AT1', 'teacher');
    expect(result).toEqual({ revoked: 1, scope: 'token' });
    expect((await getDb().token.findUnique({ where: { id: 'AT1' } }))?.revoked).toBe(true);
    const [rec] = await queryAudit({ kind: 'console' });
    expect(rec?.detail).toMatch(/access token AT1… revoked from the console by teacher/);
    expect((await listTokens({ status: 'revoked' })).map((t) => t.id)).toEqual(['AT1']);
  });

  it('revokes this token only, or the whole grant with its refresh token, and says which', async () => {
    const db = getDb();
    await db.grant.create({
      data: {
        id: 'G9',
        sandboxId: 'default',
        clientId: 'app9',
        userId: 'Patient/p9',
        scope: SCOPE,
        context: JSON.stringify({ patient: 'p9' }),
        createdAt: at(2),
      },
    });
    await db.token.createMany({
      data: [
        {
          id: 'AT9',
          sandboxId: 'default',
          kind: 'access',
          grantId: 'G9',
          clientId: 'app9',
          userId: 'Patient/p9',
          patientId: 'p9',
          scope: SCOPE,
          issuedAt: at(5),
          expiresAt: at(3605),
        },
        {
          id: 'AT9b',
          sandboxId: 'default',
          kind: 'access',
          grantId: 'G9',
          clientId: 'app9',
          userId: 'Patient/p9',
          patientId: 'p9',
          scope: SCOPE,
          issuedAt: at(6),
          expiresAt: at(3606),
        },
        {
          id: 'RT9',
          sandboxId: 'default',
          kind: 'refresh',
          grantId: 'G9',
          clientId: 'app9',
          userId: 'Patient/p9',
          patientId: 'p9',
          scope: SCOPE,
          tokenHash: 'y'.repeat(64),
          issuedAt: at(5),
          expiresAt: at(99999),
        },
      ],
    });
    try {
      expect(await revokeTokenFromConsole('AT9', 'teacher', { scope: 'token' })).toEqual({ revoked: 1, scope: 'token' });
      expect((await db.token.findUnique({ where: { id: 'RT9' } }))?.revoked).toBe(false);
      expect((await db.grant.findUnique({ where: { id: 'G9' } }))?.revoked).toBe(false);

      expect(await revokeTokenFromConsole('AT9b', 'teacher', { scope: 'grant' })).toEqual({ revoked: 2, scope: 'grant' });
      expect((await db.token.findMany({ where: { grantId: 'G9' }, select: { revoked: true } })).every((t) => t.revoked)).toBe(true);
      expect((await db.grant.findUnique({ where: { id: 'G9' } }))?.revoked).toBe(true);
      const [rec] = await queryAudit({ kind: 'console', clientId: 'app9' });
      expect(rec?.detail).toMatch(/grant G9… revoked from the console by teacher with every token issued under it/);
    } finally {
      await db.token.deleteMany({ where: { grantId: 'G9' } });
      await db.grant.deleteMany({ where: { id: 'G9' } });
    }
  });
});

describe('audit', () => {
  it('filters by flag, outcome and endpoint', async () => {
    expect((await queryAudit(parseAuditFilters(new URLSearchParams('flag=suspected-bola')))).map((r) => r.id)).toEqual(['a006']);
    expect((await queryAudit(parseAuditFilters(new URLSearchParams('outcome=denied&endpoint=Condition')))).map((r) => r.id)).toEqual(['a005']);
    expect((await queryAudit(parseAuditFilters(new URLSearchParams('flag=any')))).length).toBe(14);
    expect((await queryAudit(parseAuditFilters(new URLSearchParams('flag=simulated')))).length).toBe(7);
  });

  it('pages through the whole trail by keyset: every record once, in order, however the times tie', async () => {
    const db = getDb();
    const same = at(500);
    const rows = Array.from({ length: 7 }, (_, i) => ({
      id: `page-${i}`,
      sandboxId: 'default',
      at: i < 4 ? same : at(500 + i),
      kind: 'fhir',
      method: 'GET',
      endpoint: '/fhir/Paged',
      status: 200,
      latencyMs: 1,
      clientId: 'pager',
    }));
    await db.auditRecord.createMany({ data: rows });
    try {
      const seen: string[] = [];
      let before = null as ReturnType<typeof decodeAuditPosition>;
      for (let page = 0; page < 10; page++) {
        const records = await queryAudit({ clientId: 'pager' }, { limit: 3, before });
        seen.push(...records.map((r) => r.id));
        if (records.length < 3) break;
        before = decodeAuditPosition(encodeAuditPosition(records[records.length - 1]!));
      }
      expect(seen).toEqual(['page-6', 'page-5', 'page-4', 'page-3', 'page-2', 'page-1', 'page-0']);
      expect(decodeAuditPosition('not a cursor!')).toBeNull();
      expect(decodeAuditPosition(Buffer.from('yesterday|x').toString('base64url'))).toBeNull();
    } finally {
      await db.auditRecord.deleteMany({ where: { clientId: 'pager' } });
    }
  });

  it('exports NDJSON, raw or as AuditEvents', async () => {
    const text = await new Response(auditNdjsonStream({ launchId: 'L1' })).text();
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string });
    expect(lines.map((l) => l.id)).toEqual(['a001', 'a002', 'a003', 'a004', 'a005', 'a006']);
    const fhir = await new Response(auditNdjsonStream({ flag: 'code-replay' }, { format: 'fhir' })).text();
    expect(JSON.parse(fhir.trim())).toMatchObject({ resourceType: 'AuditEvent', outcome: '4' });
  });
});

describe('alerts', () => {
  it('counts flagged records by flag and client, and repeated invalid tokens by caller', async () => {
    const s = await summarizeAlerts();
    expect(s.byFlag.find((f) => f.flag === 'suspected-bola')).toMatchObject({ count: 1, href: '/console/audit?flag=suspected-bola' });
    expect(s.byClient.find((c) => c.clientId === 'app2')).toMatchObject({ count: 1, flags: { 'code-replay': 1 } });
    expect(s.repeatedInvalidTokens).toEqual([expect.objectContaining({ ip: '10.0.0.9', count: 5 })]);
  });

  it('lists records caused by an armed simulated error apart, never as attacks', async () => {
    const s = await summarizeAlerts();
    expect(s.total).toBe(7);
    expect(s.byFlag.find((f) => f.flag === 'invalid-token')?.count).toBe(5);
    expect(s.byFlag.find((f) => f.flag === 'rate-limited')?.count ?? 0).toBe(0);
    expect(s.byFlag.some((f) => (f.flag as string) === 'simulated')).toBe(false);
    expect(s.byClient.find((c) => c.clientId === 'app2')).toMatchObject({ count: 1, flags: { 'code-replay': 1 } });
    expect(s.simulated).toMatchObject({ count: 7, href: '/console/audit?flag=simulated' });
    expect(s.simulated.byClient).toEqual([expect.objectContaining({ clientId: 'app2', count: 7, flags: { 'invalid-token': 6, 'rate-limited': 1 } })]);
  });
});

describe('flow view', () => {
  it('lists grants as flows', async () => {
    expect((await listFlows()).map((f) => f.grantId)).toEqual(['G1']);
  });

  it('rebuilds every step in order, with the PKCE check and the FHIR decisions', async () => {
    const flow = await getFlow('G1', { origin: 'http://localhost:3000' });
    expect(flow?.steps.map((s) => s.kind)).toEqual([
      'launch',
      'authorize',
      'sign-in',
      'patient',
      'consent',
      'code',
      'token-request',
      'token-response',
      'fhir',
      'fhir',
      'fhir',
      'revoke',
    ]);
    const token = flow?.steps.find((s) => s.kind === 'token-request');
    expect(token?.pkce).toMatchObject({ storedChallenge: CHALLENGE, verifierSha256: CHALLENGE, match: 'yes' });
    expect(token?.pkce?.verifier).not.toContain(VERIFIER);
    const fhir = flow?.steps.filter((s) => s.kind === 'fhir') ?? [];
    expect(fhir.map((s) => s.decision?.verdict)).toEqual(['allowed', 'denied', 'hidden']);
    expect(fhir[2]?.flags).toEqual(['suspected-bola']);
    expect(flow?.steps.find((s) => s.kind === 'patient')?.summary).toMatch(/from the EHR launch/);
  });
});

describe('flow view of a real code exchange', () => {
  it('shows the PKCE check recorded by the token endpoint: masked verifier, its SHA-256, the stored challenge, match', async () => {
    const { client } = await newClient('public');
    const { code, verifier } = await getCode(client);
    const exchanged = await exchange(code, verifier, { params: { client_id: client.clientId } });
    expect(exchanged.status).toBe(200);
    const accessToken = ((await exchanged.json()) as { access_token: string }).access_token;
    const grant = await getDb().grant.findFirstOrThrow({ where: { clientId: client.clientId } });
    const stored = await getDb().authCode.findFirstOrThrow({ where: { grantId: grant.id } });
    const record = await getDb().auditRecord.findFirstOrThrow({ where: { endpoint: '/oauth/token', clientId: client.clientId } });
    expect(record.detail).not.toContain(verifier);

    const flow = await getFlow(grant.id, { origin: ORIGIN });
    const token = flow?.steps.find((s) => s.kind === 'token-request');
    expect(token?.pkce).toMatchObject({ storedChallenge: stored.codeChallenge, verifierSha256: stored.codeChallenge, method: 'S256', match: 'yes' });
    expect(token?.pkce?.verifier).toBe(`${verifier.slice(0, 4)}…${verifier.slice(-4)} (${verifier.length} chars)`);
    // The token response step shows the token the app received, decoded (not a rebuild).
    const response = flow?.steps.find((s) => s.kind === 'token-response');
    const [header, payload] = accessToken
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>);
    expect(response?.tokenResponse?.header).toEqual(header);
    expect(response?.tokenResponse?.claims).toEqual(payload);
    expect(response?.summary).toMatch(/exactly as the app received it/);
  });
});
