import { headers } from 'next/headers';
import { requireConsoleSession } from '#lib/console/auth';
import { firstParam } from '#lib/console/format';
import { publicOrigin } from '#lib/http/origin';
import { analyzeScopeString } from '#lib/console/scope-explain';
import { evaluatePlaygroundRequest } from '#lib/console/scope-playground';
import { getTokenDetail } from '#lib/console/tokens';
import { inSandboxPage } from '../../../request-sandbox';

export const metadata = { title: 'Scope playground · SMART Sandbox console' };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

const EXAMPLE =
  'launch/patient openid fhirUser patient/Patient.rs patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory user/Practitioner.read offline_access';

async function ScopesPage({ searchParams }: Props) {
  await requireConsoleSession('/console/scopes');
  const p = await searchParams;
  const tokenId = firstParam(p.token)?.slice(0, 200);
  const token = tokenId ? await getTokenDetail(tokenId, { origin: publicOrigin(await headers()) }) : null;
  const scope = firstParam(p.scope) ?? token?.token.scope ?? EXAMPLE;
  const patient = firstParam(p.patient) ?? token?.token.patientId ?? '';
  const fhirUser = firstParam(p.fhirUser) ?? token?.grant?.context.fhirUser ?? '';
  const method = (firstParam(p.method) ?? 'GET').toUpperCase();
  const url = firstParam(p.url) ?? `/fhir/Observation?patient=${patient || '123'}&category=vital-signs`;
  const analysis = analyzeScopeString(scope.slice(0, 4000));
  const answer =
    firstParam(p.url) !== undefined || tokenId
      ? evaluatePlaygroundRequest({
          scope,
          patientId: patient || null,
          fhirUser: fhirUser || null,
          // The real token's state decides first, as on the FHIR API (a revoked token is 401 whatever its scopes).
          ...(token && scope === token.token.scope ? { tokenStatus: token.token.status } : {}),
          method,
          url: url.slice(0, 2000),
        })
      : null;

  return (
    <>
      <h1>Scope playground</h1>
      <p className="lead">Paste a scope string to see how the server parses it; then ask whether a token with those scopes may make a FHIR request, and why.</p>
      <form method="get" className="card">
        {tokenId ? <input type="hidden" name="token" value={tokenId} /> : null}
        {token ? (
          <p className="notice">
            Pre-filled from token <code>{token.token.id.slice(0, 10)}…</code> ({token.token.clientId}, {token.token.status}).
          </p>
        ) : null}
        <label htmlFor="scope">
          <strong>Scopes</strong>
        </label>
        <textarea id="scope" name="scope" rows={3} style={{ width: '100%' }} defaultValue={scope} />
        <h2>Would this token be allowed to…</h2>
        <div className="filters" style={{ border: 0, padding: 0, margin: 0 }}>
          <label>
            Method
            <select name="method" defaultValue={method}>
              {['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </label>
          <label style={{ flex: 1 }}>
            Request
            <input name="url" defaultValue={url} style={{ width: '100%' }} />
          </label>
          <label>
            Token patient
            <input name="patient" defaultValue={patient} placeholder="(none)" />
          </label>
          <label>
            Token fhirUser
            <input name="fhirUser" defaultValue={fhirUser} placeholder="Practitioner/…" />
          </label>
          <button type="submit">Explain</button>
        </div>
      </form>

      {answer ? (
        <div
          className={`notice ${answer.verdict === 'allowed' ? '' : answer.verdict === 'denied' || answer.verdict === 'invalid' || answer.verdict === 'unauthorized' ? 'bad' : 'warn'}`}
          data-testid="playground-answer"
        >
          <p className="big" style={{ margin: '0 0 6px' }}>
            <span className={`badge ${answer.verdict}`}>{answer.verdict}</span> {answer.status !== null ? <strong>HTTP {answer.status}</strong> : null} —{' '}
            {answer.summary}
          </p>
          <ol style={{ margin: 0 }}>
            {answer.reasons.map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ol>
          {answer.wouldAllow ? (
            <p style={{ margin: '6px 0 0' }}>
              Add <code>{answer.wouldAllow}</code> to the requested scopes to allow it.
            </p>
          ) : null}
        </div>
      ) : null}

      <h2>Parsed scopes</h2>
      <p>
        {analysis.versions.length
          ? analysis.versions.map((v) => (
              <span key={v} className="badge" style={{ marginRight: 6 }}>
                SMART v{v}
              </span>
            ))
          : null}
        <span className="muted">
          {analysis.items.filter((i) => i.ok).length} understood, {analysis.errors.length} refused
        </span>
      </p>
      {analysis.notes.map((n) => (
        <p key={n} className="notice warn">
          {n}
        </p>
      ))}
      <div data-testid="parsed-scopes">
        {analysis.items.map((s) =>
          s.ok ? (
            <div key={s.scope} className="card scope-card">
              <h3>
                <code>{s.scope}</code> {s.version ? <span className="badge">v{s.version}</span> : <span className="badge">{s.kind}</span>}
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
                      In SMART v{s.version === 1 ? 2 : 1}: <code>{s.otherVersion}</code>
                    </li>
                  ) : null}
                </ul>
              ) : null}
            </div>
          ) : (
            <div key={s.scope} className="card scope-card refused">
              <h3>
                <code>{s.scope}</code> <span className="badge error">refused</span>
              </h3>
              <p style={{ margin: 0 }} className="error">
                {s.reason}
              </p>
            </div>
          ),
        )}
      </div>
    </>
  );
}

export default inSandboxPage(ScopesPage);
