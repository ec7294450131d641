// Serving the built app over https on localhost: Next's documented custom server
// (`next({ dev: false })` + `https.createServer`). `npm start -- --https` (or HTTPS=1) runs it
// through scripts/start.mjs; plain `npm start` stays `next start` over http.
//
//   node scripts/lib/https-server.mjs --port 3443 --cert localhost.crt --key localhost.key
//
// The environment must already name the public origin (PUBLIC_ORIGIN=https://localhost:PORT),
// so the issuer, FHIR base and discovery documents are https and cookies are Secure.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { root } from '../prisma-schemas.mjs';
import { ensureLocalCertificate, trustInstructions } from './local-tls.mjs';

/** Where `npm start -- --https` keeps its CA and certificate (gitignored with the rest of data/). */
export const DEFAULT_TLS_DIR = join(root, 'data', 'tls');

/** True when `npm start` was asked for https (`--https` or HTTPS=1/true). */
export function httpsRequested(argv = process.argv.slice(2), env = process.env) {
  return argv.includes('--https') || /^(1|true|yes|on)$/i.test(env.HTTPS ?? '');
}

/**
 * Everything needed to serve over https on `port`: the certificate (made when needed), the
 * environment with PUBLIC_ORIGIN set to https://localhost:PORT, and the child command line.
 * A PUBLIC_ORIGIN that is already https is kept; an http one contradicts --https and is refused.
 */
export function planHttps({ port, env = process.env, tlsDir = DEFAULT_TLS_DIR }) {
  if (env.PUBLIC_ORIGIN && !env.PUBLIC_ORIGIN.startsWith('https://')) {
    throw new Error(`PUBLIC_ORIGIN=${env.PUBLIC_ORIGIN} is not https: unset it or make it https:// to serve with --https`);
  }
  const tls = ensureLocalCertificate(tlsDir);
  const origin = (env.PUBLIC_ORIGIN ?? `https://localhost:${port}`).replace(/\/+$/, '');
  return {
    origin,
    tls,
    env: { ...env, PUBLIC_ORIGIN: origin, PORT: String(port), NODE_ENV: 'production' },
    args: [fileURLToPath(import.meta.url), '--port', String(port), '--cert', tls.cert, '--key', tls.key],
    notes: trustInstructions(tls.caCert),
  };
}

/** Starts Next (production build in NEXT_DIST_DIR or .next) behind an https server; resolves once listening. */
export async function serveHttps({ port, cert, key, hostname }) {
  const { default: next } = await import('next');
  const app = next({ dev: false, dir: root, port, hostname: 'localhost' });
  const handle = app.getRequestHandler();
  await app.prepare();
  const server = createServer({ cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((err) => {
      console.error(err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Internal Server Error\n');
    });
  });
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
  if (!values.cert || !values.key) {
    console.error('usage: node scripts/lib/https-server.mjs --port N --cert FILE --key FILE');
    process.exit(2);
  }
  const running = await serveHttps({ port, cert: values.cert, key: values.key, hostname: values.hostname });
  console.log(`> Ready on ${process.env.PUBLIC_ORIGIN ?? `https://localhost:${port}`}`);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      running.close().then(() => process.exit(0));
      setTimeout(() => process.exit(0), 5000).unref();
    });
  }
}
