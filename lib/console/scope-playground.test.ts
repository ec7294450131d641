import { describe, expect, it } from 'vitest';
import { analyzeScopeString } from './scope-explain';
import { evaluatePlaygroundRequest } from './scope-playground';

describe('scope explainer', () => {
  it('explains each scope in plain language with version, types, interactions and compartment', () => {
    const a = analyzeScopeString('launch/patient patient/Observation.rs?category=vital-signs user/Practitioner.read openid fhirUser');
    expect(a.errors).toEqual([]);
    expect(a.versions).toEqual([1, 2]);
    const obs = a.items.find((i) => i.scope.startsWith('patient/Observation'));
    expect(obs).toMatchObject({ ok: true, version: 2, resourceTypes: 'Observation' });
    if (!obs?.ok) throw new Error('expected parsed');
    expect(obs.explanation).toBe("Read and search this patient's vital-sign Observations.");
    expect(obs.interactions).toEqual(['read (GET by id, vread, instance history)', 'search (GET ?…, type history)']);
    expect(obs.compartment).toMatch(/Patient compartment/);
    expect(obs.filter).toMatch(/category = vital-signs/);
    const v1 = a.items.find((i) => i.scope === 'user/Practitioner.read');
    expect(v1).toMatchObject({ version: 1, otherVersion: 'user/Practitioner.rs' });
    expect(a.notes.some((n) => n.includes('Mixes SMART v1 and v2'))).toBe(true);
  });

  it('keeps refused scopes in place with the reason', () => {
    const a = analyzeScopeString('openid patient/observation.rs patient/Observation.sr');
    expect(a.items.map((i) => [i.scope, i.ok])).toEqual([
      ['openid', true],
      ['patient/observation.rs', false],
      ['patient/Observation.sr', false],
    ]);
    const bad = a.items[1];
    expect(bad && !bad.ok && bad.reason).toMatch(/did you mean 'Observation'/);
    const order = a.items[2];
    expect(order && !order.ok && order.reason).toMatch(/out of order/);
  });

  it('warns about patient scopes without a way to get a patient', () => {
    expect(analyzeScopeString('patient/*.rs').notes.join(' ')).toMatch(/launch\/patient/);
  });
});

describe('would this token be allowed?', () => {
  const scope = 'launch/patient patient/Observation.rs?category=laboratory patient/Patient.r';

  it('routes requests as the FHIR router does', () => {
    const ask = (method: string, url: string) => evaluatePlaygroundRequest({ scope: 'user/*.cruds', method, url });
    expect(ask('GET', '/fhir/Observation?patient=1')).toMatchObject({ verdict: 'allowed', interaction: 'search', resourceType: 'Observation' });
    expect(ask('GET', 'http://x/fhir/Patient/1')).toMatchObject({ interaction: 'read' });
    expect(ask('GET', 'Patient/1/_history/2')).toMatchObject({ interaction: 'vread' });
    expect(ask('POST', '/fhir/Observation')).toMatchObject({ interaction: 'create', status: 201 });
    expect(ask('GET', '/fhir/observation')).toMatchObject({ verdict: 'invalid', status: 404 });
    // The cases a second router got wrong: GET _search is a search; PUT and DELETE on a type are not
    // supported (a PUT with criteria is a conditional update); $everything is a read of the Patient.
    expect(ask('GET', '/fhir/Observation/_search?code=1')).toMatchObject({ verdict: 'allowed', interaction: 'search' });
    expect(ask('PUT', '/fhir/Observation')).toMatchObject({ verdict: 'invalid', status: 405 });
    expect(ask('PUT', '/fhir/Observation?identifier=x')).toMatchObject({ verdict: 'allowed', interaction: 'update' });
    expect(ask('DELETE', '/fhir/Observation')).toMatchObject({ verdict: 'invalid', status: 405 });
    expect(ask('GET', '/fhir/Patient/1/$everything')).toMatchObject({ verdict: 'allowed', interaction: 'read', resourceType: 'Patient' });
  });

  it('refuses a revoked or expired token whatever its scopes (401)', () => {
    const a = evaluatePlaygroundRequest({ scope: 'user/*.cruds', tokenStatus: 'revoked', method: 'GET', url: '/fhir/Patient/1' });
    expect(a).toMatchObject({ verdict: 'unauthorized', status: 401 });
    expect(evaluatePlaygroundRequest({ scope: 'user/*.cruds', tokenStatus: 'expired', method: 'GET', url: '/fhir/Patient/1' }).status).toBe(401);
  });

  it('denies a search the scopes do not cover, naming the scope that would allow it', () => {
    const a = evaluatePlaygroundRequest({ scope, patientId: 'p1', method: 'GET', url: '/fhir/Condition?patient=p1' });
    expect(a).toMatchObject({ verdict: 'denied', status: 403, wouldAllow: 'patient/Condition.s' });
    expect(a.summary).toMatch(/^Denied search Condition/);
  });

  it('narrows a search to the granular category', () => {
    const a = evaluatePlaygroundRequest({ scope, patientId: 'p1', method: 'GET', url: '/fhir/Observation?patient=p1&category=vital-signs' });
    expect(a.verdict).toBe('narrowed');
    expect(a.reasons.join(' ')).toMatch(/adds category=laboratory/);
  });

  it('allows a search already inside the granular category', () => {
    const a = evaluatePlaygroundRequest({ scope, patientId: 'p1', method: 'GET', url: '/fhir/Observation?patient=p1&category=laboratory' });
    expect(a).toMatchObject({ verdict: 'allowed', status: 200 });
  });

  it('hides another patient on read, refuses a search naming one (suspected BOLA)', () => {
    const read = evaluatePlaygroundRequest({ scope, patientId: 'p1', method: 'GET', url: '/fhir/Patient/p2' });
    expect(read).toMatchObject({ verdict: 'hidden', status: 404 });
    const search = evaluatePlaygroundRequest({ scope, patientId: 'p1', method: 'GET', url: '/fhir/Observation?subject=Patient/p2&category=laboratory' });
    expect(search).toMatchObject({ verdict: 'denied', status: 403 });
    expect(search.reasons.join(' ')).toMatch(/outside the compartment of patient p1/);
  });

  it('explains that patient/ scopes need a patient in context', () => {
    const a = evaluatePlaygroundRequest({ scope: 'patient/Observation.rs', method: 'GET', url: '/fhir/Observation' });
    expect(a).toMatchObject({ verdict: 'denied', wouldAllow: 'launch/patient' });
  });
});
