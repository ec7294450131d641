/**
 * The key tools for your own backend service, over HTTP (app/api/tools/** re-exports them):
 *
 * - POST /api/tools/jwks: `{"public_key": "<PEM or JWK>", "kid"?: "…"}` → the JWKS to register;
 * - POST /api/tools/key-pair: `{"alg"?: "RS384" | "ES384"}` → a new key pair, the private key
 *   returned once and never stored.
 *
 * Bad input answers 400 `{"error": "invalid_request", "error_description": …}` (the shape of RFC 6749 §5.2).
 */
import { jsonNoStore, mediaType, readBodyText } from '../oauth/http';
import { InvalidRequest } from '../oauth/errors';
import { generateRegistrationKeyPair, jwksFromPublicKey, KEY_ALGS } from './jwks-tool';
import type { KeyAlg } from './jwks-tool';

function invalid(description: string, status = 400): Response {
  return jsonNoStore({ error: 'invalid_request', error_description: description }, status);
}

async function readJson(req: Request, allowEmpty: boolean): Promise<Record<string, unknown> | Response> {
  let text: string;
  try {
    text = await readBodyText(req);
  } catch (err) {
    if (err instanceof InvalidRequest) return invalid(err.message, 413);
    throw err;
  }
  if (!text.trim() && allowEmpty) return {};
  if (mediaType(req) !== 'application/json') return invalid('send JSON (Content-Type: application/json)', 415);
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return invalid('the body must be a JSON object');
    return value as Record<string, unknown>;
  } catch {
    return invalid('the body is not valid JSON');
  }
}

/** POST /api/tools/jwks */
export async function handleJwksTool(req: Request): Promise<Response> {
  const body = await readJson(req, false);
  if (body instanceof Response) return body;
  if (body.public_key === undefined) return invalid('public_key is required: a PEM public key (-----BEGIN PUBLIC KEY-----) or a JWK');
  if (body.kid !== undefined && typeof body.kid !== 'string') return invalid('kid must be a string');
  const made = await jwksFromPublicKey(body.public_key, body.kid as string | undefined);
  if (!made.ok) return invalid(made.error);
  return jsonNoStore({ jwks: made.jwks, kid: made.kid, alg: made.alg });
}

/** POST /api/tools/key-pair */
export async function handleKeyPairTool(req: Request): Promise<Response> {
  const body = await readJson(req, true);
  if (body instanceof Response) return body;
  const alg = body.alg ?? 'RS384';
  if (typeof alg !== 'string' || !(KEY_ALGS as readonly string[]).includes(alg)) return invalid(`alg must be one of ${KEY_ALGS.join(', ')}`);
  const pair = await generateRegistrationKeyPair(alg as KeyAlg);
  return jsonNoStore({ alg: pair.alg, kid: pair.kid, jwks: pair.jwks, private_key_pem: pair.privateKeyPem, private_jwk: pair.privateJwk }, 201);
}
