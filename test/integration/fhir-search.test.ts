// US Core 6.1 search features over real HTTP, each checked against the generated data read with a
// system token: the expected set is computed from the resources themselves, and every entry of
// the answer must be in it (and every member of it in the answer).
import { describe, it, expect, inject, beforeAll } from 'vitest';
import type * as oauth from 'oauth4webapi';
import { discover, fhirGet, systemToken } from './support/smart-client';
import type { FhirJson } from './support/smart-client';

const base = inject('baseUrl');

let as: oauth.AuthorizationServer;
let system = '';

/** Every resource of a search, following next links. */
async function searchAll(path: string, token: string): Promise<FhirJson[]> {
  const out: FhirJson[] = [];
  let url: string | null = `${base}/fhir/${path}`;
  for (let page = 0; url && page < 100; page++) {
    const res: Response = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json' } });
    expect(res.status, `${url}`).toBe(200);
    const bundle = (await res.json()) as FhirJson;
    for (const e of bundle.entry ?? []) if (e.resource && e.search?.mode !== 'outcome') out.push(e.resource);
    url = bundle.link?.find((l) => l.relation === 'next')?.url ?? null;
  }
  return out;
}

function idsOf(resources: FhirJson[]): string[] {
  return resources.map((r) => `${r.resourceType}/${r.id}`).sort();
}

beforeAll(async () => {
  as = await discover(base);
  system = await systemToken(base, as, 'system/*.rs');
}, 120_000);

describe('boolean and choice-type parameters match what the resource says when the element is absent', () => {
  it('Patient?deceased=false finds every patient with no death recorded, deceased=true every other one', async () => {
    const patients = await searchAll('Patient?_count=500', system);
    expect(patients.length).toBeGreaterThan(5);
    const isDeceased = (p: FhirJson) => p.deceasedDateTime !== undefined || p.deceasedBoolean === true;
    const alive = patients.filter((p) => !isDeceased(p));
    const dead = patients.filter(isDeceased);
    // The dataset has both kinds, and most living patients carry no deceased[x] at all.
    expect(alive.filter((p) => p.deceasedBoolean === undefined).length).toBeGreaterThan(0);
    expect(dead.length).toBeGreaterThan(0);
    expect(idsOf(await searchAll('Patient?deceased=false&_count=500', system))).toEqual(idsOf(alive));
    expect(idsOf(await searchAll('Patient?deceased=true&_count=500', system))).toEqual(idsOf(dead));
    const count = await fhirGet(base, 'Patient?deceased=false&_summary=count', system);
    expect(count.body.total).toBe(alive.length);
  });
});
