// A local certificate authority and a certificate for localhost, 127.0.0.1 and ::1, made with the
// openssl CLI for `npm start -- --https`. The CA is made once (the user trusts it once); the
// server certificate is remade when it is missing or within 30 days of expiry. The CA carries
// name constraints, so even if its key leaked it could not vouch for any other host name.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

const CA_DAYS = 3650;
// Under the 398 days browsers accept for a server certificate.
const SERVER_DAYS = 397;
const RENEW_SECONDS = 30 * 24 * 3600;

function openssl(args, options = {}) {
  return execFileSync(process.env.OPENSSL ?? 'openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

function validFor(certFile, seconds) {
  try {
    openssl(['x509', '-in', certFile, '-noout', '-checkend', String(seconds)]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes (when needed) `ca.crt`/`ca.key` and `localhost.crt`/`localhost.key` in `dir`.
 * Returns their paths and whether anything new was made.
 */
export function ensureLocalCertificate(dir) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'localhost.crt'),
    key: join(dir, 'localhost.key'),
  };
  let created = false;

  if (!existsSync(files.caCert) || !existsSync(files.caKey) || !validFor(files.caCert, RENEW_SECONDS)) {
    const subject = `/O=SMART Sandbox/CN=SMART Sandbox local CA (${hostname().slice(0, 40)}, ${new Date().toISOString().slice(0, 10)})`;
    openssl([
      'req',
      '-x509',
      '-new',
      '-nodes',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-keyout',
      files.caKey,
      '-out',
      files.caCert,
      '-days',
      String(CA_DAYS),
      '-subj',
      subject,
      '-addext',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-addext',
      'nameConstraints=critical,permitted;DNS:localhost,permitted;IP:127.0.0.0/255.0.0.0,permitted;IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF',
      '-addext',
      'subjectKeyIdentifier=hash',
    ]);
    chmodSync(files.caKey, 0o600);
    rmSync(files.cert, { force: true }); // a new CA invalidates the old server certificate
    created = true;
  }

  if (!existsSync(files.cert) || !existsSync(files.key) || !validFor(files.cert, RENEW_SECONDS)) {
    const csr = join(dir, 'localhost.csr');
    const ext = join(dir, 'localhost.ext');
    openssl([
      'req',
      '-new',
      '-nodes',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-keyout',
      files.key,
      '-out',
      csr,
      '-subj',
      '/CN=localhost',
    ]);
    chmodSync(files.key, 0o600);
    writeFileSync(
      ext,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
        'authorityKeyIdentifier=keyid',
        'subjectKeyIdentifier=hash',
        '',
      ].join('\n'),
    );
    try {
      openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        files.caCert,
        '-CAkey',
        files.caKey,
        '-set_serial',
        `0x${Date.now().toString(16)}`,
        '-days',
        String(SERVER_DAYS),
        '-extfile',
        ext,
        '-out',
        files.cert,
      ]);
    } finally {
      rmSync(csr, { force: true });
      rmSync(ext, { force: true });
    }
    created = true;
  }
  return { ...files, created };
}

/** How to make browsers and tools trust the CA, one line each. */
export function trustInstructions(caCert) {
  return [
    `CA certificate: ${caCert}`,
    `  macOS:   sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${caCert}`,
    `  Debian/Ubuntu: sudo cp ${caCert} /usr/local/share/ca-certificates/smart-sandbox-local-ca.crt && sudo update-ca-certificates`,
    `  Chrome/Chromium on Linux: certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n "SMART Sandbox local CA" -i ${caCert}`,
    `  Firefox: Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import`,
    `  Windows: certutil -addstore -f ROOT ${caCert}`,
    `  Node.js apps: NODE_EXTRA_CA_CERTS=${caCert}    curl: --cacert ${caCert}`,
  ];
}
