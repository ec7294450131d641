import { headers } from 'next/headers';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { requireConsoleSession } from '#lib/console/auth';
import { firstParam } from '#lib/console/format';
import { publicOrigin } from '#lib/http/origin';
import { explainJwtMember } from '#lib/console/token-jwt';
import type { DecodedTokenJwt } from '#lib/console/token-jwt';
import { getTokenDetail } from '#lib/console/tokens';
import { revokeTokenAction } from '../../actions';
import { CopyButton } from '../copy-button-client';
import { ExpiryCountdown } from '../countdown-client';
import { ClockToExpiry } from '../../clock-client';
import { DEFAULT_SANDBOX_ID } from '#lib/sandbox/index';
import { inSandboxPage } from '../../../../request-sandbox';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'Token · SMART Sandbox console' };

const SIGNATURE_LABELS: Record<DecodedTokenJwt['signature']['state'], string> = {
  valid: '✓ Signature valid',
  invalid: '✗ Signature invalid',
  'unknown-key': '? Signing key no longer published',
};

/** The access token as issued: header.payload.signature in three colours, a copy button and the signature check. */
function RawJwt({ jwt }: { jwt: DecodedTokenJwt }) {
  return (
    <>
      <h2>Raw JWT</h2>
      <p className="muted">
        The access token exactly as the app received it: three base64url parts separated by dots, <span className="jwt-header">header</span>.
        <span className="jwt-payload">payload</span>.<span className="jwt-signature">signature</span>. Anyone holding it can call the FHIR API until it expires
        or is revoked.
      </p>
      <div className="jwt-raw" data-testid="token-jwt">
        <span className="jwt-header">{jwt.parts.header}</span>.<span className="jwt-payload">{jwt.parts.payload}</span>.
        <span className="jwt-signature">{jwt.parts.signature}</span>
      </div>
      <div className="actions" style={{ marginTop: 8 }}>
        <CopyButton text={jwt.raw} label="Copy JWT" />
        <span className="muted-small">{jwt.raw.length} characters</span>
      </div>
      <p className={jwt.signature.state === 'valid' ? 'notice' : 'notice bad'} data-testid="token-signature" data-state={jwt.signature.state}>
        <strong>{SIGNATURE_LABELS[jwt.signature.state]}</strong> — {jwt.signature.detail}
      </p>
    </>
  );
}

/** A header's or claims' members, each with its meaning. */
function JwtMembers({ part, values, testId }: { part: 'header' | 'claims'; values: Record<string, unknown>; testId?: string }) {
  return (
    <table className="jwt-members" data-testid={testId}>
      <tbody>
        {Object.entries(values).map(([name, value]) => (
          <tr key={name} data-member={name}>
            <td>
              <code>{name}</code>
            </td>
            <td>
              <code>{typeof value === 'string' ? value : JSON.stringify(value)}</code>
            </td>
            <td className="muted-small">{explainJwtMember(part, name, value) ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

type Props = { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> };

async function TokenPage({ params, searchParams }: Props) {
  const { id } = await params;
  await requireConsoleSession(`/console/tokens/${id}`);
  const sandbox = currentSandbox();
  const sandboxBase = sandbox.basePath;
  const detail = await getTokenDetail(id, { origin: publicOrigin(await headers()) });
  if (!detail) notFound();
  const { token } = detail;
  const justRevoked = firstParam((await searchParams).revoked);
  return (
    <>
      <p>
        <Link href={`${sandboxBase}/console/tokens`}>← Tokens</Link>
      </p>
      <h1>
        {token.kind === 'access' ? 'Access token' : 'Refresh token'} <code>{token.id.slice(0, 12)}…</code>{' '}
        <span className={`badge ${token.status}`} data-testid="token-status">
          {token.status}
        </span>
      </h1>
      {justRevoked === 'grant' ? (
        <p className="notice warn" role="status" data-testid="revoked-notice">
          Revoked the whole grant: this token and every token issued under it, the refresh token too. The app&apos;s next call gets 401 invalid_token and its
          next refresh invalid_grant; it must be authorized again.
        </p>
      ) : justRevoked ? (
        <p className="notice warn" role="status" data-testid="revoked-notice">
          Revoked this token only. The app&apos;s next call with it gets 401 invalid_token
          {token.grantId ? "; the grant's refresh token still works, so the app can get a new one" : ''}.
        </p>
      ) : null}
      <div className="card">
        <dl className="kv">
          <dt>Client</dt>
          <dd>
            {detail.clientName ? `${detail.clientName} ` : ''}
            <code>{token.clientId}</code>
          </dd>
          <dt>User</dt>
          <dd>{token.userId ?? '— (no user)'}</dd>
          <dt>Patient</dt>
          <dd>{token.patientId ? <Link href={`${sandboxBase}/console/data/patients/${encodeURIComponent(token.patientId)}`}>{token.patientId}</Link> : '—'}</dd>
          <dt>Encounter</dt>
          <dd>{detail.encounterId ?? '—'}</dd>
          <dt>Issued</dt>
          <dd>{token.issuedAt.toISOString()}</dd>
          <dt>Expires</dt>
          <dd>
            {token.expiresAt.toISOString()} —{' '}
            <ExpiryCountdown expiresAt={token.expiresAt.toISOString()} revoked={token.status === 'revoked'} clockOffsetSeconds={sandbox.clockOffsetSeconds} />
            {sandbox.clockOffsetSeconds ? <span className="muted-small"> (sandbox clock)</span> : null}
          </dd>
          <dt>Grant</dt>
          <dd>
            {token.grantId ? (
              <Link href={`${sandboxBase}/console/flows/${encodeURIComponent(token.grantId)}`}>flow of grant {token.grantId.slice(0, 10)}…</Link>
            ) : (
              '— (backend token, no grant)'
            )}
          </dd>
        </dl>
        <div className="actions" style={{ marginTop: 12 }}>
          {token.status !== 'revoked' ? (
            <>
              <form action={revokeTokenAction} className="inline">
                <input type="hidden" name="id" value={token.id} />
                <input type="hidden" name="scope" value="token" />
                <button type="submit" className="danger">
                  Revoke this token
                </button>
              </form>
              {token.grantId ? (
                <form action={revokeTokenAction} className="inline">
                  <input type="hidden" name="id" value={token.id} />
                  <input type="hidden" name="scope" value="grant" />
                  <button type="submit" className="danger">
                    Revoke the whole grant (refresh token too)
                  </button>
                </form>
              ) : null}
            </>
          ) : null}
          <Link
            className="button secondary"
            href={`${sandboxBase}/console/audit?clientId=${encodeURIComponent(token.clientId)}${token.patientId ? `&patientId=${encodeURIComponent(token.patientId)}` : ''}`}
          >
            Audit records of this client{token.patientId ? ' and patient' : ''}
          </Link>
          <Link className="button secondary" href={`${sandboxBase}/console/scopes?token=${encodeURIComponent(token.id)}`}>
            Test a request with this token
          </Link>
          {/* A workshop sandbox's clock can jump to just before this token expires (issue 15 item 7). */}
          {sandbox.id !== DEFAULT_SANDBOX_ID && token.status === 'active' ? (
            <ClockToExpiry base={sandboxBase} expiresAt={token.expiresAt.toISOString()} />
          ) : null}
        </div>
      </div>

      {detail.jwt ? <RawJwt jwt={detail.jwt} /> : null}
      {detail.header && detail.claims ? (
        <>
          <h2>Decoded JWT</h2>
          {detail.claimsSource === 'rebuilt' ? (
            <p className="notice" data-testid="reconstructed-note">
              This token was issued before the server kept issued JWTs, so the raw token cannot be shown. Below are its header and claims exactly as they were
              signed, rebuilt from the token&apos;s row.
            </p>
          ) : null}
          <div className="grid2">
            <div>
              <h3>Header</h3>
              <JwtMembers part="header" values={detail.header} testId="token-header" />
            </div>
            <div>
              <h3>Claims</h3>
              <JwtMembers part="claims" values={detail.claims} />
              <details>
                <summary>Claims as JSON</summary>
                <pre className="json" data-testid="token-claims">
                  {JSON.stringify(detail.claims, null, 2)}
                </pre>
              </details>
            </div>
          </div>
        </>
      ) : (
        <div className="notice" data-testid="refresh-not-retrievable">
          <strong>Not retrievable.</strong> A refresh token is an opaque random string that only the app holds: the server stores only its SHA-256 hash (to
          recognise it when the app uses it), so there is nothing to show or decode.
          {detail.refreshHashPrefix ? (
            <>
              {' '}
              Stored hash: <code>{detail.refreshHashPrefix}…</code>
            </>
          ) : null}
        </div>
      )}

      <h2>Granted scopes, explained</h2>
      <div data-testid="scope-explanations">
        {detail.scopes.map((s) => (
          <div key={s.scope} className="card scope-card">
            <h3>
              <code>{s.scope}</code> {s.version ? <span className="badge">SMART v{s.version}</span> : <span className="badge">{s.kind}</span>}
            </h3>
            <p style={{ margin: 0 }}>{s.explanation}</p>
            {s.kind === 'resource' ? (
              <ul>
                <li>Resource types: {s.resourceTypes}</li>
                <li>Interactions: {s.interactions.join(', ')}</li>
                {s.compartment ? <li>{s.compartment}</li> : null}
                {s.filter ? <li>{s.filter}</li> : null}
                {s.otherVersion ? (
                  <li className="muted">
                    Same scope in SMART v{s.version === 1 ? 2 : 1}: <code>{s.otherVersion}</code>
                  </li>
                ) : null}
              </ul>
            ) : null}
          </div>
        ))}
        {detail.scopeErrors.map((e) => (
          <p key={e} className="error">
            {e}
          </p>
        ))}
      </div>

      <h2>Launch context</h2>
      <div className="card">
        {detail.grant ? (
          <dl className="kv">
            <dt>Launch kind</dt>
            <dd>{detail.grant.context.launchKind}</dd>
            <dt>patient</dt>
            <dd>{detail.grant.context.patient ?? '—'}</dd>
            <dt>encounter</dt>
            <dd>{detail.grant.context.encounter ?? '—'}</dd>
            <dt>fhirUser</dt>
            <dd>{detail.grant.context.fhirUser ?? '—'}</dd>
            {detail.grant.context.needPatientBanner !== undefined ? (
              <>
                <dt>need_patient_banner</dt>
                <dd>{String(detail.grant.context.needPatientBanner)}</dd>
              </>
            ) : null}
            {detail.grant.context.intent ? (
              <>
                <dt>intent</dt>
                <dd>{detail.grant.context.intent}</dd>
              </>
            ) : null}
            {detail.grant.context.fhirContext?.length ? (
              <>
                <dt>fhirContext</dt>
                <dd>
                  <code>{JSON.stringify(detail.grant.context.fhirContext)}</code>
                </dd>
              </>
            ) : null}
            <dt>EHR launch id</dt>
            <dd>
              {detail.launch ? (
                <>
                  <code>{detail.launch.id}</code> (created {detail.launch.createdAt.toISOString()})
                </>
              ) : (
                '— (standalone)'
              )}
            </dd>
            {detail.launch && detail.launch.options !== '{}' ? (
              <>
                <dt>Launch options</dt>
                <dd>
                  <code>{detail.launch.options}</code>
                </dd>
              </>
            ) : null}
          </dl>
        ) : (
          <p className="muted" style={{ margin: 0 }}>
            No grant: a backend (client_credentials) token has no launch context.
          </p>
        )}
      </div>

      <h2>Refresh chain</h2>
      <table data-testid="refresh-chain">
        <thead>
          <tr>
            <th>Token</th>
            <th>Kind</th>
            <th>Issued from</th>
            <th>Status</th>
            <th>Issued</th>
            <th>Scope</th>
          </tr>
        </thead>
        <tbody>
          {detail.chain.map((t) => (
            <tr key={t.id} className={t.id === token.id ? 'flagged' : undefined}>
              <td>
                <Link href={`${sandboxBase}/console/tokens/${encodeURIComponent(t.id)}`}>
                  <code>{t.id.slice(0, 10)}…</code>
                </Link>
                {t.id === token.id ? ' (this one)' : ''}
              </td>
              <td>
                {t.kind}
                {t.rotated ? ' (rotated)' : ''}
              </td>
              <td>{t.parentId ? <code>{t.parentId.slice(0, 10)}…</code> : 'authorization code'}</td>
              <td>
                <span className={`badge ${t.status}`}>{t.status}</span>
              </td>
              <td>{t.issuedAt.toISOString()}</td>
              <td>
                <code>{t.scope}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export default inSandboxPage(TokenPage);
