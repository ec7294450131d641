/**
 * Reads the authorization request: the query for GET, the query plus an
 * application/x-www-form-urlencoded body for POST (OpenID Connect Core §3.1.2.1; SMART
 * `authorize-post`; docs/CONFORMANCE.md #37, #9, #10). Failures here cannot be redirected.
 */
import { MAX_PARAM_CHARS } from '../config';
import { UnsafeToRedirect } from '../errors';
import { mediaType, OAuthParams, readBodyText } from '../http';

export async function readAuthorizeParams(req: Request): Promise<OAuthParams> {
  const entries: [string, string][] = [...new URL(req.url).searchParams];
  if (req.method === 'POST') {
    const type = mediaType(req);
    if (type !== 'application/x-www-form-urlencoded') {
      throw new UnsafeToRedirect(
        'Unsupported form encoding',
        `A POST to /oauth/authorize must be an HTML form (Content-Type application/x-www-form-urlencoded)${type ? `, not ${type}` : ''}.`,
      );
    }
    let text: string;
    try {
      text = await readBodyText(req);
    } catch (err) {
      throw new UnsafeToRedirect('Request too large', err instanceof Error ? err.message : 'the request body could not be read');
    }
    entries.push(...new URLSearchParams(text));
  } else if (req.method !== 'GET') {
    throw new UnsafeToRedirect('Method not allowed', `/oauth/authorize accepts GET and POST, not ${req.method}.`);
  }
  for (const [name, value] of entries) {
    if (name.length > 100 || value.length > MAX_PARAM_CHARS) {
      throw new UnsafeToRedirect('Parameter too long', `Parameter '${name.slice(0, 100)}' is longer than ${MAX_PARAM_CHARS} characters.`);
    }
  }
  if (entries.length > 100) throw new UnsafeToRedirect('Too many parameters', 'The authorization request has more than 100 parameters.');
  return new OAuthParams(entries);
}
