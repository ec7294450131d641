'use client';

import { useState, useTransition } from 'react';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair } from 'jose';

interface Made {
  readonly jwks: unknown;
  readonly kid: string;
  readonly alg: string;
}

function registration(origin: string, jwks: unknown): string {
  const body = {
    client_name: 'My backend service',
    token_endpoint_auth_method: 'private_key_jwt',
    grant_types: ['client_credentials'],
    scope: 'system/*.rs',
    jwks,
  };
  return `curl -s ${origin}/oauth/register -H 'content-type: application/json' -d '${JSON.stringify(body)}'`;
}

/** Public key → JWKS (through POST /api/tools/jwks), or a key pair made in this browser with jose. */
export function JwksHelper({ origin }: { origin: string }) {
  const [publicKey, setPublicKey] = useState('');
  const [made, setMade] = useState<Made | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [download, setDownload] = useState<{ url: string; name: string } | null>(null);
  const [pending, startTransition] = useTransition();

  function convert() {
    setError(null);
    startTransition(async () => {
      const res = await fetch('/api/tools/jwks', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ public_key: publicKey }),
      });
      const body = (await res.json()) as Made & { error_description?: string };
      if (!res.ok) {
        setMade(null);
        setError(body.error_description ?? `HTTP ${res.status}`);
        return;
      }
      setMade(body);
    });
  }

  function generate(alg: 'RS384' | 'ES384') {
    setError(null);
    startTransition(async () => {
      // Made here, in the browser: the private key is never sent anywhere.
      const pair = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS384' ? { modulusLength: 2048 } : {}) });
      const pub = await exportJWK(pair.publicKey);
      const kid = await calculateJwkThumbprint(pub, 'sha256');
      const pem = await exportPKCS8(pair.privateKey);
      if (download) URL.revokeObjectURL(download.url);
      setDownload({ url: URL.createObjectURL(new Blob([pem], { type: 'application/x-pem-file' })), name: `backend-${kid.slice(0, 8)}-private.pem` });
      setMade({ jwks: { keys: [{ ...pub, kid, alg, use: 'sig' }] }, kid, alg });
    });
  }

  return (
    <>
      <section className="card" aria-labelledby="pub-h">
        <h2 id="pub-h">From your public key</h2>
        <textarea
          aria-label="Public key"
          className="scopes"
          rows={6}
          value={publicKey}
          onChange={(e) => setPublicKey(e.target.value)}
          placeholder={'-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----   or   {"kty":"RSA","n":"…","e":"AQAB"}'}
          spellCheck={false}
        />
        <div className="actions">
          <button type="button" onClick={convert} disabled={pending || !publicKey.trim()}>
            Make the JWKS
          </button>
        </div>
      </section>
      <section className="card" aria-labelledby="gen-h">
        <h2 id="gen-h">Or make a key pair</h2>
        <p className="muted">Made in this browser: download the private key now, it is not kept anywhere.</p>
        <div className="actions">
          <button type="button" onClick={() => generate('RS384')} disabled={pending}>
            New RS384 key pair
          </button>
          <button type="button" className="secondary" onClick={() => generate('ES384')} disabled={pending}>
            New ES384 key pair
          </button>
          {download ? (
            <a href={download.url} download={download.name} data-testid="private-key-download">
              Download the private key ({download.name})
            </a>
          ) : null}
        </div>
      </section>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      {made ? (
        <section className="card" data-testid="jwks-result">
          <h2>JWKS to register</h2>
          <p>
            kid <code>{made.kid}</code> · sign your client assertions with <code>{made.alg}</code> and this kid in the JWT header.
          </p>
          <pre data-testid="jwks">{JSON.stringify(made.jwks, null, 2)}</pre>
          <h3>Register the backend client</h3>
          <pre>{registration(origin, made.jwks)}</pre>
        </section>
      ) : null}
    </>
  );
}
