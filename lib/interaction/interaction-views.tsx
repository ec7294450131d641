import type { ReactElement, ReactNode } from 'react';
import type { EncounterSummary, PatientSummary } from '../fhir/patient-directory';
import type { ConsentItem, ConsentModel } from './consent';
import type { InteractionDetails } from './interaction-port';
import type { Persona } from './personas';
import { PERSONA_PASSWORD } from './personas';
import type { PersonaSession } from './session';
import { currentSandbox } from '../sandbox/context';

/** The interaction screens, rendered by lib/http/html.tsx with React: every value is escaped by React. */

const base = (id: string) => `${currentSandbox().basePath}/interaction/${encodeURIComponent(id)}`;

function PatientLine({ patient: p }: { patient: PatientSummary }): ReactElement {
  return (
    <>
      {p.name}{' '}
      <span className="muted">
        · {p.gender ?? 'unknown sex'} · born {p.birthDate ?? 'unknown'}
        {p.mrn ? ` · MRN ${p.mrn}` : null}
      </span>
    </>
  );
}

/** Header right side: who is signed in, and a form to switch user. */
export function whoHeader(interactionId: string, session: PersonaSession | null, logoutCsrf: string | null): ReactElement {
  if (!session || !logoutCsrf) return <span>Not signed in</span>;
  return (
    <>
      <span>
        Signed in as <strong>{session.name}</strong> ({session.fhirUser})
      </span>
      <form method="post" action={`${base(interactionId)}/logout`}>
        <input type="hidden" name="csrf" value={logoutCsrf} />
        <button className="link" type="submit">
          Switch user
        </button>
      </form>
    </>
  );
}

function AppIntro({ interaction }: { interaction: InteractionDetails }): ReactElement {
  return (
    <p className="muted">
      The app <strong>{interaction.clientName}</strong> <code>({interaction.clientId})</code> is asking for access.
    </p>
  );
}

function Problem({ message }: { message: string | null }): ReactNode {
  return message ? (
    <p className="error" role="alert">
      {message}
    </p>
  ) : null;
}

export interface LoginViewInput {
  readonly interaction: InteractionDetails;
  readonly personas: readonly Persona[];
  readonly launchUser: Persona | null;
  readonly csrf: string;
  readonly error: string | null;
  readonly username: string;
}

function PersonaButton({ id, csrf, persona, note }: { id: string; csrf: string; persona: Persona; note?: string }): ReactElement {
  return (
    <form method="post" action={`${base(id)}/login`}>
      <input type="hidden" name="csrf" value={csrf} />
      <input type="hidden" name="persona" value={persona.fhirUser} />
      <button className="persona" type="submit" data-persona={persona.fhirUser}>
        <strong>{persona.name}</strong>
        <span>{note ?? persona.detail}</span>
        <span>username: {persona.username}</span>
      </button>
    </form>
  );
}

/** Sign-in: one-click personas and a username/password form. */
export function loginView(input: LoginViewInput): ReactElement {
  const { interaction, csrf } = input;
  const practitioners = input.personas.filter((p) => p.kind === 'practitioner');
  const patients = input.personas.filter((p) => p.kind === 'patient');
  const proxies = input.personas.filter((p) => p.kind === 'related-person');
  const patientFirst = interaction.options.launchType === 'patient-standalone' || interaction.options.launchType === 'patient-portal';
  const group = (title: string, list: readonly Persona[]) =>
    list.length ? (
      <>
        <h2>{title}</h2>
        <div className="personas">
          {list.map((p) => (
            <PersonaButton key={p.fhirUser} id={interaction.id} csrf={csrf} persona={p} />
          ))}
        </div>
      </>
    ) : null;
  const groups = patientFirst
    ? [group('Patients', patients), group('Parents and guardians (proxies)', proxies), group('Practitioners', practitioners)]
    : [group('Practitioners', practitioners), group('Patients', patients), group('Parents and guardians (proxies)', proxies)];
  return (
    <>
      <h1>Sign in</h1>
      <AppIntro interaction={interaction} />
      <Problem message={input.error} />
      {input.launchUser ? (
        <div className="card">
          <h2>EHR user of this launch</h2>
          <div className="personas">
            <PersonaButton id={interaction.id} csrf={csrf} persona={input.launchUser} note="Continue as the launching user" />
          </div>
        </div>
      ) : null}
      <div className="card">
        <p className="muted">
          Sandbox personas are the synthetic practitioners, patients and patients&apos; parents of this sandbox. No real PHI: every persona uses the password{' '}
          <code>{PERSONA_PASSWORD}</code>.
        </p>
        {groups[0]}
        {groups[1]}
        {groups[2]}
      </div>
      <div className="card">
        <h2>Username and password</h2>
        <form method="post" action={`${base(interaction.id)}/login`} className="row">
          <input type="hidden" name="csrf" value={csrf} />
          <label>
            Username
            <br />
            <input name="username" autoComplete="username" required defaultValue={input.username} placeholder="first.last or resource id" />
          </label>
          <label>
            Password
            <br />
            <input name="password" type="password" autoComplete="current-password" required />
          </label>
          <button type="submit">Sign in</button>
        </form>
        <p className="muted">
          Usernames are <code>first.last</code> in lower case (e.g. <code>{practitioners[0]?.username ?? 'jane.doe'}</code>); any persona’s FHIR id (
          <code>Patient/…</code>) works too.
        </p>
      </div>
    </>
  );
}

export interface ConfirmUserInput {
  readonly interaction: InteractionDetails;
  readonly session: PersonaSession;
  readonly loginCsrf: string;
  readonly logoutCsrf: string;
}

/**
 * A patient launch met a practitioner who was already signed in (an earlier EHR launch in this
 * browser): say who is signed in, and make switching the obvious choice.
 */
export function confirmUserView(input: ConfirmUserInput): ReactElement {
  const { interaction, session } = input;
  return (
    <>
      <h1>Who is signing in?</h1>
      <AppIntro interaction={interaction} />
      <div className="card" data-testid="signed-in-as">
        <p>
          You are already signed in as <strong>{session.name}</strong> ({session.fhirUser}), a practitioner. This is a <strong>patient</strong> launch: the app
          expects a patient to sign in and share their own record.
        </p>
        <div className="actions">
          <form method="post" action={`${base(interaction.id)}/logout`}>
            <input type="hidden" name="csrf" value={input.logoutCsrf} />
            <button type="submit">Sign in as a patient</button>
          </form>
          <form method="post" action={`${base(interaction.id)}/login`}>
            <input type="hidden" name="csrf" value={input.loginCsrf} />
            <input type="hidden" name="persona" value={session.fhirUser} />
            <button type="submit" className="secondary">
              Continue as {session.name}
            </button>
          </form>
        </div>
      </div>
    </>
  );
}

export interface PatientPickerInput {
  readonly interaction: InteractionDetails;
  readonly query: { name: string; birthdate: string; identifier: string };
  readonly results: readonly PatientSummary[];
  readonly searched: boolean;
  readonly error: string | null;
}

/** Patient picker for practitioners (launch/patient without a patient in context, docs/CONFORMANCE.md #48). */
export function patientPickerView(input: PatientPickerInput): ReactElement {
  const { interaction, query } = input;
  const select = (p: PatientSummary) => `${base(interaction.id)}?patient=${encodeURIComponent(p.id)}`;
  return (
    <>
      <h1>Choose a patient</h1>
      <AppIntro interaction={interaction} />
      <Problem message={input.error} />
      <div className="card">
        <form method="get" action={base(interaction.id)} className="row" role="search">
          <label>
            Name
            <br />
            <input name="name" defaultValue={query.name} placeholder="e.g. smith" />
          </label>
          <label>
            Birth date
            <br />
            <input name="birthdate" defaultValue={query.birthdate} placeholder="YYYY-MM-DD" pattern={'\\d{4}(-\\d{2}(-\\d{2})?)?'} />
          </label>
          <label>
            Identifier (MRN)
            <br />
            <input name="identifier" defaultValue={query.identifier} />
          </label>
          <button type="submit">Search</button>
        </form>
      </div>
      <div className="card">
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                <th>Patient</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {input.results.length === 0 ? (
                <tr>
                  <td colSpan={2} className="muted">
                    {input.searched ? 'No patient matches.' : 'No patients in this sandbox.'}
                  </td>
                </tr>
              ) : null}
              {input.results.map((p) => (
                <tr key={p.id}>
                  <td className="patient-name">
                    <PatientLine patient={p} />
                  </td>
                  <td>
                    <a className="button" href={select(p)} aria-label={`Select ${p.name}`}>
                      Select
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </>
  );
}

export interface EncounterPickerInput {
  readonly interaction: InteractionDetails;
  readonly patient: PatientSummary;
  readonly encounters: readonly EncounterSummary[];
}

/** Encounter picker (launch/encounter without an encounter in context). */
export function encounterPickerView(input: EncounterPickerInput): ReactElement {
  const { interaction, patient } = input;
  const link = (enc: string) => `${base(interaction.id)}?patient=${encodeURIComponent(patient.id)}&encounter=${encodeURIComponent(enc)}`;
  return (
    <>
      <h1>Choose an encounter</h1>
      <AppIntro interaction={interaction} />
      <p>
        Patient: <PatientLine patient={patient} />
      </p>
      <div className="card">
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                <th>Date</th>
                <th>Encounter</th>
                <th>Status</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {input.encounters.length === 0 ? (
                <tr>
                  <td colSpan={4} className="muted">
                    This patient has no encounters.
                  </td>
                </tr>
              ) : null}
              {input.encounters.map((e) => (
                <tr key={e.id}>
                  <td>{e.start?.slice(0, 10) ?? ''}</td>
                  <td>
                    {e.description}
                    {e.classLabel ? (
                      <>
                        {' '}
                        <span className="muted">({e.classLabel})</span>
                      </>
                    ) : null}
                  </td>
                  <td>{e.status ?? ''}</td>
                  <td>
                    <a className="button" href={link(e.id)}>
                      Select
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p>
          <a className="button secondary" href={link('none')}>
            Continue without an encounter
          </a>
        </p>
      </div>
    </>
  );
}

export interface ConsentViewInput {
  readonly interaction: InteractionDetails;
  readonly session: PersonaSession;
  readonly model: ConsentModel;
  readonly patient: PatientSummary | null;
  readonly encounter: EncounterSummary | null;
  readonly csrf: string;
}

/**
 * The category alternatives of a whole-type scope, drawn from the consent model's list for the
 * type (lib/interaction/consent.ts): all data, or only the ticked categories.
 */
function CategoryChoice({ item }: { item: ConsentItem }): ReactNode {
  if (!item.categories.length) return null;
  return (
    <div className="cats">
      <label>
        <input type="radio" name={`mode.${item.key}`} value="all" defaultChecked /> All {item.resourceType} data
      </label>
      <label>
        <input type="radio" name={`mode.${item.key}`} value="categories" /> Only these categories:
      </label>
      <br />
      {item.categories.map((c) => (
        <label key={c.value}>
          <input type="checkbox" name={`cat.${item.key}`} value={c.value} /> {c.label}
        </label>
      ))}
    </div>
  );
}

/** One requested scope in plain language, with its box (unticked = not granted) and category choice. */
function ConsentScope({ item }: { item: ConsentItem }): ReactElement {
  return (
    <div className="scope" data-scope={item.scope}>
      {item.removable ? (
        <input type="checkbox" name={`keep.${item.key}`} id={`keep.${item.key}`} defaultChecked aria-describedby={`explain.${item.key}`} />
      ) : (
        <input type="checkbox" disabled defaultChecked aria-label="always included" />
      )}
      <div>
        <label htmlFor={`keep.${item.key}`} id={`explain.${item.key}`}>
          {item.explanation}
        </label>
        <code>{item.scope}</code>
        <CategoryChoice item={item} />
      </div>
    </div>
  );
}

/** Consent: each scope in plain language, untick resource types, category alternatives, offline_access warning (docs/CONFORMANCE.md #47). */
export function consentView(input: ConsentViewInput): ReactElement {
  const { interaction, model, csrf } = input;
  return (
    <>
      <h1>Allow {interaction.clientName}?</h1>
      <p className="muted">
        Signed in as <strong>{input.session.name}</strong>.
        {input.patient ? (
          <>
            {' '}
            Patient: <strong className="patient-name">{input.patient.name}</strong> (born {input.patient.birthDate ?? 'unknown'}).
          </>
        ) : null}
        {input.encounter ? ` Encounter: ${input.encounter.description}, ${input.encounter.start?.slice(0, 10) ?? ''}.` : null}
      </p>
      {model.offlineAccess ? (
        <div className="warn" role="note">
          <strong>Long-lived access.</strong> This app asks for <code>offline_access</code>: it will keep access to the data you allow after you close it or
          sign out, until you revoke it.
        </div>
      ) : null}
      {model.onlineAccess && !model.offlineAccess ? (
        <div className="warn" role="note">
          This app asks for <code>online_access</code>: it keeps access while you stay signed in.
        </div>
      ) : null}
      <form method="post" action={`${base(interaction.id)}/consent`}>
        <input type="hidden" name="csrf" value={csrf} />
        <input type="hidden" name="patient" value={input.patient?.id ?? ''} />
        <input type="hidden" name="encounter" value={input.encounter?.id ?? (interaction.needsEncounter ? 'none' : '')} />
        <div className="card">
          <h2>The app will be able to</h2>
          {model.items.map((item) => (
            <ConsentScope key={item.key} item={item} />
          ))}
        </div>
        {interaction.droppedScopes.length ? (
          <div className="card">
            <h2>Not available to this app</h2>
            <ul>
              {interaction.droppedScopes.map((d) => (
                <li key={d.scope}>
                  <code>{d.scope}</code>: <span className="muted">{d.reason}</span>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        <p className="muted">Untick what you do not want to share. For observations and conditions you can share only some categories.</p>
        <div className="actions">
          <button type="submit" name="decision" value="allow">
            Allow
          </button>
          <button type="submit" name="decision" value="deny" className="danger">
            Deny
          </button>
        </div>
      </form>
    </>
  );
}

/** An error page (unknown or expired interaction, refused context). */
export function errorView(title: string, message: string): ReactElement {
  return (
    <>
      <h1>{title}</h1>
      <div className="card">
        <p>{message}</p>
        <p className="muted">Go back to the app and start again.</p>
      </div>
    </>
  );
}
