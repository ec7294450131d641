import { randomBytes } from 'node:crypto';
import { getDb } from '../db';
import { env } from '../env';

/** Setting row holding the generated next-auth secret when NEXTAUTH_SECRET is unset. */
export const AUTH_SECRET_SETTING = 'auth.nextauth-secret';

let cached: Promise<string> | undefined;

/**
 * The secret next-auth encrypts session cookies with (and the interaction screens derive their
 * CSRF tokens from): NEXTAUTH_SECRET, or one generated on first use and kept in the Setting table
 * so every app instance and every restart agrees on it.
 */
export function getAuthSecret(): Promise<string> {
  if (env.NEXTAUTH_SECRET) return Promise.resolve(env.NEXTAUTH_SECRET);
  cached ??= loadOrCreateSecret().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

async function loadOrCreateSecret(): Promise<string> {
  const db = getDb();
  const existing = await db.setting.findUnique({ where: { key: AUTH_SECRET_SETTING } });
  if (existing) return existing.value;
  const value = randomBytes(32).toString('base64url');
  try {
    await db.setting.create({ data: { key: AUTH_SECRET_SETTING, value } });
    return value;
  } catch {
    // Another instance won the race: use its secret.
    const row = await db.setting.findUnique({ where: { key: AUTH_SECRET_SETTING } });
    if (!row) throw new Error('Could not store the generated next-auth secret');
    return row.value;
  }
}
