// The server `npm start` runs: Next's documented custom server (`next({ dev: false })` and its
// request handler) with the API fast path in front of it. A request whose path belongs to the API
// route table (lib/routes/api-routes.ts: FHIR, OAuth endpoints, discovery, JWKS, health, the SMART
// style file, the console's JSON endpoints) is answered by its lib handler directly; every other
// request (pages, console, launcher, next-auth, interaction screens, static files) goes to Next.
// Next's route pipeline costs more CPU per request than a whole FHIR read (docs/ARCHITECTURE.md,
// "How a request flows"); the answers are the same either way, because the route files Next runs
// are derived from the same table (test/integration/fast-path-parity.test.ts compares them).
//
//   node scripts/lib/app-server.mjs --port 3000 [--hostname H] [--cert FILE --key FILE]
//
// API_FAST_PATH=0 sends every request to Next (the same route handlers, through its pipeline).
// Node ↔ Fetch: `@hono/node-server`'s request listener turns the Node request into a Fetch Request
// and writes the Fetch Response back; it builds both lazily and was the faster of the adapters
// measured (docs/ARCHITECTURE.md, "How a request flows").
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { root } from '../prisma-schemas.mjs';
// Records each request's connection (peer address, local port, TLS) for lib/http/socket-address.ts,
// whichever path answers it: the module wraps the 'request' event of every server in the process,
// once, whether `npm start` preloaded it or not.
import './socket-address.mjs';

/** True unless API_FAST_PATH is 0/false/off/no. */
export function fastPathEnabled(env = process.env) {
  return !/^(0|false|off|no)$/i.test(env.API_FAST_PATH ?? '');
}

/**
 * The x-forwarded-* request headers Next adds before a route handler runs (only where the client
 * sent none), so that lib handlers see the same request on both paths.
 */
function addForwardedHeaders(req, port) {
  const h = req.headers;
  const add = (name, value) => {
    if (h[name] !== undefined || value === undefined) return;
    h[name] = value;
    req.rawHeaders.push(name, value); // the adapter reads both
  };
  const proto = h['x-forwarded-proto'];
  const https = proto ? proto === 'https' : Boolean(req.socket?.encrypted);
  add('x-forwarded-host', h.host ?? 'localhost');
  add('x-forwarded-port', String(port));
  add('x-forwarded-proto', https ? 'https' : 'http');
  add('x-forwarded-for', req.socket?.remoteAddress);
}

/** The path of a request target without its query, or null for an absolute or odd target (left to Next). */
function pathOf(target) {
  if (!target || target[0] !== '/') return null;
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/**
 * The API fast path: a Node request listener for the paths of the route table, or null when the
 * path is not one of them. Loads the TypeScript lib with tsx.
 */
export async function createApiListener({ port }) {
  const [{ getRequestListener }, { tsImport }] = await Promise.all([import('@hono/node-server'), import('tsx/esm/api')]);
  const routes = await tsImport(pathToFileURL(join(root, 'lib', 'routes', 'api-routes.ts')).href, import.meta.url);
  const { applyRouteSecurityHeaders } = await tsImport(pathToFileURL(join(root, 'lib', 'http', 'security-headers.ts')).href, import.meta.url);
  const routeOf = new WeakMap();
  const sandboxOf = new WeakMap();
  const listener = getRequestListener((request, { incoming }) => routes.handleApiRequest(routeOf.get(incoming), request, sandboxOf.get(incoming)), {
    // Global Request/Response become the adapter's lightweight ones (subclasses answering
    // instanceof for the platform's): a lib handler's `new Response(json)` is then written to the
    // socket without a stream. Next, in the same process, works with them unchanged (the parity
    // test and the e2e suite run through it); measured in docs/ARCHITECTURE.md.
    overrideGlobalObjects: true,
    errorHandler: (err) => {
      console.error(err);
      return applyRouteSecurityHeaders(new Response(null, { status: 500 }), 'api');
    },
  });
  return (req, res) => {
    let path = pathOf(req.url);
    // A sandbox's API under its prefix (`/s/{id}/fhir/…`): the handler sees the path without it
    // and runs in that sandbox (lib/sandbox/context.ts); pages under the prefix go to Next, whose
    // proxy.ts rewrites them the same way.
    const inSandbox = path === null ? null : routes.splitSandboxPath(path);
    if (inSandbox) path = inSandbox.path;
    const route = path === null ? null : routes.matchApiRoute(path);
    if (!route) return false;
    if (inSandbox) {
      req.url = inSandbox.path + req.url.slice(inSandbox.path.length + 3 + inSandbox.sandboxId.length);
      sandboxOf.set(req, inSandbox.sandboxId);
    }
    routeOf.set(req, route);
    addForwardedHeaders(req, port);
    listener(req, res);
    return true;
  };
}

/** Starts the app; resolves { server, close() } once listening. `tls` = { cert, key } file paths serves https. */
export async function startAppServer({ port, hostname, tls = null, fastPath = fastPathEnabled() }) {
  const { default: next } = await import('next');
  const app = next({ dev: false, dir: root, port, hostname: 'localhost' });
  const handle = app.getRequestHandler();
  await app.prepare();
  const api = fastPath ? await createApiListener({ port }) : null;
  const toNext = (req, res) =>
    handle(req, res).catch((err) => {
      console.error(err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Internal Server Error\n');
    });
  const listener = api ? (req, res) => api(req, res) || toNext(req, res) : toNext;
  const server = tls
    ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key), minVersion: 'TLSv1.2' }, listener)
    : createHttpServer(listener);
  // Idle keep-alive connections stay open 30 s (Node's default is 5 s): a client whose event loop
  // is busy for a few seconds would otherwise send its next request on a socket the server has
  // just closed ("other side closed"). Proxies in front should idle out sooner than this.
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    // Like `next start`: every interface unless a hostname is given.
    server.listen(port, hostname, resolve);
  });
  return {
    server,
    close: () => new Promise((resolve) => server.close(() => app.close().then(resolve, resolve))),
  };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, hostname: { type: 'string' } } });
  const port = Number(values.port ?? process.env.PORT ?? 3000);
  if (Boolean(values.cert) !== Boolean(values.key)) {
    console.error('usage: node scripts/lib/app-server.mjs --port N [--hostname H] [--cert FILE --key FILE]');
    process.exit(2);
  }
  const tls = values.cert ? { cert: values.cert, key: values.key } : null;
  // The old generation may grow by 30% between two full collections (V8's own factor reaches 4x on
  // a machine with memory to spare): a request leaves a little garbage that outlives the young
  // generation, and with the default the heap swelled to twice its live size before each full
  // collection, so resident memory swung by hundreds of MiB under steady load. Measured with
  // `npm run bench -- rss` (200,000 requests): RSS from +61% to within 2% of its size after 1,000.
  setFlagsFromString('--heap-growing-percent=30');
  const running = await startAppServer({ port, hostname: values.hostname, tls });
  console.log(
    `> Ready on ${process.env.PUBLIC_ORIGIN ?? `${tls ? 'https' : 'http'}://localhost:${port}`}${fastPathEnabled() ? ' (API fast path on)' : ' (API_FAST_PATH=0: every request through Next)'}`,
  );
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      running.close().then(() => process.exit(0));
      setTimeout(() => process.exit(0), 5000).unref();
    });
  }
}
