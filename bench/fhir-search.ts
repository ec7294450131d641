/**
 * Search benchmark: loads N synthetic patients (~200 resources each) with the bulk writer, then
 * measures FHIR requests through the real handler (token check, policy, query, audit included).
 * Run: DATABASE_URL=file:/tmp/bench.db node --import tsx bench/fhir-search-cli.mts [patients]
 */
import type { Resource } from '@medplum/fhirtypes';
import { createBulkWriter } from '../lib/fhir/bulk-writer';
import { createFhirHandler } from '../lib/fhir/router';
import type { Authenticate, TokenClaims } from '../lib/fhir/auth';
import type { Db } from '../lib/db';

const CAT = 'http://terminology.hl7.org/CodeSystem/observation-category';

function patientResources(p: number): Resource[] {
  const pid = `bench-${p}`;
  const subject = { reference: `Patient/${pid}` };
  const out: Resource[] = [
    {
      resourceType: 'Patient',
      id: pid,
      name: [{ family: `Family${p % 97}`, given: ['Given'] }],
      gender: p % 2 ? 'male' : 'female',
      birthDate: `19${50 + (p % 50)}-01-01`,
    },
  ];
  for (let i = 0; i < 150; i++) {
    const lab = i % 3 === 0;
    const day = new Date(Date.UTC(2014, 0, 1) + ((i * 24 + p) % 3650) * 86_400_000).toISOString();
    out.push({
      resourceType: 'Observation',
      id: `${pid}-o${i}`,
      status: 'final',
      category: [{ coding: [{ system: CAT, code: lab ? 'laboratory' : 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: lab ? '2339-0' : ['8867-4', '8480-6', '29463-7', '8310-5'][i % 4]! }] },
      subject,
      effectiveDateTime: day,
      valueQuantity: { value: 50 + (i % 50), unit: 'x', system: 'http://unitsofmeasure.org', code: 'x' },
    } as Resource);
  }
  for (let i = 0; i < 15; i++)
    out.push({
      resourceType: 'Encounter',
      id: `${pid}-e${i}`,
      status: 'finished',
      class: { code: 'AMB' },
      subject,
      period: { start: `20${15 + (i % 9)}-03-0${1 + (i % 9)}T10:00:00Z`, end: `20${15 + (i % 9)}-03-0${1 + (i % 9)}T11:00:00Z` },
    } as Resource);
  for (let i = 0; i < 20; i++)
    out.push({
      resourceType: 'Condition',
      id: `${pid}-c${i}`,
      subject,
      category: [{ coding: [{ code: i % 2 ? 'problem-list-item' : 'encounter-diagnosis' }] }],
      code: { coding: [{ system: 'http://snomed.info/sct', code: String(1000 + i) }] },
      onsetDateTime: `20${10 + (i % 12)}-01-01`,
    } as Resource);
  for (let i = 0; i < 15; i++)
    out.push({
      resourceType: 'MedicationRequest',
      id: `${pid}-m${i}`,
      status: i % 3 ? 'active' : 'completed',
      intent: 'order',
      subject,
      medicationCodeableConcept: { coding: [{ code: String(i) }] },
      authoredOn: `20${15 + (i % 9)}-05-05`,
    } as Resource);
  return out;
}

/** Loads `patients` synthetic patients into the database at `url`. */
export async function loadBenchData(url: string, patients: number): Promise<number> {
  const writer = createBulkWriter(url);
  let n = 0;
  try {
    for (let p = 0; p < patients; p += 10) {
      const batch: Resource[] = [];
      for (let q = p; q < Math.min(p + 10, patients); q++) batch.push(...patientResources(q));
      n += await writer.write('default', batch);
    }
  } finally {
    await writer.close();
  }
  return n;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/** Runs each request shape `iterations` times for random patients; returns ms percentiles. */
export async function runSearchBench(db: Db, patients: number, iterations: number): Promise<Record<string, { p50: number; p99: number; rps: number }>> {
  const claims = new Map<string, TokenClaims>();
  const authenticate: Authenticate = async (jwt) => {
    const c = claims.get(jwt);
    return c ? { ok: true, token: c } : { ok: false, error: 'invalid_token', description: 'unknown' };
  };
  const handle = createFhirHandler({ db, authenticate });
  const tokenFor = (p: number) => {
    const t = `tok-${p}`;
    claims.set(t, {
      jti: t,
      clientId: 'bench',
      scope: 'patient/*.rs',
      patientId: `bench-${p}`,
      encounterId: null,
      fhirUser: null,
      userId: null,
      exp: 2e9,
      launchId: null,
    });
    return t;
  };
  const shapes: Record<string, (p: number) => string> = {
    'read Patient': (p) => `Patient/bench-${p}`,
    'read Observation': (p) => `Observation/bench-${p}-o7`,
    'Observation?patient&category&date': (p) => `Observation?patient=bench-${p}&category=${encodeURIComponent(`${CAT}|laboratory`)}&date=ge2018-01-01`,
    'Observation?patient&code': (p) => `Observation?patient=Patient/bench-${p}&code=8867-4`,
    'Condition?patient&category': (p) => `Condition?patient=bench-${p}&category=problem-list-item`,
    'Encounter?patient&date': (p) => `Encounter?patient=bench-${p}&date=ge2019-01-01`,
    'Observation?patient&_sort=-date&_count=20': (p) => `Observation?patient=bench-${p}&_sort=-date&_count=20`,
  };
  const out: Record<string, { p50: number; p99: number; rps: number }> = {};
  for (const [name, path] of Object.entries(shapes)) {
    const times: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) {
      const p = Math.floor(Math.random() * patients);
      const started = performance.now();
      const res = await handle(new Request(`http://localhost:3000/fhir/${path(p)}`, { headers: { authorization: `Bearer ${tokenFor(p)}` } }));
      await res.text();
      if (res.status !== 200) throw new Error(`${name}: ${res.status}`);
      times.push(performance.now() - started);
    }
    const total = performance.now() - t0;
    times.sort((a, b) => a - b);
    out[name] = { p50: +percentile(times, 0.5).toFixed(2), p99: +percentile(times, 0.99).toFixed(2), rps: Math.round((iterations / total) * 1000) };
  }
  return out;
}
