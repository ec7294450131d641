'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import type { Client } from './fhirclient';
import { loadFhirClient } from './fhirclient';

interface CallLog {
  readonly method: string;
  readonly url: string;
  readonly status: number | null;
  readonly ms: number;
}

type Section =
  | { readonly state: 'loading' }
  | { readonly state: 'ok'; readonly resources: readonly FhirResource[] }
  | { readonly state: 'denied' | 'error'; readonly status: number | null; readonly message: string };

interface FhirResource {
  readonly resourceType: string;
  readonly id?: string;
  readonly [key: string]: unknown;
}

interface Coding {
  system?: string;
  code?: string;
  display?: string;
}
interface CodeableConcept {
  text?: string;
  coding?: Coding[];
}

const SECTIONS: readonly { key: string; title: string; query: (patient: string) => string }[] = [
  { key: 'vitals', title: 'Vital signs', query: (p) => `Observation?patient=${p}&category=vital-signs&_sort=-date&_count=200` },
  { key: 'conditions', title: 'Problems (Condition)', query: (p) => `Condition?patient=${p}&_count=100` },
  { key: 'medications', title: 'Medications (MedicationRequest)', query: (p) => `MedicationRequest?patient=${p}&_count=100` },
  { key: 'allergies', title: 'Allergies (AllergyIntolerance)', query: (p) => `AllergyIntolerance?patient=${p}&_count=100` },
  { key: 'immunizations', title: 'Immunizations', query: (p) => `Immunization?patient=${p}&_count=100` },
  { key: 'labs', title: 'Laboratory results', query: (p) => `Observation?patient=${p}&category=laboratory&_sort=-date&_count=50` },
];

function text(cc: CodeableConcept | undefined): string {
  return cc?.text ?? cc?.coding?.[0]?.display ?? cc?.coding?.[0]?.code ?? '—';
}

function nameOf(resource: FhirResource | null): string {
  const names = (resource?.name as { use?: string; given?: string[]; family?: string; text?: string }[] | undefined) ?? [];
  const n = names.find((x) => x.use === 'official') ?? names[0];
  if (!n) return '(no name)';
  const parts = [...(n.given ?? []), n.family ?? ''].filter(Boolean);
  return parts.length ? parts.join(' ') : (n.text ?? '(no name)');
}

function statusOf(err: unknown): number | null {
  const e = err as { status?: unknown; statusCode?: unknown } | null;
  const s = e?.status ?? e?.statusCode;
  return typeof s === 'number' ? s : null;
}

function decodeJwt(token: unknown): unknown {
  if (typeof token !== 'string') return null;
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return null;
  }
}

function redact(tokenResponse: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { ...tokenResponse };
  for (const key of ['access_token', 'refresh_token', 'id_token']) {
    const v = out[key];
    if (typeof v === 'string') out[key] = `${v.slice(0, 16)}… (${v.length} chars)`;
  }
  return out;
}

function Sparkline({ values }: { values: readonly number[] }) {
  if (values.length < 2) return null;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const w = 160;
  const h = 32;
  const points = values
    .map((v, i) => `${((i / (values.length - 1)) * w).toFixed(1)},${(h - ((v - min) / (max - min || 1)) * (h - 4) - 2).toFixed(1)}`)
    .join(' ');
  return (
    <svg width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label="trend">
      <polyline points={points} fill="none" stroke="#0b5cad" strokeWidth="1.5" />
    </svg>
  );
}

function quantityOf(o: FhirResource): { value: number; unit: string } | null {
  const q = o.valueQuantity as { value?: number; unit?: string } | undefined;
  if (typeof q?.value === 'number') return { value: q.value, unit: q.unit ?? '' };
  const comps = (o.component as { code?: CodeableConcept; valueQuantity?: { value?: number; unit?: string } }[] | undefined) ?? [];
  const first = comps[0]?.valueQuantity;
  return typeof first?.value === 'number' ? { value: first.value, unit: first.unit ?? '' } : null;
}

function displayValue(o: FhirResource): string {
  const comps = (o.component as { valueQuantity?: { value?: number; unit?: string } }[] | undefined) ?? [];
  if (comps.length >= 2 && comps.every((c) => typeof c.valueQuantity?.value === 'number')) {
    return `${comps.map((c) => c.valueQuantity?.value).join('/')} ${comps[0]?.valueQuantity?.unit ?? ''}`;
  }
  const q = quantityOf(o);
  if (q) return `${q.value} ${q.unit}`;
  return text(o.valueCodeableConcept as CodeableConcept | undefined);
}

function Vitals({ resources }: { resources: readonly FhirResource[] }) {
  const groups = new Map<string, FhirResource[]>();
  for (const o of resources) {
    const label = text(o.code as CodeableConcept);
    groups.set(label, [...(groups.get(label) ?? []), o]);
  }
  if (groups.size === 0) return <p className="muted">No vital signs.</p>;
  return (
    <table data-testid="vitals">
      <thead>
        <tr>
          <th>Vital sign</th>
          <th>Latest</th>
          <th>Date</th>
          <th>Trend ({'oldest → newest'})</th>
        </tr>
      </thead>
      <tbody>
        {[...groups].map(([label, list]) => {
          const latest = list[0];
          const values = list
            .map((o) => quantityOf(o)?.value)
            .filter((v): v is number => typeof v === 'number')
            .reverse();
          return (
            <tr key={label}>
              <td>{label}</td>
              <td>{latest ? displayValue(latest) : ''}</td>
              <td>{String(latest?.effectiveDateTime ?? '').slice(0, 10)}</td>
              <td>
                <Sparkline values={values} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function summaryLine(r: FhirResource): string {
  switch (r.resourceType) {
    case 'Condition':
      return `${text(r.code as CodeableConcept)} · ${text(r.clinicalStatus as CodeableConcept)}`;
    case 'MedicationRequest':
      return `${text(r.medicationCodeableConcept as CodeableConcept) !== '—' ? text(r.medicationCodeableConcept as CodeableConcept) : String((r.medicationReference as { display?: string; reference?: string } | undefined)?.display ?? (r.medicationReference as { reference?: string } | undefined)?.reference ?? '—')} · ${String(r.status ?? '')}`;
    case 'AllergyIntolerance':
      return `${text(r.code as CodeableConcept)} · ${text(r.clinicalStatus as CodeableConcept)}`;
    case 'Immunization':
      return `${text(r.vaccineCode as CodeableConcept)} · ${String(r.occurrenceDateTime ?? '').slice(0, 10)}`;
    case 'Observation':
      return `${text(r.code as CodeableConcept)}: ${displayValue(r)} · ${String(r.effectiveDateTime ?? '').slice(0, 10)}`;
    default:
      return `${r.resourceType}/${r.id ?? ''}`;
  }
}

/** The sample SMART app: FHIR.oauth2.ready(), then the patient summary, tokens, scopes and every FHIR call. */
export function SampleAppClient() {
  const clientRef = useRef<Client | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [patient, setPatient] = useState<FhirResource | null>(null);
  const [patientStatus, setPatientStatus] = useState<Section>({ state: 'loading' });
  const [sections, setSections] = useState<Record<string, Section>>({});
  const [calls, setCalls] = useState<readonly CallLog[]>([]);
  const [tokenResponse, setTokenResponse] = useState<Record<string, unknown> | undefined>(undefined);
  const [refreshMessage, setRefreshMessage] = useState<string | null>(null);

  const request = useCallback(async (url: string): Promise<unknown> => {
    const client = clientRef.current;
    if (!client) throw new Error('not ready');
    const started = performance.now();
    try {
      const result = await client.request(url);
      setCalls((c) => [...c, { method: 'GET', url, status: 200, ms: Math.round(performance.now() - started) }]);
      return result;
    } catch (err) {
      setCalls((c) => [...c, { method: 'GET', url, status: statusOf(err), ms: Math.round(performance.now() - started) }]);
      throw err;
    }
  }, []);

  const toSection = useCallback((err: unknown): Section => {
    const status = statusOf(err);
    const message = err instanceof Error ? err.message : String(err);
    return status === 401 || status === 403 ? { state: 'denied', status, message } : { state: 'error', status, message };
  }, []);

  const loadAll = useCallback(async () => {
    const client = clientRef.current;
    const patientId = client?.patient.id;
    if (!client || !patientId) return;
    request(`Patient/${patientId}`)
      .then((p) => {
        setPatient(p as FhirResource);
        setPatientStatus({ state: 'ok', resources: [p as FhirResource] });
      })
      .catch((err: unknown) => setPatientStatus(toSection(err)));
    await Promise.all(
      SECTIONS.map(async (s) => {
        try {
          const bundle = (await request(s.query(encodeURIComponent(String(patientId))))) as { entry?: { resource?: FhirResource }[] };
          const resources = (bundle.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => Boolean(r) && r?.resourceType !== 'OperationOutcome');
          setSections((prev) => ({ ...prev, [s.key]: { state: 'ok', resources } }));
        } catch (err) {
          setSections((prev) => ({ ...prev, [s.key]: toSection(err) }));
        }
      }),
    );
  }, [request, toSection]);

  useEffect(() => {
    const params = new URLSearchParams(window.location.search);
    if (params.get('error')) {
      setError(`${params.get('error')}${params.get('error_description') ? `: ${params.get('error_description')}` : ''}`);
      return;
    }
    loadFhirClient()
      .then((FHIR) => {
        // RFC 6749 §6: this server identifies a public client's refresh request by its client_id.
        FHIR.oauth2.settings.refreshTokenWithClientId = true;
        return FHIR.oauth2.ready();
      })
      .then((client) => {
        clientRef.current = client;
        setTokenResponse(client.state.tokenResponse as Record<string, unknown> | undefined);
        if (!client.patient.id) {
          setError('No patient in context: the token response has no patient.');
          return;
        }
        return loadAll();
      })
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  }, [loadAll]);

  async function refresh() {
    const client = clientRef.current;
    if (!client) return;
    setRefreshMessage(null);
    try {
      await client.refresh();
      setTokenResponse(client.state.tokenResponse as Record<string, unknown> | undefined);
      setRefreshMessage('Refreshed: new access token received.');
    } catch (err) {
      setRefreshMessage(`Refresh failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  if (error) {
    return (
      <div className="card" role="alert" data-testid="sample-error">
        <h2>Authorization failed</h2>
        <p className="error">{error}</p>
        <p className="muted">
          Launch again from the <a href="/">launcher</a>.
        </p>
      </div>
    );
  }

  const scopes = typeof tokenResponse?.scope === 'string' ? tokenResponse.scope.split(' ') : [];
  return (
    <div className="sample">
      <section className="card" data-testid="sample-patient">
        {patientStatus.state === 'loading' ? <p className="muted">Loading patient…</p> : null}
        {patientStatus.state === 'denied' || patientStatus.state === 'error' ? (
          <p className={patientStatus.state === 'denied' ? 'denied' : 'error'}>
            Patient: {patientStatus.state === 'denied' ? 'denied' : 'error'} ({patientStatus.status ?? 'network'})
          </p>
        ) : null}
        {patient ? (
          <>
            <h2 className="patient-name" data-testid="sample-patient-name">
              {nameOf(patient)}
            </h2>
            <p className="muted">
              {String(patient.gender ?? 'unknown sex')} · born {String(patient.birthDate ?? 'unknown')} · Patient/{patient.id}
            </p>
          </>
        ) : null}
      </section>

      {SECTIONS.map((s) => {
        const section = sections[s.key] ?? { state: 'loading' };
        return (
          <section className="card" key={s.key} data-testid={`section-${s.key}`} data-state={section.state}>
            <h2>{s.title}</h2>
            {section.state === 'loading' ? <p className="muted">Loading…</p> : null}
            {section.state === 'denied' ? (
              <p className="denied" data-testid={`denied-${s.key}`}>
                Denied ({section.status}): this app was not granted access to this data.
              </p>
            ) : null}
            {section.state === 'error' ? (
              <p className="error">
                Error ({section.status ?? 'network'}): {section.message}
              </p>
            ) : null}
            {section.state === 'ok' && s.key === 'vitals' ? <Vitals resources={section.resources} /> : null}
            {section.state === 'ok' && s.key !== 'vitals' ? (
              section.resources.length === 0 ? (
                <p className="muted">None.</p>
              ) : (
                <ul>
                  {section.resources.slice(0, 20).map((r, i) => (
                    <li key={r.id ?? i}>{summaryLine(r)}</li>
                  ))}
                  {section.resources.length > 20 ? <li className="muted">… {section.resources.length - 20} more</li> : null}
                </ul>
              )
            ) : null}
          </section>
        );
      })}

      <section className="card">
        <h2>Granted scopes</h2>
        <p data-testid="granted-scopes">
          {scopes.map((s) => (
            <code key={s} className="chip">
              {s}
            </code>
          ))}
        </p>
        <button type="button" onClick={refresh} disabled={!tokenResponse?.refresh_token}>
          Refresh token
        </button>{' '}
        {refreshMessage ? <span data-testid="refresh-message">{refreshMessage}</span> : null}
        {!tokenResponse?.refresh_token ? <span className="muted"> (no refresh token granted)</span> : null}
      </section>

      <section className="card">
        <h2>Token response</h2>
        <pre>{JSON.stringify(redact(tokenResponse), null, 2)}</pre>
        <h3>Access token claims</h3>
        <pre>{JSON.stringify(decodeJwt(tokenResponse?.access_token), null, 2)}</pre>
        {tokenResponse?.id_token ? (
          <>
            <h3>id_token claims</h3>
            <pre>{JSON.stringify(decodeJwt(tokenResponse.id_token), null, 2)}</pre>
          </>
        ) : null}
      </section>

      <section className="card">
        <h2>FHIR calls</h2>
        <table data-testid="fhir-calls">
          <thead>
            <tr>
              <th>Method</th>
              <th>URL</th>
              <th>Status</th>
              <th>ms</th>
            </tr>
          </thead>
          <tbody>
            {calls.map((c, i) => (
              <tr key={i}>
                <td>{c.method}</td>
                <td>
                  <code>{c.url}</code>
                </td>
                <td className={c.status !== null && c.status >= 400 ? 'error' : ''}>{c.status ?? 'network error'}</td>
                <td>{c.ms}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
