import type { EncounterSummary, PatientSummary } from '../fhir/patient-directory';
import type { ConsentModel } from './consent';
import { html } from '../http/html';
import type { SafeHtml } from '../http/html';
import type { InteractionDetails } from './interaction-port';
import type { Persona } from './personas';
import { PERSONA_PASSWORD } from './personas';
import type { PersonaSession } from './session';

/** The HTML of the interaction screens (escaped by construction, see lib/http/html.ts). */

const base = (id: string) => `/interaction/${encodeURIComponent(id)}`;

function patientLine(p: PatientSummary): SafeHtml {
  return html`${p.name} <span class="muted">· ${p.gender ?? 'unknown sex'} · born ${p.birthDate ?? 'unknown'}${p.mrn ? html` · MRN ${p.mrn}` : ''}</span>`;
}

/** Header right side: who is signed in, and a form to switch user. */
export function whoHeader(interactionId: string, session: PersonaSession | null, logoutCsrf: string | null): SafeHtml {
  if (!session || !logoutCsrf) return html`<span>Not signed in</span>`;
  return html`<span>Signed in as <strong>${session.name}</strong> (${session.fhirUser})</span>
<form method="post" action="${base(interactionId)}/logout"><input type="hidden" name="csrf" value="${logoutCsrf}"><button class="link" type="submit">Switch user</button></form>`;
}

function appIntro(interaction: InteractionDetails): SafeHtml {
  return html`<p class="muted">The app <strong>${interaction.clientName}</strong> <code>(${interaction.clientId})</code> is asking for access.</p>`;
}

export interface LoginViewInput {
  readonly interaction: InteractionDetails;
  readonly personas: readonly Persona[];
  readonly launchUser: Persona | null;
  readonly csrf: string;
  readonly error: string | null;
  readonly username: string;
}

function personaButton(id: string, csrf: string, persona: Persona, note?: string): SafeHtml {
  return html`<form method="post" action="${base(id)}/login"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="persona" value="${persona.fhirUser}">
<button class="persona" type="submit" data-persona="${persona.fhirUser}"><strong>${persona.name}</strong><span>${note ?? persona.detail}</span><span>username: ${persona.username}</span></button></form>`;
}

/** Sign-in: one-click personas and a username/password form. */
export function loginView(input: LoginViewInput): SafeHtml {
  const { interaction, csrf } = input;
  const practitioners = input.personas.filter((p) => p.kind === 'practitioner');
  const patients = input.personas.filter((p) => p.kind === 'patient');
  const patientFirst = interaction.options.launchType === 'patient-standalone' || interaction.options.launchType === 'patient-portal';
  const group = (title: string, list: readonly Persona[]) =>
    list.length ? html`<h2>${title}</h2><div class="personas">${list.map((p) => personaButton(interaction.id, csrf, p))}</div>` : html``;
  return html`<h1>Sign in</h1>${appIntro(interaction)}
${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
${input.launchUser ? html`<div class="card"><h2>EHR user of this launch</h2><div class="personas">${personaButton(interaction.id, csrf, input.launchUser, 'Continue as the launching user')}</div></div>` : ''}
<div class="card">
<p class="muted">Sandbox personas are the synthetic practitioners and patients of this sandbox. No real PHI: every persona uses the password <code>${PERSONA_PASSWORD}</code>.</p>
${patientFirst ? [group('Patients', patients), group('Practitioners', practitioners)] : [group('Practitioners', practitioners), group('Patients', patients)]}
</div>
<div class="card"><h2>Username and password</h2>
<form method="post" action="${base(interaction.id)}/login" class="row">
<input type="hidden" name="csrf" value="${csrf}">
<label>Username<br><input name="username" autocomplete="username" required value="${input.username}" placeholder="first.last or resource id"></label>
<label>Password<br><input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>
<p class="muted">Usernames are <code>first.last</code> in lower case (e.g. <code>${practitioners[0]?.username ?? 'jane.doe'}</code>); any persona’s FHIR id (<code>Patient/…</code>) works too.</p></div>`;
}

export interface PatientPickerInput {
  readonly interaction: InteractionDetails;
  readonly query: { name: string; birthdate: string; identifier: string };
  readonly results: readonly PatientSummary[];
  readonly searched: boolean;
  readonly error: string | null;
}

/** Patient picker for practitioners (launch/patient without a patient in context, docs/CONFORMANCE.md #48). */
export function patientPickerView(input: PatientPickerInput): SafeHtml {
  const { interaction, query } = input;
  const select = (p: PatientSummary) => `${base(interaction.id)}?patient=${encodeURIComponent(p.id)}`;
  return html`<h1>Choose a patient</h1>${appIntro(interaction)}
${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
<div class="card"><form method="get" action="${base(interaction.id)}" class="row" role="search">
<label>Name<br><input name="name" value="${query.name}" placeholder="e.g. smith"></label>
<label>Birth date<br><input name="birthdate" value="${query.birthdate}" placeholder="YYYY-MM-DD" pattern="\\d{4}(-\\d{2}(-\\d{2})?)?"></label>
<label>Identifier (MRN)<br><input name="identifier" value="${query.identifier}"></label>
<button type="submit">Search</button></form></div>
<div class="card"><table><thead><tr><th>Patient</th><th></th></tr></thead><tbody>
${input.results.length === 0 ? html`<tr><td colspan="2" class="muted">${input.searched ? 'No patient matches.' : 'No patients in this sandbox.'}</td></tr>` : ''}
${input.results.map((p) => html`<tr><td class="patient-name">${patientLine(p)}</td><td><a class="button" href="${select(p)}" aria-label="Select ${p.name}">Select</a></td></tr>`)}
</tbody></table></div>`;
}

export interface EncounterPickerInput {
  readonly interaction: InteractionDetails;
  readonly patient: PatientSummary;
  readonly encounters: readonly EncounterSummary[];
}

/** Encounter picker (launch/encounter without an encounter in context). */
export function encounterPickerView(input: EncounterPickerInput): SafeHtml {
  const { interaction, patient } = input;
  const link = (enc: string) => `${base(interaction.id)}?patient=${encodeURIComponent(patient.id)}&encounter=${encodeURIComponent(enc)}`;
  return html`<h1>Choose an encounter</h1>${appIntro(interaction)}
<p>Patient: ${patientLine(patient)}</p>
<div class="card"><table><thead><tr><th>Date</th><th>Encounter</th><th>Status</th><th></th></tr></thead><tbody>
${input.encounters.length === 0 ? html`<tr><td colspan="4" class="muted">This patient has no encounters.</td></tr>` : ''}
${input.encounters.map((e) => html`<tr><td>${e.start?.slice(0, 10) ?? ''}</td><td>${e.description}${e.classLabel ? html` <span class="muted">(${e.classLabel})</span>` : ''}</td><td>${e.status ?? ''}</td><td><a class="button" href="${link(e.id)}">Select</a></td></tr>`)}
</tbody></table>
<p><a class="button secondary" href="${link('none')}">Continue without an encounter</a></p></div>`;
}

export interface ConsentViewInput {
  readonly interaction: InteractionDetails;
  readonly session: PersonaSession;
  readonly model: ConsentModel;
  readonly patient: PatientSummary | null;
  readonly encounter: EncounterSummary | null;
  readonly csrf: string;
}

/** Consent: each scope in plain language, untick resource types, category alternatives, offline_access warning (docs/CONFORMANCE.md #47). */
export function consentView(input: ConsentViewInput): SafeHtml {
  const { interaction, model, csrf } = input;
  const items = model.items.map((item) => {
    const box = item.removable
      ? html`<input type="checkbox" name="keep.${item.key}" id="keep.${item.key}" checked aria-describedby="explain.${item.key}">`
      : html`<input type="checkbox" checked disabled aria-label="always included">`;
    const cats = item.categories.length
      ? html`<div class="cats"><label><input type="radio" name="mode.${item.key}" value="all" checked> All ${item.resourceType} data</label>
<label><input type="radio" name="mode.${item.key}" value="categories"> Only these categories:</label><br>
${item.categories.map((c) => html`<label><input type="checkbox" name="cat.${item.key}" value="${c.value}"> ${c.label}</label>`)}</div>`
      : '';
    return html`<div class="scope" data-scope="${item.scope}">${box}<div><label for="keep.${item.key}" id="explain.${item.key}">${item.explanation}</label><code>${item.scope}</code>${cats}</div></div>`;
  });
  return html`<h1>Allow ${interaction.clientName}?</h1>
<p class="muted">Signed in as <strong>${input.session.name}</strong>.${input.patient ? html` Patient: <strong class="patient-name">${input.patient.name}</strong> (born ${input.patient.birthDate ?? 'unknown'}).` : ''}${input.encounter ? html` Encounter: ${input.encounter.description}, ${input.encounter.start?.slice(0, 10) ?? ''}.` : ''}</p>
${model.offlineAccess ? html`<div class="warn" role="note"><strong>Long-lived access.</strong> This app asks for <code>offline_access</code>: it will keep access to the data you allow after you close it or sign out, until you revoke it.</div>` : ''}
${model.onlineAccess && !model.offlineAccess ? html`<div class="warn" role="note">This app asks for <code>online_access</code>: it keeps access while you stay signed in.</div>` : ''}
<form method="post" action="${base(interaction.id)}/consent">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="patient" value="${input.patient?.id ?? ''}">
<input type="hidden" name="encounter" value="${input.encounter?.id ?? (interaction.needsEncounter ? 'none' : '')}">
<div class="card"><h2>The app will be able to</h2>${items}</div>
${interaction.droppedScopes.length ? html`<div class="card"><h2>Not available to this app</h2><ul>${interaction.droppedScopes.map((d) => html`<li><code>${d.scope}</code>: <span class="muted">${d.reason}</span></li>`)}</ul></div>` : ''}
<p class="muted">Untick what you do not want to share. For observations and conditions you can share only some categories.</p>
<div class="actions"><button type="submit" name="decision" value="allow">Allow</button><button type="submit" name="decision" value="deny" class="danger">Deny</button></div>
</form>`;
}

/** An error page (unknown or expired interaction, refused context). */
export function errorView(title: string, message: string): SafeHtml {
  return html`<h1>${title}</h1><div class="card"><p>${message}</p><p class="muted">Go back to the app and start again.</p></div>`;
}
