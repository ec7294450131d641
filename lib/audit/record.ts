import { randomUUID } from 'node:crypto';
import { getDb } from '../db';
import { DEFAULT_SANDBOX_ID } from '../sandbox';

/** Flags a record can carry; the console lists flagged records as alerts. */
export type AuditFlag =
  | 'suspected-bola'
  | 'code-replay'
  | 'refresh-replay'
  | 'assertion-replay'
  | 'excessive-results'
  | 'rate-limited'
  | 'invalid-token';

export interface AuditEntry {
  sandboxId?: string;
  /** oauth | fhir | launch | console */
  kind: 'oauth' | 'fhir' | 'launch' | 'console';
  method: string;
  /** e.g. /oauth/token, /fhir/Observation */
  endpoint: string;
  resourceType?: string | null;
  resourceId?: string | null;
  clientId?: string | null;
  userId?: string | null;
  patientId?: string | null;
  launchId?: string | null;
  /** Scopes that allowed or denied the request (space-separated). */
  scopes?: string | null;
  status: number;
  errorCode?: string | null;
  /** Short human-readable detail; never a full token or secret. */
  detail?: string | null;
  resultCount?: number | null;
  latencyMs: number;
  ip?: string | null;
  userAgent?: string | null;
  origin?: string | null;
  flags?: AuditFlag[];
}

/** Where a request came from, for the audit record. */
export function requestSource(req: Request): Pick<AuditEntry, 'ip' | 'userAgent' | 'origin'> {
  const fwd = req.headers.get('x-forwarded-for');
  return {
    ip: fwd ? fwd.split(',')[0]!.trim() : (req.headers.get('x-real-ip') ?? null),
    userAgent: req.headers.get('user-agent')?.slice(0, 300) ?? null,
    origin: req.headers.get('origin') ?? null,
  };
}

/** Writes one audit record. Never throws: a failed audit write is reported on stderr. */
export async function recordAudit(entry: AuditEntry): Promise<void> {
  try {
    await getDb().auditRecord.create({
      data: {
        id: randomUUID(),
        sandboxId: entry.sandboxId ?? DEFAULT_SANDBOX_ID,
        at: new Date(),
        kind: entry.kind,
        method: entry.method,
        endpoint: entry.endpoint.slice(0, 500),
        resourceType: entry.resourceType ?? null,
        resourceId: entry.resourceId ?? null,
        clientId: entry.clientId ?? null,
        userId: entry.userId ?? null,
        patientId: entry.patientId ?? null,
        launchId: entry.launchId ?? null,
        scopes: entry.scopes ?? null,
        status: entry.status,
        errorCode: entry.errorCode ?? null,
        detail: entry.detail?.slice(0, 1000) ?? null,
        resultCount: entry.resultCount ?? null,
        latencyMs: entry.latencyMs,
        ip: entry.ip ?? null,
        userAgent: entry.userAgent ?? null,
        origin: entry.origin ?? null,
        flags: entry.flags?.length ? entry.flags.join(' ') : null,
      },
    });
  } catch (err) {
    console.error('audit write failed:', err instanceof Error ? err.message : String(err));
  }
}
