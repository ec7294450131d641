import { describe, it, expect, inject } from 'vitest';

const base = inject('baseUrl');

describe('over HTTP', () => {
  it('GET /api/health reports the database kind and that it answers', async () => {
    const res = await fetch(`${base}/api/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', database: { kind: inject('databaseKind'), ok: true } });
  });

  it('GET /fhir/metadata answers a CapabilityStatement for FHIR 4.0.1', async () => {
    const res = await fetch(`${base}/fhir/metadata`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const body = await res.json();
    expect(body).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' });
  });
});
