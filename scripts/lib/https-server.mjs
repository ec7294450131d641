// Serving the built app over https on localhost: `npm start -- --https` (or HTTPS=1) runs the app
// server (scripts/lib/app-server.mjs) with a local certificate, through scripts/start.mjs:
//
//   node scripts/lib/app-server.mjs --port 3443 --cert localhost.crt --key localhost.key
//
// The environment must already name the public origin (PUBLIC_ORIGIN=https://localhost:PORT),
// so the issuer, FHIR base and discovery documents are https and cookies are Secure.
import { join } from 'node:path';
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
    args: [join(root, 'scripts', 'lib', 'app-server.mjs'), '--port', String(port), '--cert', tls.cert, '--key', tls.key],
    notes: trustInstructions(tls.caCert),
  };
}
