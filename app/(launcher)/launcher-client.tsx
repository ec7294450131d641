'use client';

import { useEffect, useMemo, useState, useTransition } from 'react';
import type { FormEvent } from 'react';
import { parseScopeString } from '#lib/smart/scopes';
import { allowsPatientList, LAUNCH_TYPE_IDS, LAUNCH_TYPES, MAX_LAUNCH_PATIENTS } from '#lib/launch-options/options';
import type { LaunchType } from '#lib/launch-options/options';
import type { LaunchConfig } from '#lib/launcher/launch-config';
import { defaultSimulatedError, SIMULATED_ERROR_KINDS, SIMULATED_ERRORS, simulatedErrorProblem } from '#lib/launch-options/simulated-errors';
import type { SimulatedError, SimulatedErrorKind } from '#lib/launch-options/simulated-errors';
import type { LauncherClient as LauncherApp, PatientPreview } from '#lib/launcher/directory';
import type { LaunchStart } from '#lib/launcher/start-launch';
import type { Persona } from '#lib/interaction/personas';
import type { PatientSummary, PractitionerSummary } from '#lib/fhir/patient-directory';
import {
  createShareLinkAction,
  previewPatientAction,
  registerAdHocAppAction,
  searchPatientsAction,
  runBackendDemoAction,
  setLaunchUrlAction,
  startLaunchAction,
} from './actions';
import { BackendDemoSteps } from './backend-demo-steps';
import { ScenarioPanel } from './scenarios-client';
import type { ListedScenario, Scenario } from '#lib/launcher/scenarios';
import type { BackendDemoRun } from '#lib/launcher/backend-demo';

const ADHOC = '__adhoc__';

const SCOPE_PRESETS: readonly { id: string; label: string; scope: string }[] = [
  { id: 'ehr', label: 'EHR launch, patient data (read)', scope: 'launch openid fhirUser patient/*.rs offline_access' },
  {
    id: 'standalone',
    label: 'Standalone, patient data (read)',
    scope:
      'launch/patient openid fhirUser offline_access patient/Patient.rs patient/Observation.rs patient/Condition.rs patient/MedicationRequest.rs patient/AllergyIntolerance.rs patient/Immunization.rs',
  },
  { id: 'encounter', label: 'EHR launch with encounter', scope: 'launch launch/encounter openid fhirUser patient/*.rs' },
  { id: 'user', label: 'Provider, user-level (read)', scope: 'launch openid fhirUser user/*.rs' },
  {
    id: 'granular',
    label: 'US Core granular (vitals + problems)',
    scope:
      'launch/patient openid fhirUser patient/Patient.rs patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item',
  },
  { id: 'v1', label: 'SMART v1 (legacy)', scope: 'launch openid fhirUser patient/*.read offline_access' },
  { id: 'backend', label: 'Backend service (system)', scope: 'system/*.rs' },
];

function defaultPresetFor(type: LaunchType): string {
  if (type === 'backend-service') return 'backend';
  if (type === 'provider-ehr' || type === 'patient-portal') return 'ehr';
  return 'standalone';
}

function presetScope(id: string): string {
  return SCOPE_PRESETS.find((p) => p.id === id)?.scope ?? '';
}

export interface LauncherClientProps {
  readonly origin: string;
  readonly clients: readonly LauncherApp[];
  readonly practitioners: readonly PractitionerSummary[];
  readonly patientPersonas: readonly Persona[];
  readonly initialPatients: readonly PatientSummary[];
  readonly shared: LaunchConfig | null;
  readonly scenarios: readonly ListedScenario[];
  readonly scenario: Scenario | null;
  /** client_id of the built-in backend service demo in this sandbox. */
  readonly backendDemoClientId: string;
  readonly fromShare: string | null;
}

function PatientCard({ preview }: { preview: PatientPreview }) {
  const b = preview.banner;
  return (
    <div className="preview" data-testid="patient-preview">
      <div className="preview-head">
        <strong className="patient-name">{b.name}</strong>
        <span className="muted">
          {b.gender ?? 'unknown sex'} · born {b.birthDate ?? 'unknown'} · MRN {b.mrn ?? '—'}
          {b.deceased ? ' · deceased' : ''}
        </span>
        <span className={b.allergies.length ? 'badge danger' : 'badge'}>
          {b.allergies.length ? `Allergies: ${b.allergies.join(', ')}` : 'No known allergies'}
        </span>
      </div>
      <div className="counts">
        {preview.counts.length === 0 ? <span className="muted">No clinical data.</span> : null}
        {preview.counts.map((c) => (
          <span key={c.type} className="count">
            {c.type} <strong>{c.count}</strong>
          </span>
        ))}
      </div>
    </div>
  );
}

/** A patient chosen in the launcher: the id goes into the launch, the name into the summary. */
interface ChosenPatient {
  readonly id: string;
  readonly name: string;
}

function patientNames(chosen: readonly ChosenPatient[]): string {
  return chosen.map((p) => p.name).join(', ');
}

function BackendInstructions({
  result,
  scope,
  patients,
}: {
  result: Extract<LaunchStart, { kind: 'backend' }>;
  scope: string;
  patients: readonly ChosenPatient[];
}) {
  const curl = [
    `curl -s -X POST '${result.tokenUrl}' \\`,
    `  -H 'content-type: application/x-www-form-urlencoded' \\`,
    `  -d grant_type=client_credentials \\`,
    `  --data-urlencode 'scope=${scope || 'system/*.rs'}' \\`,
    `  -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \\`,
    `  -d client_assertion="$ASSERTION"`,
  ].join('\n');
  const keygen = [
    '# 1. An ES384 key pair (RS384 works too: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048)',
    'openssl ecparam -name secp384r1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out private.pem',
    'openssl pkey -in private.pem -pubout -out public.pem',
    '',
    '# 2. The client assertion (any JWT library; here Node + jose):',
    `ASSERTION=$(node --input-type=module -e "import {importPKCS8,SignJWT} from 'jose'; import fs from 'node:fs';`,
    `const key = await importPKCS8(fs.readFileSync('private.pem','utf8'),'ES384');`,
    `console.log(await new SignJWT({}).setProtectedHeader({alg:'ES384',kid:'my-key',typ:'JWT'}).setIssuer('${result.clientId}').setSubject('${result.clientId}')`,
    `.setAudience('${result.tokenUrl}').setJti(crypto.randomUUID()).setExpirationTime('5m').sign(key))")`,
  ].join('\n');
  return (
    <div className="card" data-testid="backend-instructions">
      <h2>Backend service</h2>
      <p>
        Token URL: <code>{result.tokenUrl}</code> · client_id <code>{result.clientId}</code> · FHIR base <code>{result.fhirBase}</code>
      </p>
      {result.patientIds.length ? (
        <p data-testid="backend-patients">
          Patients in this launch ({result.patientIds.length}):{' '}
          {patientNames(result.patientIds.map((id) => patients.find((p) => p.id === id) ?? { id, name: id }))}
        </p>
      ) : null}
      <p className="muted">
        The client must be registered with the public key (JWKS) of the key that signs its assertions. Register one with POST /oauth/register
        (token_endpoint_auth_method private_key_jwt, grant_types [client_credentials]); <a href="/tools/jwks">the JWKS helper</a> turns a public key into the
        JWKS to register, or makes a key pair for you.
      </p>
      <pre>{keygen}</pre>
      <pre>{curl}</pre>
    </div>
  );
}

/** The app's launch URL, with a form to add one (none registered) or change it. */
function LaunchUrlEditor({ app, onSaved }: { app: LauncherApp; onSaved: (launchUrl: string) => void }) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(app.launchUrl ?? '');
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  useEffect(() => {
    setEditing(false);
    setValue(app.launchUrl ?? '');
    setError(null);
  }, [app.clientId, app.launchUrl]);
  const editable = app.clientId !== 'sample-app' && app.clientType !== 'backend';
  function save(e: FormEvent) {
    e.preventDefault();
    startTransition(async () => {
      const res = await setLaunchUrlAction({ clientId: app.clientId, launchUrl: value, replace: app.launchUrl });
      if (!res.ok) {
        setError(res.error);
        return;
      }
      setError(null);
      setEditing(false);
      onSaved(res.launchUrl);
    });
  }
  if (app.clientType === 'backend') return <p className="muted">backend client · no launch URL (backend services are not launched by the EHR)</p>;
  const form = (
    <form className="row" onSubmit={save} data-testid="launch-url-form">
      <label>
        Launch URL{' '}
        <input aria-label="Launch URL" value={value} onChange={(e) => setValue(e.target.value)} placeholder="http://localhost:8080/launch" size={34} />
      </label>
      <button type="submit" disabled={pending}>
        {app.launchUrl ? 'Save launch URL' : 'Add launch URL'}
      </button>
      {app.launchUrl ? (
        <button type="button" className="secondary" onClick={() => setEditing(false)}>
          Cancel
        </button>
      ) : null}
    </form>
  );
  return (
    <div data-testid="launch-url">
      {app.launchUrl ? (
        <p className="muted">
          {app.clientType} client · launch URL <code>{app.launchUrl}</code>{' '}
          {editable && !editing ? (
            <button type="button" className="secondary" onClick={() => setEditing(true)}>
              Edit
            </button>
          ) : null}
        </p>
      ) : (
        <p className="muted">{app.clientType} client · no launch URL registered: add one to launch it from the EHR (standalone launches need none).</p>
      )}
      {editable && (editing || !app.launchUrl) ? form : null}
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** The launcher form: app, launch type, context pickers, scopes, options and simulated errors. */
export function LauncherClient(props: LauncherClientProps) {
  const BACKEND_DEMO = props.backendDemoClientId;
  const shared = props.shared;
  const sampleApp = props.clients.find((c) => c.clientId === 'sample-app');
  const [clients, setClients] = useState<readonly LauncherApp[]>(props.clients);
  const [clientId, setClientId] = useState<string>(shared?.clientId ?? sampleApp?.clientId ?? props.clients[0]?.clientId ?? ADHOC);
  const [adhoc, setAdhoc] = useState({ name: '', launchUrl: '', redirectUri: '' });
  const [launchType, setLaunchType] = useState<LaunchType>(shared?.launchType ?? 'provider-ehr');
  const [search, setSearch] = useState({ name: '', birthdate: '', identifier: '', gender: '', condition: '', minAge: '', maxAge: '' });
  const [patients, setPatients] = useState<readonly PatientSummary[]>(props.initialPatients);
  const [chosen, setChosen] = useState<readonly ChosenPatient[]>(() =>
    (shared?.patientIds ?? []).map((id) => ({ id, name: props.initialPatients.find((p) => p.id === id)?.name ?? id })),
  );
  const [severalPatients, setSeveralPatients] = useState((shared?.patientIds.length ?? 0) > 1);
  const [preview, setPreview] = useState<PatientPreview | null>(null);
  const [encounter, setEncounter] = useState<LaunchConfig['encounter']>(shared?.encounter ?? { mode: 'none' });
  const [userFhirUser, setUserFhirUser] = useState<string>(shared?.userFhirUser ?? (props.practitioners[0] ? `Practitioner/${props.practitioners[0].id}` : ''));
  const [scope, setScope] = useState<string>(shared?.scope ?? presetScope('ehr'));
  const [skipLogin, setSkipLogin] = useState(shared?.skipLogin ?? true);
  const [skipConsent, setSkipConsent] = useState(shared?.skipConsent ?? false);
  const [pkceRequired, setPkceRequired] = useState(shared?.pkceRequired ?? true);
  const [tokenLifetime, setTokenLifetime] = useState<string>(shared?.tokenLifetimeSeconds ? String(shared.tokenLifetimeSeconds) : '');
  const [framed, setFramed] = useState(shared?.framed ?? true);
  const [simulatedError, setSimulatedError] = useState<SimulatedError | null>(shared?.simulatedError ?? null);
  const [result, setResult] = useState<LaunchStart | null>(null);
  const [demoRun, setDemoRun] = useState<BackendDemoRun | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [shareUrl, setShareUrl] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();

  const type = LAUNCH_TYPES[launchType];
  const app = clients.find((c) => c.clientId === clientId) ?? null;
  const scopeCheck = useMemo(() => parseScopeString(scope), [scope]);
  // Only the simulated errors this launch type and this app's client authentication can produce.
  const fit = { launchType, tokenEndpointAuthMethod: app?.tokenEndpointAuthMethod ?? 'none' } as const;
  const offeredErrors = SIMULATED_ERROR_KINDS.filter((k) => simulatedErrorProblem(defaultSimulatedError(k), fit) === null);
  useEffect(() => {
    if (simulatedError && simulatedErrorProblem(simulatedError, fit) !== null) setSimulatedError(null);
    // fit changes with the launch type and the app only.
  }, [launchType, app?.tokenEndpointAuthMethod]);
  // The first chosen patient is the launch context; population apps may get more (issue 6 item 2).
  const patientId = chosen[0]?.id ?? null;
  const multiple = severalPatients && allowsPatientList(launchType);

  useEffect(() => {
    if (!patientId) {
      setPreview(null);
      return;
    }
    let cancelled = false;
    void previewPatientAction(patientId).then((p) => {
      if (!cancelled) setPreview(p);
    });
    return () => {
      cancelled = true;
    };
  }, [patientId]);

  function chooseLaunchType(next: LaunchType) {
    setLaunchType(next);
    // The app picker lists backend clients only for a backend launch and app clients otherwise: keep
    // the choice on an app the list shows, or the form would launch one the user cannot see.
    const fits = (c: LauncherApp) => (next === 'backend-service') === (c.clientType === 'backend');
    if (clientId !== ADHOC && !clients.some((c) => c.clientId === clientId && fits(c))) setClientId(clients.find(fits)?.clientId ?? ADHOC);
    setScope(presetScope(defaultPresetFor(next)));
    setResult(null);
    const user = LAUNCH_TYPES[next].user;
    if (user === 'patient') setUserFhirUser(patientId ? `Patient/${patientId}` : '');
    else if (user === 'practitioner' && !userFhirUser.startsWith('Practitioner/'))
      setUserFhirUser(props.practitioners[0] ? `Practitioner/${props.practitioners[0].id}` : '');
    setSkipLogin(next === 'provider-ehr' || next === 'patient-portal');
    if (!allowsPatientList(next)) {
      setSeveralPatients(false);
      setChosen((list) => list.slice(0, 1));
    }
  }

  function choosePatient(patient: PatientSummary) {
    if (multiple) {
      const without = chosen.filter((p) => p.id !== patient.id);
      const next = without.length < chosen.length ? without : [...chosen, { id: patient.id, name: patient.name }].slice(0, MAX_LAUNCH_PATIENTS);
      if (next[0]?.id !== patientId) setEncounter({ mode: 'none' });
      setChosen(next);
      return;
    }
    setChosen([{ id: patient.id, name: patient.name }]);
    setEncounter({ mode: 'none' });
    if (type.user === 'patient') setUserFhirUser(`Patient/${patient.id}`);
  }

  function removePatient(id: string) {
    if (chosen[0]?.id === id) setEncounter({ mode: 'none' });
    setChosen(chosen.filter((p) => p.id !== id));
  }

  function chooseSeveralPatients(on: boolean) {
    setSeveralPatients(on);
    if (!on) setChosen((list) => list.slice(0, 1));
  }

  function runSearch(e: FormEvent) {
    e.preventDefault();
    startTransition(async () => {
      const found = await searchPatientsAction({
        name: search.name || undefined,
        birthdate: search.birthdate || undefined,
        identifier: search.identifier || undefined,
        gender: search.gender || undefined,
        condition: search.condition || undefined,
        minAge: search.minAge ? Number(search.minAge) : undefined,
        maxAge: search.maxAge ? Number(search.maxAge) : undefined,
        limit: 30,
      });
      setPatients(found);
    });
  }

  function config(): LaunchConfig {
    const lifetime = Number(tokenLifetime);
    return {
      clientId,
      launchType,
      patientIds: allowsPatientList(launchType) ? chosen.map((p) => p.id) : chosen.slice(0, 1).map((p) => p.id),
      encounter,
      userFhirUser: userFhirUser || null,
      scope,
      skipLogin,
      skipConsent,
      pkceRequired,
      tokenLifetimeSeconds: tokenLifetime && Number.isInteger(lifetime) ? lifetime : null,
      framed,
      simulatedError,
    };
  }

  function registerAdhoc() {
    startTransition(async () => {
      const res = await registerAdHocAppAction(adhoc);
      if (!res.ok) {
        setMessage(res.error);
        return;
      }
      const registered: LauncherApp = {
        clientId: res.clientId,
        name: adhoc.name || `Ad-hoc app`,
        clientType: 'public',
        tokenEndpointAuthMethod: 'none',
        launchUrl: adhoc.launchUrl,
        redirectUris: [adhoc.redirectUri],
        scope: '',
        pkceRequired: true,
      };
      setClients((list) => [registered, ...list]);
      setClientId(res.clientId);
      setMessage(`Registered as public client ${res.clientId}.`);
    });
  }

  function launch() {
    setMessage(null);
    setShareUrl(null);
    setDemoRun(null);
    startTransition(async () => {
      const res = await startLaunchAction(config());
      setResult(res);
      if (!res.ok) return;
      // The demo client's key is the sandbox's: run it right away, with this launch armed.
      if (res.kind === 'backend' && res.clientId === BACKEND_DEMO) setDemoRun(await runBackendDemoAction({ scope }));
      if (res.kind === 'ehr') window.location.assign(res.frameUrl ?? res.appUrl);
      else if (res.kind === 'standalone' && res.appUrl) window.location.assign(res.appUrl);
    });
  }

  function share() {
    startTransition(async () => {
      const res = await createShareLinkAction(config());
      if (res.ok) setShareUrl(res.url);
      else setMessage(res.error);
    });
  }

  const summary = `${type.label} of ${app?.name ?? clientId} · ${chosen.length === 0 ? 'no patient' : `${chosen.length} ${chosen.length === 1 ? 'patient' : 'patients'}: ${patientNames(chosen)}`}`;
  const canLaunch =
    clientId !== ADHOC && scopeCheck.errors.length === 0 && (!(launchType === 'provider-ehr' || launchType === 'patient-portal') || patientId !== null);

  return (
    <div className="launcher">
      <ScenarioPanel scenarios={props.scenarios} loaded={props.scenario} fromShare={props.fromShare} currentConfig={config} />
      <section className="card" aria-labelledby="app-h">
        <h2 id="app-h">1. App</h2>
        <label>
          App{' '}
          <select value={clientId} onChange={(e) => setClientId(e.target.value)} aria-label="App">
            {clients
              .filter((c) => (launchType === 'backend-service' ? c.clientType === 'backend' : c.clientType !== 'backend'))
              .map((c) => (
                <option key={c.clientId} value={c.clientId}>
                  {c.name} ({c.clientId})
                </option>
              ))}
            <option value={ADHOC}>Ad-hoc app (launch URL + redirect URI)…</option>
          </select>
        </label>
        {app ? (
          <LaunchUrlEditor app={app} onSaved={(launchUrl) => setClients((list) => list.map((c) => (c.clientId === app.clientId ? { ...c, launchUrl } : c)))} />
        ) : null}
        {clientId === ADHOC ? (
          <div className="row">
            <label>
              Name
              <input value={adhoc.name} onChange={(e) => setAdhoc({ ...adhoc, name: e.target.value })} placeholder="My app" />
            </label>
            <label>
              Launch URL
              <input
                value={adhoc.launchUrl}
                onChange={(e) => setAdhoc({ ...adhoc, launchUrl: e.target.value })}
                placeholder="http://localhost:5173/launch"
                size={34}
              />
            </label>
            <label>
              Redirect URI
              <input
                value={adhoc.redirectUri}
                onChange={(e) => setAdhoc({ ...adhoc, redirectUri: e.target.value })}
                placeholder="http://localhost:5173/"
                size={34}
              />
            </label>
            <button type="button" onClick={registerAdhoc} disabled={pending}>
              Register
            </button>
          </div>
        ) : null}
      </section>

      <section className="card" aria-labelledby="type-h">
        <h2 id="type-h">2. Launch type</h2>
        <div className="choices" role="radiogroup" aria-labelledby="type-h">
          {LAUNCH_TYPE_IDS.map((id) => (
            <label key={id} className={id === launchType ? 'choice selected' : 'choice'}>
              <input type="radio" name="launchType" value={id} checked={id === launchType} onChange={() => chooseLaunchType(id)} /> {LAUNCH_TYPES[id].label}
            </label>
          ))}
        </div>
      </section>

      <section className="card" aria-labelledby="patient-h">
        <h2 id="patient-h">3. {multiple ? 'Patients' : 'Patient'}</h2>
        {allowsPatientList(launchType) ? (
          <div className="choices">
            <label>
              <input type="checkbox" checked={severalPatients} onChange={(e) => chooseSeveralPatients(e.target.checked)} /> Several patients (population app)
            </label>
          </div>
        ) : null}
        <form className="row" onSubmit={runSearch} role="search">
          <label>
            Name
            <input value={search.name} onChange={(e) => setSearch({ ...search, name: e.target.value })} aria-label="Patient name" placeholder="e.g. smith" />
          </label>
          <label>
            Birth date
            <input value={search.birthdate} onChange={(e) => setSearch({ ...search, birthdate: e.target.value })} placeholder="YYYY-MM-DD" size={11} />
          </label>
          <label>
            Identifier
            <input value={search.identifier} onChange={(e) => setSearch({ ...search, identifier: e.target.value })} placeholder="MRN…" size={14} />
          </label>
          <label>
            Sex
            <select value={search.gender} onChange={(e) => setSearch({ ...search, gender: e.target.value })}>
              <option value="">any</option>
              <option value="female">female</option>
              <option value="male">male</option>
              <option value="other">other</option>
              <option value="unknown">unknown</option>
            </select>
          </label>
          <label>
            Age
            <span className="row tight">
              <input
                value={search.minAge}
                onChange={(e) => setSearch({ ...search, minAge: e.target.value })}
                size={3}
                aria-label="Minimum age"
                inputMode="numeric"
              />
              –
              <input
                value={search.maxAge}
                onChange={(e) => setSearch({ ...search, maxAge: e.target.value })}
                size={3}
                aria-label="Maximum age"
                inputMode="numeric"
              />
            </span>
          </label>
          <label>
            Condition
            <input value={search.condition} onChange={(e) => setSearch({ ...search, condition: e.target.value })} placeholder="diabetes" size={12} />
          </label>
          <button type="submit" disabled={pending}>
            Search
          </button>
        </form>
        <div className="picker" role="listbox" aria-label="Patients" aria-multiselectable={multiple}>
          {patients.length === 0 ? <p className="muted">No patient matches.</p> : null}
          {patients.map((p) => (
            <button
              type="button"
              role="option"
              aria-selected={chosen.some((c) => c.id === p.id)}
              key={p.id}
              className={chosen.some((c) => c.id === p.id) ? 'pick selected' : 'pick'}
              onClick={() => choosePatient(p)}
              data-patient-id={p.id}
            >
              <span className="patient-name">{p.name}</span>
              <span className="muted">
                {p.gender ?? '?'} · {p.birthDate ?? '?'}
                {p.mrn ? ` · ${p.mrn}` : ''}
                {p.deceased ? ' · deceased' : ''}
              </span>
            </button>
          ))}
        </div>
        {multiple ? (
          <div data-testid="selected-patients">
            <h3>Selected patients ({chosen.length})</h3>
            {chosen.length === 0 ? <p className="muted">Pick patients in the list; the first is the patient in context.</p> : null}
            <ul aria-label="Selected patients">
              {chosen.map((p, i) => (
                <li key={p.id}>
                  <span className="patient-name">{p.name}</span>
                  {i === 0 ? <span className="muted"> (in context)</span> : null}{' '}
                  <button type="button" className="secondary" onClick={() => removePatient(p.id)} aria-label={`Remove ${p.name}`}>
                    Remove
                  </button>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        {preview ? (
          <PatientCard preview={preview} />
        ) : patientId ? (
          <p className="muted">Loading patient…</p>
        ) : (
          <p className="muted">No patient selected{type.launch ? ' (an EHR launch needs one)' : type.user ? ': the app will ask' : ''}.</p>
        )}
        {patientId ? (
          <div className="row">
            <label>
              Encounter
              <select
                aria-label="Encounter"
                value={encounter.mode === 'id' ? encounter.id : encounter.mode}
                onChange={(e) => {
                  const v = e.target.value;
                  setEncounter(v === 'none' || v === 'latest' ? { mode: v } : { mode: 'id', id: v });
                }}
              >
                <option value="none">None</option>
                <option value="latest">Latest encounter</option>
                {(preview?.encounters ?? []).map((enc) => (
                  <option key={enc.id} value={enc.id}>
                    {enc.start?.slice(0, 10) ?? '????'} · {enc.description} {enc.classLabel ? `(${enc.classLabel})` : ''}
                  </option>
                ))}
              </select>
            </label>
          </div>
        ) : null}
      </section>

      {type.user ? (
        <section className="card" aria-labelledby="user-h">
          <h2 id="user-h">4. User</h2>
          <label>
            Signed-in user{' '}
            <select aria-label="User" value={userFhirUser} onChange={(e) => setUserFhirUser(e.target.value)}>
              <option value="">Let the user sign in</option>
              {type.user === 'practitioner' || launchType === 'provider-standalone' ? (
                <optgroup label="Practitioners">
                  {props.practitioners.map((p) => (
                    <option key={p.id} value={`Practitioner/${p.id}`}>
                      {p.name} {p.npi ? `(NPI ${p.npi})` : ''}
                    </option>
                  ))}
                </optgroup>
              ) : null}
              {type.user === 'patient' ? (
                <optgroup label="Patients">
                  {patientId && !props.patientPersonas.some((p) => p.id === patientId) ? (
                    <option value={`Patient/${patientId}`}>{preview?.banner.name ?? patientId} (selected patient)</option>
                  ) : null}
                  {props.patientPersonas.map((p) => (
                    <option key={p.id} value={p.fhirUser}>
                      {p.name}
                    </option>
                  ))}
                </optgroup>
              ) : null}
            </select>
          </label>
        </section>
      ) : null}

      <section className="card" aria-labelledby="scope-h">
        <h2 id="scope-h">{type.user ? '5' : '4'}. Scopes</h2>
        <div className="row">
          <label>
            Preset{' '}
            <select
              aria-label="Scope preset"
              value={SCOPE_PRESETS.find((p) => p.scope === scope)?.id ?? ''}
              onChange={(e) => setScope(presetScope(e.target.value))}
            >
              <option value="">Custom</option>
              {SCOPE_PRESETS.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.label}
                </option>
              ))}
            </select>
          </label>
        </div>
        <textarea
          aria-label="Scopes"
          className="scopes"
          rows={3}
          value={scope}
          onChange={(e) => setScope(e.target.value)}
          spellCheck={false}
          aria-invalid={scopeCheck.errors.length > 0}
        />
        {scopeCheck.errors.length ? (
          <ul className="error" role="alert">
            {scopeCheck.errors.map((e) => (
              <li key={e.scope}>{e.reason}</li>
            ))}
          </ul>
        ) : (
          <p className="ok">{scopeCheck.scopes.length} valid scopes.</p>
        )}
        <p className="muted">The sample app requests these scopes. Your own app sends its own scope parameter.</p>
      </section>

      <section className="card" aria-labelledby="opt-h">
        <h2 id="opt-h">Options</h2>
        <div className="choices">
          {type.launch ? (
            <label>
              <input type="checkbox" checked={framed} onChange={(e) => setFramed(e.target.checked)} /> Open inside the EHR frame
            </label>
          ) : null}
          <label>
            <input type="checkbox" checked={skipLogin} onChange={(e) => setSkipLogin(e.target.checked)} /> Skip sign-in (the user above is already signed in)
          </label>
          <label>
            <input type="checkbox" checked={skipConsent} onChange={(e) => setSkipConsent(e.target.checked)} /> Skip consent (approve all requested scopes)
          </label>
          <label>
            <input type="checkbox" checked={pkceRequired} onChange={(e) => setPkceRequired(e.target.checked)} /> PKCE required (untick for legacy SMART v1
            confidential apps)
          </label>
          <label>
            Access token lifetime (s){' '}
            <input value={tokenLifetime} onChange={(e) => setTokenLifetime(e.target.value)} placeholder="default" size={7} inputMode="numeric" />
          </label>
        </div>
        <h3>Simulated error</h3>
        <div className="row">
          <select
            aria-label="Simulated error"
            value={simulatedError?.kind ?? ''}
            onChange={(e) => setSimulatedError(e.target.value ? defaultSimulatedError(e.target.value as SimulatedErrorKind) : null)}
          >
            <option value="">None</option>
            {offeredErrors.map((k) => (
              <option key={k} value={k}>
                {SIMULATED_ERRORS[k].label}
              </option>
            ))}
          </select>
          {simulatedError?.kind === 'token_expires_soon' ? (
            <label>
              N ={' '}
              <input
                type="number"
                min={1}
                max={3600}
                value={simulatedError.seconds}
                onChange={(e) => setSimulatedError({ kind: 'token_expires_soon', seconds: Math.max(1, Number(e.target.value) || 1) })}
              />{' '}
              s
            </label>
          ) : null}
          {simulatedError && 'retryAfterSeconds' in simulatedError ? (
            <label>
              Retry-After{' '}
              <input
                type="number"
                min={1}
                max={3600}
                value={simulatedError.retryAfterSeconds}
                onChange={(e) => setSimulatedError({ kind: simulatedError.kind, retryAfterSeconds: Math.max(1, Number(e.target.value) || 1) })}
              />{' '}
              s
            </label>
          ) : null}
        </div>
        {simulatedError ? <p className="muted">{SIMULATED_ERRORS[simulatedError.kind].effect}</p> : null}
      </section>

      <p className="muted" data-testid="launch-summary">
        {summary}
      </p>
      <div className="actions sticky">
        <button type="button" className="big" onClick={launch} disabled={pending || !canLaunch}>
          {launchType === 'backend-service' ? (clientId === BACKEND_DEMO ? 'Run backend demo' : 'Show backend instructions') : 'Launch'}
        </button>
        <button type="button" className="secondary" onClick={share} disabled={pending || clientId === ADHOC}>
          Share link
        </button>
        {shareUrl ? (
          <span>
            Share: <a href={shareUrl}>{shareUrl}</a>
          </span>
        ) : null}
        {message ? <span className="muted">{message}</span> : null}
      </div>
      {result && !result.ok ? (
        <p className="error" role="alert">
          {result.error}
        </p>
      ) : null}
      {result && result.ok && result.kind === 'standalone' && !result.appUrl ? (
        <div className="card">
          <h2>Standalone launch ready</h2>
          <p>
            Open your app and point it at the FHIR base <code>{result.fhirBase}</code>. Its next authorization uses these options.
          </p>
        </div>
      ) : null}
      {demoRun ? <BackendDemoSteps run={demoRun} /> : null}
      {result && result.ok && result.kind === 'backend' && result.clientId !== BACKEND_DEMO ? (
        <BackendInstructions result={result} scope={scope} patients={chosen} />
      ) : null}
    </div>
  );
}
