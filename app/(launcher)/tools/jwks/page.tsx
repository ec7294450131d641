import { headers } from 'next/headers';
import { publicOrigin } from '#lib/http/origin';
import { JwksHelper } from './jwks-client';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'JWKS helper · SMART Sandbox' };

export default async function JwksHelperPage() {
  const origin = publicOrigin(await headers());
  return (
    <>
      <nav className="top">
        <strong>SMART Sandbox</strong>
        <a href="/">Launcher</a>
        <a href="/console">Console</a>
        <span className="muted-on-dark">FHIR base: {origin}/fhir</span>
      </nav>
      <main>
        <h1>JWKS for your backend service</h1>
        <p className="muted">
          A backend service authenticates with a JWT signed by its private key (private_key_jwt, RS384 or ES384) and registers the public key as a JWKS. Paste
          your public key to get the JWKS to register, or let your browser make a key pair. The same tools are JSON APIs: <code>POST /api/tools/jwks</code> and{' '}
          <code>POST /api/tools/key-pair</code> (README, “Backend services”).
        </p>
        <JwksHelper origin={origin} />
      </main>
    </>
  );
}
