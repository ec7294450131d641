import { describe, expect, it } from 'vitest';
import { htmlPage } from '../http/html';
import { DEFAULT_LAUNCH_OPTIONS } from '../launch-options/options';
import { buildConsentModel } from './consent';
import type { ConsentModel } from './consent';
import type { InteractionDetails } from './interaction-port';
import { consentView, encounterPickerView, errorView, loginView, patientPickerView, whoHeader } from './interaction-views';
import type { Persona } from './personas';

// Markup, quotes and entity-looking text in every value a screen shows: names come from FHIR
// resources and client registrations, which anyone with a token or the registration endpoint writes.
const HOSTILE = `<script>alert("x")</script>"'><img src=x onerror=alert(1)> O'Brien & Sons &amp;`;
const ESCAPED_TEXT = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&quot;&#x27;&gt;&lt;img src=x onerror=alert(1)&gt; O&#x27;Brien &amp; Sons &amp;amp;';

const interaction: InteractionDetails = {
  id: 'abcdefgh12345678',
  createdAt: new Date('2026-03-15T12:00:00Z'),
  clientId: `client-${HOSTILE}`,
  clientName: HOSTILE,
  requestedScope: 'launch/patient openid fhirUser patient/Observation.rs offline_access',
  droppedScopes: [{ scope: `patient/${HOSTILE}.rs`, reason: HOSTILE }],
  launchId: null,
  patientId: null,
  encounterId: null,
  userFhirUser: null,
  options: DEFAULT_LAUNCH_OPTIONS,
  needsPatient: true,
  needsEncounter: false,
};
const persona: Persona = { kind: 'patient', id: 'p1', fhirUser: 'Patient/p1', name: HOSTILE, username: HOSTILE, detail: HOSTILE };
const patient = { id: 'p1', name: HOSTILE, birthDate: '1970-01-01', gender: HOSTILE, mrn: HOSTILE, deceased: false };
const session = { kind: 'practitioner' as const, fhirUser: 'Practitioner/d1' as const, name: HOSTILE, sid: 's' };

async function render(body: Parameters<typeof htmlPage>[0]): Promise<string> {
  return (await htmlPage(body, { title: HOSTILE, header: whoHeader(interaction.id, session, HOSTILE) }).text()).replace(/<style>[\s\S]*?<\/style>/, '');
}

/** Every occurrence of the hostile value is the escaped text: no element, attribute or quote of it survives. */
function expectInert(page: string): void {
  expect(page).toContain(ESCAPED_TEXT);
  const rest = page.split(ESCAPED_TEXT).join('');
  expect(rest).not.toMatch(/<script|<img|onerror|Brien/i);
}

describe('interaction screens render hostile names, client names and scopes as text', () => {
  it('sign-in: persona names, usernames, client name, typed username', async () => {
    const page = await render(loginView({ interaction, personas: [persona], launchUser: persona, csrf: HOSTILE, error: HOSTILE, username: HOSTILE }));
    expectInert(page);
    expect(page).toContain(`<strong>${ESCAPED_TEXT}</strong>`);
    expect(page).toContain(`<span>username: ${ESCAPED_TEXT}</span>`);
    expect(page).toContain(`<p class="error" role="alert">${ESCAPED_TEXT}</p>`);
    expect(page).toContain(`placeholder="first.last or resource id" name="username" value="${ESCAPED_TEXT}"/>`);
    expect(page).toContain(`<input type="hidden" name="csrf" value="${ESCAPED_TEXT}"/>`);
    expect(page).toContain(`<title>${ESCAPED_TEXT} · SMART Sandbox</title>`);
  });

  it('pickers: patient names, gender, MRN and the search fields', async () => {
    const picker = await render(
      patientPickerView({ interaction, query: { name: HOSTILE, birthdate: HOSTILE, identifier: HOSTILE }, results: [patient], searched: true, error: HOSTILE }),
    );
    expectInert(picker);
    expect(picker).toContain(`aria-label="Select ${ESCAPED_TEXT}"`);
    expect(picker).toContain(
      `<td class="patient-name">${ESCAPED_TEXT} <span class="muted">· ${ESCAPED_TEXT} · born 1970-01-01 · MRN ${ESCAPED_TEXT}</span></td>`,
    );
    const encounters = await render(
      encounterPickerView({
        interaction,
        patient,
        encounters: [{ id: 'e1', status: HOSTILE, start: HOSTILE, end: null, classLabel: HOSTILE, description: HOSTILE }],
      }),
    );
    expectInert(encounters);
    expect(encounters).toContain(`<td>${ESCAPED_TEXT} <span class="muted">(${ESCAPED_TEXT})</span></td>`);
  });

  it('consent: client name, scopes, explanations, category labels, dropped scopes and their reasons', async () => {
    const real = buildConsentModel(interaction.requestedScope);
    const model: ConsentModel = {
      ...real,
      items: real.items.map((item) => ({
        ...item,
        scope: `${item.scope}${HOSTILE}`,
        explanation: HOSTILE,
        categories: item.categories.map(() => ({ value: HOSTILE, label: HOSTILE })),
      })),
    };
    const page = await render(consentView({ interaction, session, model, patient, encounter: null, csrf: 'c' }));
    expectInert(page);
    expect(page).toContain(`<h1>Allow ${ESCAPED_TEXT}?</h1>`);
    expect(page).toContain(`data-scope="patient/Observation.rs${ESCAPED_TEXT}"`);
    expect(page).toContain(`<input type="checkbox" name="cat.3" value="${ESCAPED_TEXT}"/> ${ESCAPED_TEXT}</label>`);
    expect(page).toContain(`<li><code>patient/${ESCAPED_TEXT}.rs</code>: <span class="muted">${ESCAPED_TEXT}</span></li>`);
    expect(page).toContain(`Patient: <strong class="patient-name">${ESCAPED_TEXT}</strong> (born 1970-01-01).`);
    expect(page).toContain('<strong>Long-lived access.</strong>');
  });

  it('error pages', async () => {
    const page = await render(errorView(HOSTILE, HOSTILE));
    expectInert(page);
    expect(page).toContain(`<h1>${ESCAPED_TEXT}</h1><div class="card"><p>${ESCAPED_TEXT}</p>`);
  });
});
