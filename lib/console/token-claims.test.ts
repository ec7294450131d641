import { describe, it, expect } from 'vitest';
import { decodeJwt } from 'jose';
import { getDb } from '../db';
import { ORIGIN, testTokens } from '../fhir/test-support';
import { accessTokenClaimsOf } from './tokens';

describe('console token claims', () => {
  it('rebuilds exactly the claims the issuer signed', async () => {
    const jwt = await testTokens().issue('launch/patient patient/*.rs', { patientId: 'pat-claims', userId: 'Patient/pat-claims' });
    const signed = decodeJwt(jwt);
    const row = await getDb().token.findUniqueOrThrow({ where: { id: String(signed.jti) } });
    expect(accessTokenClaimsOf(row, ORIGIN, null)).toEqual(signed);
  });
});
