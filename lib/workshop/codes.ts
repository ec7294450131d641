/**
 * The identifiers and secrets of a workshop: room ids, the short join code, attendee sandbox ids
 * (unguessable, ≥ 128 bits, URL-safe), and the secrets of the attendee cookie and personal link,
 * of which only a SHA-256 hash is stored.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';

/** Letters and digits that cannot be mistaken for one another when read off a projector (no 0/O, 1/I/L). */
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
/** Length of a room's short code (31⁶ ≈ 887 million codes). */
export const ROOM_CODE_LENGTH = 6;
/** A short code as attendees may type it: letters and digits, any case, spaces or dashes ignored. */
const ROOM_CODE_PATTERN = new RegExp(`^[${CODE_ALPHABET}]{${ROOM_CODE_LENGTH}}$`);

/** A fresh short join code. */
export function newRoomCode(): string {
  let code = '';
  for (let i = 0; i < ROOM_CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

/** The canonical form of a typed code (upper case, without spaces and dashes), or null when it cannot be one. */
export function parseRoomCode(input: string): string | null {
  if (input.length > 40) return null;
  const code = input.replace(/[\s-]/g, '').toUpperCase();
  return ROOM_CODE_PATTERN.test(code) ? code : null;
}

/** A random URL-safe id with `bytes` bytes of entropy. */
export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 (hex) of a secret: what is stored of cookies and personal links. */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A secret of an attendee cookie or personal link: 256 random bits. */
export function newSecret(): string {
  return randomId(32);
}

/** A secret's shape as it appears in a cookie or link (refuses anything else before any lookup). */
export function isSecretShaped(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value);
}
