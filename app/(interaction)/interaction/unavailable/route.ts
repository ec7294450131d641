import { databaseUnavailablePage, localRetryPath } from '#lib/http/unavailable';

export const dynamic = 'force-dynamic';

// Where the launcher and the console send a browser while the database is unavailable: 503.
export function GET(req: Request): Response {
  return databaseUnavailablePage(localRetryPath(new URL(req.url).searchParams.get('back')));
}
