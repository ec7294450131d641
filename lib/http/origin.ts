import { env } from '../env';

/** Public origin of the sandbox for a request (PUBLIC_ORIGIN wins over the request's own URL). */
export function originOf(req: Request): string {
  if (env.PUBLIC_ORIGIN) return env.PUBLIC_ORIGIN.replace(/\/+$/, '');
  const url = new URL(req.url);
  const host = req.headers.get('x-forwarded-host') ?? req.headers.get('host') ?? url.host;
  const proto = req.headers.get('x-forwarded-proto') ?? url.protocol.replace(':', '');
  return `${proto}://${host}`;
}

/** FHIR base URL of a sandbox ({origin}/fhir for the default one). */
export function fhirBaseOf(req: Request): string {
  return `${originOf(req)}/fhir`;
}

/** OAuth issuer (the origin). */
export function issuerOf(req: Request): string {
  return originOf(req);
}
