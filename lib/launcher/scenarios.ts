import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { getDb } from '../db';
import type { Db } from '../db';
import { isUniqueViolation } from '../db/errors';
import { findPatientSummary } from '../fhir/patient-directory';
import { currentSandbox } from '../sandbox/context';
import { launchConfig, launchConfigSchema } from './launch-config';
import type { LaunchConfig } from './launch-config';
import { sampleAppClientId } from './sample-app';
import { createShareLink, findShareLink, SHARE_CODE_PATTERN } from './share-links';

/**
 * Named scenarios: a launch configuration (app, launch type, patient, encounter, user, scopes,
 * options, simulated error) saved under a name and description, listed, edited, duplicated,
 * deleted and shared as a share link. Saved ones live in the Setting table, one row per scenario
 * and sandbox; the built-in teaching set is defined here and is read-only (duplicate one to change it).
 */

const PREFIX = 'launcher.scenario.';
const ID_PATTERN = /^[a-z0-9-]{3,64}$/;

export const scenarioInputSchema = z.object({
  name: z.string().trim().min(1, 'a name is required').max(120),
  description: z.string().trim().max(2000).default(''),
  config: launchConfigSchema,
});
export type ScenarioInput = z.input<typeof scenarioInputSchema>;

export interface Scenario {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly config: LaunchConfig;
  /** Part of the built-in teaching set: read-only. */
  readonly builtIn: boolean;
  readonly createdAt: string | null;
  readonly updatedAt: string | null;
}

/** A scenario as listed: whether its patients exist in this sandbox's dataset. */
export interface ListedScenario extends Scenario {
  readonly missingPatients: readonly string[];
}

export type ScenarioResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly status: 400 | 404 | 409; readonly error: string };

function ehrConfig(patientId: string, patch: Partial<LaunchConfig> = {}): LaunchConfig {
  return launchConfig(sampleAppClientId(), {
    launchType: 'provider-ehr',
    patientIds: [patientId],
    userFhirUser: 'Practitioner/practitioner-1',
    scope: 'launch openid fhirUser patient/*.rs offline_access',
    skipLogin: true,
    framed: true,
    ...patch,
  });
}

/** Ids and names of the built-in teaching set. */
export const BUILT_IN_SCENARIO_NAMES: readonly { readonly id: string; readonly name: string }[] = [
  { id: 'builtin-growth-chart', name: 'Pediatric growth chart' },
  { id: 'builtin-deceased', name: 'Deceased patient' },
  { id: 'builtin-no-data', name: 'Patient with no data' },
  { id: 'builtin-large-history', name: 'Large history (5,000 resources)' },
  { id: 'builtin-non-ascii', name: 'Non-ASCII names' },
  { id: 'builtin-proxy', name: 'Parent signs in for a child (proxy)' },
];

/** The built-in teaching set (patients and proxy personas of the edge-case roster, README "Synthetic patients"), for the current sandbox's sample app. */
export function builtInScenarios(): readonly Scenario[] {
  return BUILT_IN.map((s) => ({ ...s, config: s.config(), builtIn: true, createdAt: null, updatedAt: null }));
}

const BUILT_IN: readonly (Omit<Scenario, 'config' | 'builtIn' | 'createdAt' | 'updatedAt'> & { config: () => LaunchConfig })[] = [
  {
    id: 'builtin-growth-chart',
    name: 'Pediatric growth chart',
    description:
      'A 6-year-old with every well-child visit since birth: weight, length/height, head circumference and BMI-for-age percentiles on one growth channel. Does the app plot growth over time and use the percentile observations?',
    config: () => ehrConfig('roster-growth'),
  },
  {
    id: 'builtin-deceased',
    name: 'Deceased patient',
    description:
      'A 79-year-old whose last inpatient stay ended in death (deceasedDateTime set, nothing dated after it). Does the app say so, and avoid reminders or age computed to today?',
    config: () => ehrConfig('roster-deceased'),
  },
  {
    id: 'builtin-no-data',
    name: 'Patient with no data',
    description: 'A Patient resource and nothing else: every search comes back empty. Does the app show empty states rather than errors or spinners?',
    config: () => ehrConfig('roster-demographics-only'),
  },
  {
    id: 'builtin-large-history',
    name: 'Large history (5,000 resources)',
    description:
      'Twelve years of diabetes, CKD and hypertension care plus daily glucose readings: searches must follow next links instead of asking for everything with a huge _count.',
    config: () => ehrConfig('roster-paging'),
  },
  {
    id: 'builtin-non-ascii',
    name: 'Non-ASCII names',
    description:
      'Accented Latin letters and a second name in CJK script (Zoë Siân Ñúñez-Ødegård, 山田 花子). Does the app display, search and sort them correctly?',
    config: () => ehrConfig('roster-non-ascii'),
  },
  {
    id: 'builtin-proxy',
    name: 'Parent signs in for a child (proxy)',
    description:
      'A patient standalone launch where the mother of 6-year-old Mateo signs in as a related person (RelatedPerson/roster-growth-rp1, username RelatedPerson/roster-growth-rp1, password sandbox): the child is the patient context, fhirUser is the RelatedPerson. Does the app show who is acting for whom?',
    config: () => ({
      ...ehrConfig('roster-growth'),
      launchType: 'patient-standalone',
      patientIds: [],
      userFhirUser: null,
      skipLogin: false,
      framed: false,
      scope: 'launch/patient openid fhirUser patient/*.rs',
    }),
  },
];

function key(sandboxId: string, id: string): string {
  return `${PREFIX}${sandboxId}.${id}`;
}

function newId(): string {
  return `sc-${randomBytes(6).toString('hex')}`;
}

interface Stored {
  name: string;
  description: string;
  config: unknown;
  createdAt: string;
  updatedAt: string;
}

function fromRow(id: string, value: string): Scenario | null {
  try {
    const stored = JSON.parse(value) as Stored;
    const config = launchConfigSchema.safeParse(stored.config);
    if (!config.success) return null;
    return {
      id,
      name: String(stored.name),
      description: String(stored.description ?? ''),
      config: config.data,
      builtIn: false,
      createdAt: stored.createdAt ?? null,
      updatedAt: stored.updatedAt ?? null,
    };
  } catch {
    return null;
  }
}

function problemOf(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || 'scenario'}: ${issue.message}` : 'invalid scenario';
}

/** Every scenario of a sandbox: the built-in set first, then the saved ones by name. */
export async function listScenarios(options: { sandboxId?: string; db?: Db } = {}): Promise<ListedScenario[]> {
  const sandboxId = options.sandboxId ?? currentSandbox().id;
  const db = options.db ?? getDb();
  const rows = await db.setting.findMany({ where: { key: { startsWith: `${PREFIX}${sandboxId}.` } } });
  const saved = rows
    .map((r) => fromRow(r.key.slice(`${PREFIX}${sandboxId}.`.length), r.value))
    .filter((s): s is Scenario => s !== null)
    .sort((a, b) => a.name.localeCompare(b.name));
  const all = [...builtInScenarios(), ...saved];
  const ids = [...new Set(all.flatMap((s) => s.config.patientIds))];
  const present = new Set<string>();
  await Promise.all(ids.map(async (id) => ((await findPatientSummary(sandboxId, id)) ? present.add(id) : undefined)));
  return all.map((s) => ({ ...s, missingPatients: s.config.patientIds.filter((id) => !present.has(id)) }));
}

/** One scenario (built-in or saved), or null. */
export async function findScenario(id: string, options: { sandboxId?: string; db?: Db } = {}): Promise<Scenario | null> {
  const builtIn = builtInScenarios().find((s) => s.id === id);
  if (builtIn) return builtIn;
  if (!ID_PATTERN.test(id)) return null;
  const row = await (options.db ?? getDb()).setting.findUnique({ where: { key: key(options.sandboxId ?? currentSandbox().id, id) } });
  return row ? fromRow(id, row.value) : null;
}

/** Saves a new scenario. */
export async function createScenario(input: unknown, options: { sandboxId?: string; db?: Db } = {}): Promise<ScenarioResult<Scenario>> {
  const parsed = scenarioInputSchema.safeParse(input);
  if (!parsed.success) return { ok: false, status: 400, error: problemOf(parsed.error) };
  const db = options.db ?? getDb();
  const now = new Date().toISOString();
  const stored: Stored = { name: parsed.data.name, description: parsed.data.description, config: parsed.data.config, createdAt: now, updatedAt: now };
  for (let attempt = 0; attempt < 5; attempt++) {
    const id = newId();
    try {
      await db.setting.create({ data: { key: key(options.sandboxId ?? currentSandbox().id, id), value: JSON.stringify(stored) } });
      return { ok: true, value: fromRow(id, JSON.stringify(stored))! };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }
  return { ok: false, status: 409, error: 'could not allocate a scenario id' };
}

/** Changes a saved scenario's name, description or configuration (built-in ones are read-only). */
export async function updateScenario(id: string, patch: unknown, options: { sandboxId?: string; db?: Db } = {}): Promise<ScenarioResult<Scenario>> {
  const current = await findScenario(id, options);
  if (!current) return { ok: false, status: 404, error: `no scenario '${id.slice(0, 80)}'` };
  if (current.builtIn) return { ok: false, status: 409, error: 'built-in scenarios are read-only: duplicate it, then change the copy' };
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return { ok: false, status: 400, error: 'send a JSON object' };
  const merged = scenarioInputSchema.safeParse({ name: current.name, description: current.description, config: current.config, ...patch });
  if (!merged.success) return { ok: false, status: 400, error: problemOf(merged.error) };
  const stored: Stored = { ...merged.data, createdAt: current.createdAt ?? new Date().toISOString(), updatedAt: new Date().toISOString() };
  const db = options.db ?? getDb();
  await db.setting.update({ where: { key: key(options.sandboxId ?? currentSandbox().id, id) }, data: { value: JSON.stringify(stored) } });
  return { ok: true, value: fromRow(id, JSON.stringify(stored))! };
}

/** Deletes a saved scenario. */
export async function deleteScenario(id: string, options: { sandboxId?: string; db?: Db } = {}): Promise<ScenarioResult<null>> {
  const current = await findScenario(id, options);
  if (!current) return { ok: false, status: 404, error: `no scenario '${id.slice(0, 80)}'` };
  if (current.builtIn) return { ok: false, status: 409, error: 'built-in scenarios cannot be deleted' };
  await (options.db ?? getDb()).setting.deleteMany({ where: { key: key(options.sandboxId ?? currentSandbox().id, id) } });
  return { ok: true, value: null };
}

/** A saved copy of any scenario, named "… (copy)". */
export async function duplicateScenario(id: string, options: { sandboxId?: string; db?: Db } = {}): Promise<ScenarioResult<Scenario>> {
  const current = await findScenario(id, options);
  if (!current) return { ok: false, status: 404, error: `no scenario '${id.slice(0, 80)}'` };
  return createScenario({ name: `${current.name} (copy)`.slice(0, 120), description: current.description, config: current.config }, options);
}

/** A share link (`{origin}[/s/{id}]/l/{code}`, in the current sandbox) for a scenario’s configuration. */
export async function shareScenario(id: string, origin: string, options: { sandboxId?: string; db?: Db } = {}): Promise<ScenarioResult<string>> {
  const current = await findScenario(id, options);
  if (!current) return { ok: false, status: 404, error: `no scenario '${id.slice(0, 80)}'` };
  return { ok: true, value: `${origin}${currentSandbox().basePath}/l/${await createShareLink(current.config, options.db)}` };
}

/** The share code of a share link or code as a user pastes it (`…/l/{code}`, `?share={code}`, or the code), or null. */
export function shareCodeOf(text: string): string | null {
  const trimmed = text.trim();
  const code = /(?:\/l\/|[?&]share=)([A-Za-z0-9]+)/.exec(trimmed)?.[1] ?? trimmed;
  return SHARE_CODE_PATTERN.test(code) ? code : null;
}

/** Saves the configuration behind a share link as a scenario. */
export async function scenarioFromShareLink(
  share: string,
  input: { name?: unknown; description?: unknown },
  options: { sandboxId?: string; db?: Db } = {},
): Promise<ScenarioResult<Scenario>> {
  const code = shareCodeOf(share);
  const config = code ? await findShareLink(code, options.db) : null;
  if (!config) return { ok: false, status: 404, error: 'this share link is unknown or no longer valid' };
  return createScenario({ name: input.name ?? `Shared launch ${code}`, description: input.description ?? '', config }, options);
}
