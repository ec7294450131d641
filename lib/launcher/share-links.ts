import { randomBytes } from 'node:crypto';
import { getDb } from '../db';
import type { Db } from '../db';
import { launchConfigSchema } from './launch-config';
import type { LaunchConfig } from './launch-config';
import { shareLinkKeyInfix } from '../sandbox';
import { currentSandbox } from '../sandbox/context';

/**
 * Shareable launch links (`/l/{code}`): a short random code for a launch configuration, kept in the
 * Setting table. The configuration never holds a client secret (launchConfigSchema has no field
 * for one), unlike smart-launcher-v2's base64 URL.
 */
const PREFIX = 'launcher.share.';

/** The Setting key of a code: the default sandbox's as before, every other sandbox's under its id (lib/sandbox/provision.ts deletes them with it). */
const keyOf = (code: string) => `${PREFIX}${shareLinkKeyInfix(currentSandbox().id)}${code}`;
const ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const SHARE_CODE_PATTERN = /^[a-km-zA-HJ-NP-Z2-9]{10}$/;

function newCode(): string {
  const bytes = randomBytes(10);
  return [...bytes].map((b) => ALPHABET[b % ALPHABET.length]).join('');
}

/** Stores a configuration and returns its code. */
export async function createShareLink(config: LaunchConfig, db: Db = getDb()): Promise<string> {
  const value = JSON.stringify(launchConfigSchema.parse(config));
  for (let attempt = 0; attempt < 5; attempt++) {
    const code = newCode();
    try {
      await db.setting.create({ data: { key: keyOf(code), value } });
      return code;
    } catch {
      // Collision: try another code.
    }
  }
  throw new Error('could not allocate a share code');
}

/**
 * A share link for a launch configuration as the launcher sends it: the URL `{origin}/l/{code}`,
 * or why the configuration cannot be shared.
 */
export async function createShareLinkUrl(config: unknown, origin: string, db: Db = getDb()): Promise<{ ok: true; url: string } | { ok: false; error: string }> {
  const parsed = launchConfigSchema.safeParse(config);
  if (!parsed.success) return { ok: false, error: 'The configuration is incomplete.' };
  return { ok: true, url: `${origin}${currentSandbox().basePath}/l/${await createShareLink(parsed.data, db)}` };
}

/** The configuration behind a code, or null (unknown code, or stored by an incompatible version). */
export async function findShareLink(code: string, db: Db = getDb()): Promise<LaunchConfig | null> {
  if (!SHARE_CODE_PATTERN.test(code)) return null;
  const row = await db.setting.findUnique({ where: { key: keyOf(code) } });
  if (!row) return null;
  try {
    const parsed = launchConfigSchema.safeParse(JSON.parse(row.value));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
