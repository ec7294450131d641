import { isIP } from 'node:net';
import { z } from 'zod';

/** Which peers may set X-Forwarded-For/-Host/-Proto (TRUST_PROXY). */
export type TrustProxy =
  { readonly kind: 'none' } | { readonly kind: 'hops'; readonly hops: number } | { readonly kind: 'addresses'; readonly addresses: readonly string[] };

const trustProxySchema = z
  .string()
  .optional()
  .transform((value, ctx): TrustProxy => {
    const v = (value ?? '').trim().toLowerCase();
    if (v === '' || v === '0' || v === 'false' || v === 'no' || v === 'off') return { kind: 'none' };
    if (v === 'true' || v === 'yes' || v === 'on') return { kind: 'hops', hops: 1 };
    if (/^\d+$/.test(v)) return { kind: 'hops', hops: Math.min(Number(v), 16) };
    const addresses = v
      .split(',')
      .map((a) => a.trim().replace(/^::ffff:(?=\d+\.)/, ''))
      .filter((a) => a !== '');
    const bad = addresses.filter((a) => isIP(a) === 0);
    if (bad.length)
      ctx.addIssue({ code: 'custom', message: `not IP addresses: ${bad.join(', ')} (use 1, a number of proxy hops, or a comma list of proxy IP addresses)` });
    return { kind: 'addresses', addresses };
  });

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    /** Empty: the embedded SQLite file data/sandbox.db. `file:/path.db` or `postgresql://…`. */
    DATABASE_URL: z.string().optional().default(''),
    PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    /**
     * Public origin of the sandbox (issuer and FHIR base are derived from it). Unset: the address the
     * server was reached on, or the Host header when it names a loopback host (lib/http/origin.ts).
     */
    PUBLIC_ORIGIN: z.string().url().optional(),
    /**
     * Believe X-Forwarded-For/-Host/-Proto only from a reverse proxy: unset or 0 never; 1 (or true)
     * when the server is reachable only through one proxy, N for N proxies in a row; or a comma
     * list of the proxies' IP addresses (lib/http/client-ip.ts, lib/http/origin.ts).
     */
    TRUST_PROXY: trustProxySchema,
    /**
     * Production https-only mode: PUBLIC_ORIGIN must be https, and registration refuses http JWKS
     * URLs and http redirect URIs other than a loopback IP address (RFC 8252 §7.3, RFC 9700 §2.6).
     */
    HTTPS_ONLY: z.stringbool().default(false),
    /** Seed of the default synthetic dataset. */
    SEED: z.coerce.number().int().min(0).default(42),
    /** Number of generated patients in the default dataset (the edge-case roster is added). */
    SEED_PATIENTS: z.coerce.number().int().min(1).max(10000).default(100),
    /** Anchor date of generated data (YYYY-MM-DD); default today. */
    SEED_ANCHOR_DATE: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/)
      .optional(),
    /** Secret for next-auth session cookies; generated and stored in the database when unset. */
    NEXTAUTH_SECRET: z.string().min(16).optional(),
    /** Access token lifetime in seconds. */
    ACCESS_TOKEN_TTL: z.coerce.number().int().min(10).max(86400).default(3600),
    /** Refresh token lifetime in seconds for offline_access (ONC: at least 3 months; renewed on each refresh). */
    REFRESH_TOKEN_TTL: z.coerce.number().int().min(60).max(31_536_000).default(8_640_000),
    /** Let anyone call /oauth/introspect without authenticating (docs/CONFORMANCE.md #134: Inferno's "open introspection" switch). */
    OAUTH_INTROSPECTION_OPEN: z.stringbool().default(false),
    /** Results above this count mark an audit record as excessive access. */
    AUDIT_EXCESSIVE_RESULTS: z.coerce.number().int().min(1).default(10000),
    /** Length of a rate-limit window in seconds (per-client, per-patient and registration limits). */
    RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
    /** Requests per window per client_id on the FHIR API and the token, introspection and revocation endpoints together (0: no limit). */
    RATE_LIMIT_CLIENT: z.coerce.number().int().min(0).default(1200),
    /** FHIR requests per window per patient in a token's context, all clients together (0: no limit). */
    RATE_LIMIT_PATIENT: z.coerce.number().int().min(0).default(600),
    /** Failed sign-in attempts per persona, and per console username, per 15 minutes before sign-in is locked (0: no limit). */
    RATE_LIMIT_SIGNIN_PERSONA: z.coerce.number().int().min(0).default(10),
    /** Failed sign-in attempts per IP address per 15 minutes before sign-in is locked (0: no limit). */
    RATE_LIMIT_SIGNIN_IP: z.coerce.number().int().min(0).default(50),
    /** Dynamic client registrations per IP address per window (0: no limit). */
    RATE_LIMIT_REGISTER_IP: z.coerce.number().int().min(0).default(60),
    /** Console account (required when NODE_ENV=production or not on localhost). */
    CONSOLE_USER: z.string().optional(),
    CONSOLE_PASSWORD: z.string().optional(),
  })
  .superRefine((e, ctx) => {
    if (e.HTTPS_ONLY && !e.PUBLIC_ORIGIN?.startsWith('https://')) {
      ctx.addIssue({
        code: 'custom',
        path: ['PUBLIC_ORIGIN'],
        message: 'HTTPS_ONLY=1 needs PUBLIC_ORIGIN=https://… (the origin clients reach the sandbox on)',
      });
    }
  });

export type Env = z.infer<typeof schema>;

function readEnv(): Env {
  const parsed = schema.safeParse(process.env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** The validated environment: the only place process.env is read. */
export const env: Env = readEnv();

/** Kind of database selected by DATABASE_URL. */
export function databaseKind(url: string = env.DATABASE_URL): 'sqlite' | 'postgresql' {
  return /^postgres(ql)?:\/\//.test(url) ? 'postgresql' : 'sqlite';
}
