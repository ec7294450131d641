import { describe, it, expect } from 'vitest';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { bundle, searchEntry, storedEntry } from './bundle';
import { fhirResponse, StoredJson } from './http';

const compact = { contentType: 'application/fhir+json', pretty: false } as const;
const pretty = { contentType: 'application/fhir+json', pretty: true } as const;

const stored = [
  {
    type: 'Observation',
    id: 'o1',
    content: JSON.stringify({ resourceType: 'Observation', id: 'o1', status: 'final', note: [{ text: 'a "quoted" \\ note\nwith ünïcode' }] }),
  },
  { type: 'Patient', id: 'p1', content: JSON.stringify({ resourceType: 'Patient', id: 'p1', name: [{ family: 'Zoë' }] }) },
];

describe('stored resources in responses', () => {
  it('a compact Bundle carries each stored text as is and parses to the same document as the parsed resources', async () => {
    const entries = [storedEntry('http://x/fhir', stored[0]!, 'match'), storedEntry('http://x/fhir', stored[1]!, 'include')];
    const body = await fhirResponse(
      bundle('searchset', entries, { total: 1, links: [{ relation: 'self', url: 'http://x/fhir/Observation' }] }),
      200,
      compact,
    ).text();
    for (const s of stored) expect(body).toContain(s.content);
    const parsed = JSON.parse(body) as Bundle;
    const expected = [
      searchEntry('http://x/fhir', JSON.parse(stored[0]!.content) as Resource, 'match'),
      searchEntry('http://x/fhir', JSON.parse(stored[1]!.content) as Resource, 'include'),
    ];
    expect(parsed.entry).toEqual(expected);
    expect(parsed.total).toBe(1);
  });

  it('a pretty response is indented throughout, stored resources included', async () => {
    const body = await fhirResponse(bundle('searchset', [storedEntry('http://x/fhir', stored[1]!, 'match')], { links: [] }), 200, pretty).text();
    expect(body).toContain('\n            "family": "Zoë"');
    expect(JSON.parse(body)).toMatchObject({ entry: [{ resource: { resourceType: 'Patient', id: 'p1' } }] });
  });

  it('a single stored resource is the whole body', async () => {
    expect(await fhirResponse(new StoredJson(stored[0]!.content), 200, compact).text()).toBe(stored[0]!.content);
  });

  it('strings that look like the splice markers are left alone', async () => {
    const lookalikes = ['\u00000', '\u0000x:0', '\\u00000', '"\u00001"'];
    const outcome = { resourceType: 'OperationOutcome', issue: lookalikes.map((d) => ({ severity: 'warning', code: 'informational', diagnostics: d })) };
    const body = await fhirResponse(
      bundle('searchset', [storedEntry('http://x/fhir', stored[0]!, 'match'), { resource: outcome as Resource }], { links: [] }),
      200,
      compact,
    ).text();
    const parsed = JSON.parse(body) as Bundle;
    expect(parsed.entry?.[1]?.resource).toEqual(outcome);
    expect(parsed.entry?.[0]?.resource).toEqual(JSON.parse(stored[0]!.content));
  });
});
