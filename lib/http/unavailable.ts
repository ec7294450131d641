import { htmlPage } from './html';
import { unavailableView } from './unavailable-view';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable, logDatabaseUnavailable } from '../db/errors';

/**
 * The page a person sees at /oauth/authorize, on an interaction screen, or instead of the
 * launcher or console while the database is unavailable: 503 with Retry-After (RFC 9110 §15.6.4),
 * and a way forward rather than an error trace. `retryPath` (a path on this server) is linked.
 */
export function databaseUnavailablePage(retryPath?: string): Response {
  const response = htmlPage(unavailableView(retryPath), { title: 'Unavailable', status: 503 });
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

/** Where the launcher and console send a browser while the database is unavailable. */
export const UNAVAILABLE_PAGE_PATH = '/interaction/unavailable';

/**
 * A path on this server to offer as "try again": only a plain absolute path (no scheme, no host,
 * no `//`, no backslash: nothing a browser would read as another host), else the launcher.
 */
export function localRetryPath(value: string | null): string {
  return value && value.length <= 300 && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) && !value.includes('\\') ? value : '/';
}

/** GET /interaction/unavailable?back={path}: where the launcher and the console send a browser while the database is unavailable. */
export function handleUnavailablePage(req: Request): Response {
  return databaseUnavailablePage(localRetryPath(new URL(req.url).searchParams.get('back')));
}

/** The URL of the unavailable page with a way back to `path`. */
export function unavailablePageUrl(path: string): string {
  return `${UNAVAILABLE_PAGE_PATH}?back=${encodeURIComponent(localRetryPath(path))}`;
}

/**
 * Runs a React page's loading: a database that is down sends the browser to the 503 page
 * (`leave` redirects; pages pass next/navigation's `redirect`), anything else is thrown on.
 */
export async function loadOrLeave<T>(where: string, back: string, leave: (url: string) => never, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (!isDatabaseUnavailable(err)) throw err;
    logDatabaseUnavailable(where, err);
    return leave(unavailablePageUrl(back));
  }
}
