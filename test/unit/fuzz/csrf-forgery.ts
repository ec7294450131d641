/**
 * Forged form POSTs to the interaction screens' CSRF-protected writes (the sign-in, consent and
 * access-management forms): each forgery breaks one thing a genuine POST has — the token, its
 * purpose, scope, binding or sign-in, or the same-origin headers.
 */
import { BINDING_COOKIE, createCsrfToken } from '../../../lib/interaction/csrf';
import type { CsrfPurpose } from '../../../lib/interaction/csrf';
import { ORIGIN } from '../../../lib/oauth/test-support';
import { toQuery } from './fuzz-support';

export const CSRF_FORGERIES = [
  'missing',
  'empty',
  'hostile',
  'other-purpose',
  'other-scope',
  'other-binding',
  'no-binding-cookie',
  'other-sign-in',
  'one-char-changed',
  'valid-but-foreign-origin',
  'valid-but-origin-null',
  'valid-but-cross-site',
] as const;
export type CsrfForgery = (typeof CSRF_FORGERIES)[number];

/** Where a genuine POST goes and what its CSRF token is bound to. */
export interface CsrfForm {
  /** Path of the form's action. */
  readonly path: string;
  readonly purpose: CsrfPurpose;
  /** What the token is scoped to (an interaction id, or the access page's fixed scope). */
  readonly scope: string;
  readonly binding: string;
  /** The persona session the POST comes with (its sid in the token, its cookie sent), or null before sign-in. */
  readonly session: { readonly sid: string; readonly cookie: string } | null;
  /** A purpose and a scope that are not this form's: tokens for them must not do. */
  readonly otherPurpose: CsrfPurpose;
  readonly otherScope: string;
}

/** The request a forged form POST makes: a genuine one but for `forgery`. */
export async function forgedCsrfPost(
  form: CsrfForm,
  forgery: CsrfForgery,
  hostile: string,
  fields: [string, string][],
  contentType: string | null,
): Promise<Request> {
  const sid = form.session?.sid ?? '';
  const valid = await createCsrfToken(form.purpose, form.scope, form.binding, sid);
  let csrf: string | null = valid;
  let binding: string | null = form.binding;
  const headers: Record<string, string> = { origin: ORIGIN, 'sec-fetch-site': 'same-origin' };
  switch (forgery) {
    case 'missing':
      csrf = null;
      break;
    case 'empty':
      csrf = '';
      break;
    case 'hostile':
      csrf = hostile;
      break;
    case 'other-purpose':
      csrf = await createCsrfToken(form.otherPurpose, form.scope, form.binding, sid);
      break;
    case 'other-scope':
      csrf = await createCsrfToken(form.purpose, form.otherScope, form.binding, sid);
      break;
    case 'other-binding':
      binding = `${form.binding}-x`;
      break;
    case 'no-binding-cookie':
      binding = null;
      break;
    case 'other-sign-in':
      csrf = await createCsrfToken(form.purpose, form.scope, form.binding, form.session ? '' : 'some-sid');
      break;
    case 'one-char-changed':
      csrf = `${valid.slice(0, -1)}${valid.endsWith('A') ? 'B' : 'A'}`;
      break;
    case 'valid-but-foreign-origin':
      headers.origin = hostile.startsWith('http') ? hostile : 'https://evil.example';
      headers['sec-fetch-site'] = 'cross-site';
      break;
    case 'valid-but-origin-null':
      headers.origin = 'null';
      delete headers['sec-fetch-site'];
      break;
    case 'valid-but-cross-site':
      delete headers.origin;
      headers['sec-fetch-site'] = 'cross-site';
      break;
  }
  headers.cookie = [binding === null ? null : `${BINDING_COOKIE}=${binding}`, form.session?.cookie ?? null].filter((c): c is string => c !== null).join('; ');
  if (contentType !== null) headers['content-type'] = contentType;
  const body: [string, string][] = [...(csrf === null ? [] : [['csrf', csrf] as [string, string]]), ...fields];
  return new Request(`${ORIGIN}${form.path}`, { method: 'POST', headers, body: toQuery(body, 'encode') });
}
