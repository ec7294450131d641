import { DEFAULT_SANDBOX, runInSandbox, sandboxOfHeaders } from '../sandbox/context';
import { withDatabaseUnavailablePage } from './unavailable';

/** The page a browser gets at `/s/{id}/…` when no sandbox is served there. */
function unknownSandboxPage(): Response {
  return new Response('No sandbox is served at this address (unknown, deleted, or its workshop room is closed).\n', {
    status: 404,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
  });
}

/**
 * Wraps a route handler Next runs (interaction screens, the access-management page): it runs in
 * the sandbox proxy.ts named for the request (lib/sandbox/context.ts), a sandbox that is not served
 * answers 404, and a database that is down answers the 503 page.
 */
export function sandboxPageHandler<A extends [Request, ...unknown[]]>(
  where: string,
  handler: (...args: A) => Promise<Response>,
): (...args: A) => Promise<Response> {
  const guarded = withDatabaseUnavailablePage(where, handler);
  return async (...args: A) => {
    const sandbox = await sandboxOfHeaders(args[0].headers);
    if (!sandbox) return unknownSandboxPage();
    return sandbox === DEFAULT_SANDBOX ? guarded(...args) : runInSandbox(sandbox, () => guarded(...args));
  };
}
