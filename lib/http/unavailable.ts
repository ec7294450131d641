import { html, htmlPage } from '../auth/html';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable, logDatabaseUnavailable } from '../db-errors';

/**
 * The page a person sees at /oauth/authorize or on an interaction screen while the database is
 * unavailable: 503 with Retry-After (RFC 9110 §15.6.4), and a way forward rather than an error trace.
 */
export function databaseUnavailablePage(): Response {
  const body = html`<h1>The sandbox is briefly unavailable</h1><div class="card"><p>Its database cannot be reached right now, so this step could not be completed.</p><p class="muted">Wait a few seconds, then reload the page or start again from the app.</p></div>`;
  const response = htmlPage(body, { title: 'Unavailable', status: 503 });
  response.headers.set('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
  return response;
}

/**
 * Wraps a page handler: a database that is down answers the 503 page; any other failure is
 * thrown on, as before.
 */
export function withDatabaseUnavailablePage<A extends unknown[]>(where: string, handler: (...args: A) => Promise<Response>): (...args: A) => Promise<Response> {
  return async (...args: A) => {
    try {
      return await handler(...args);
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      logDatabaseUnavailable(where, err);
      return databaseUnavailablePage();
    }
  };
}
