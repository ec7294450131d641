import { headers } from 'next/headers';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { requireConsoleSession } from '#lib/console/auth';
import { FLOW_KIND_LABELS, getFlowDocument } from '#lib/console/flow-events';
import type { FlowParam } from '#lib/console/flows';
import { publicOrigin } from '#lib/http/origin';
import { currentSandbox } from '#lib/sandbox/context';
import { SequenceDiagram } from '../sequence-diagram';
import { inSandboxPage } from '../../../../request-sandbox';

export const metadata = { title: 'Flow · SMART Sandbox console' };

type Props = { params: Promise<{ id: string }> };

function Params({ params }: { params: readonly FlowParam[] }) {
  if (params.length === 0) return null;
  return (
    <table className="params">
      <tbody>
        {params.map((p) => (
          <tr key={p.name}>
            <td>{p.name}</td>
            <td>
              <code>{p.value}</code>
            </td>
            <td className="muted-small">{p.explanation}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

async function FlowPage({ params }: Props) {
  const { id } = await params;
  await requireConsoleSession(`/console/flows/${id}`);
  // Links stay in the sandbox the page is shown for (`/s/{id}` in a workshop attendee's console).
  const prefix = currentSandbox().basePath;
  const flow = await getFlowDocument(id, { origin: `${publicOrigin(await headers())}${currentSandbox().basePath}` });
  if (!flow) notFound();
  const base = `${prefix}/api/console/flows/${encodeURIComponent(flow.id)}`;
  const failedStep = flow.failure ? flow.steps.find((s) => s.key === flow.failure?.stepKey) : undefined;
  return (
    <>
      <p>
        <Link href={`${prefix}/console/flows`}>← Flows</Link>
      </p>
      <h1>
        {flow.title}{' '}
        {flow.outcome === 'failed' ? <span className="badge failed">✗ failed</span> : <span className="badge ok">✓ {FLOW_KIND_LABELS[flow.kind]}</span>}
      </h1>
      <p className="lead">
        {flow.at.toISOString()} · client {flow.clientId ?? 'unknown'} · user {flow.userId ?? '—'} · patient {flow.patientId ?? '—'}
        {flow.launchId ? (
          <>
            {' '}
            · <Link href={`${prefix}/console/audit?launchId=${encodeURIComponent(flow.launchId)}`}>audit records of this launch</Link>
          </>
        ) : null}
        {flow.grantId && flow.kind === 'launch' ? (
          <>
            {' · '}
            <Link href={`${prefix}/console/tokens?grantId=${encodeURIComponent(flow.grantId)}`}>tokens of this grant</Link>
          </>
        ) : null}
        {flow.grantId && flow.kind !== 'launch' ? (
          <>
            {' · '}
            <Link href={`${prefix}/console/flows/${encodeURIComponent(flow.grantId)}`}>the launch this belonged to</Link>
          </>
        ) : null}
      </p>
      {flow.failure ? (
        <div className="notice bad" data-testid="flow-failure">
          <p className="big" style={{ margin: '0 0 6px' }}>
            <strong>Failed at: {failedStep?.title ?? flow.failure.stepKey}</strong>
            {flow.failure.errorCode ? (
              <>
                {' '}
                — <code>{flow.failure.errorCode}</code>
              </>
            ) : null}
          </p>
          <p style={{ margin: '0 0 4px' }}>{flow.failure.description}</p>
          <dl className="kv">
            <dt>Rule</dt>
            <dd data-testid="failure-rule">{flow.failure.rule.title}</dd>
            <dt>Spec</dt>
            <dd data-testid="failure-spec">{flow.failure.rule.spec}</dd>
            <dt>What the app should do instead</dt>
            <dd data-testid="failure-advice">{flow.failure.rule.advice}</dd>
          </dl>
        </div>
      ) : null}
      <p className="actions" data-testid="flow-exports">
        <a className="button secondary" href={`${base}/export?format=curl`} download>
          Shell transcript (curl)
        </a>
        <a className="button secondary" href={`${base}/export?format=postman`} download>
          Postman collection
        </a>
        <Link className="button secondary" href={`${prefix}/console/flows/${encodeURIComponent(flow.id)}/handout`}>
          Printable handout
        </Link>
        <a className="button secondary" href={base}>
          As JSON
        </a>
      </p>
      {flow.notes.map((n) => (
        <p key={n} className="notice warn">
          {n}
        </p>
      ))}
      <h2>Sequence</h2>
      <SequenceDiagram steps={flow.steps} />
      <h2>Step by step</h2>
      <ol className="timeline" data-testid="flow-timeline">
        {flow.steps.map((s) => (
          <li key={s.key} className={s.outcome} data-step={s.kind}>
            <h3>
              {s.title} {s.at ? <span className="muted-small">{s.at.toISOString().slice(11, 23)}</span> : null}{' '}
              {s.flags.map((f) => (
                <span key={f} className={f === 'simulated' ? 'badge info' : 'badge flag'}>
                  {f}
                </span>
              ))}
            </h3>
            <div className="card">
              <p style={{ margin: '0 0 6px' }}>{s.summary}</p>
              <Params params={s.params} />
              {s.pkce ? (
                <div className={`pkce ${s.pkce.match === 'no' ? 'no' : ''}`} data-testid="pkce-check">
                  <strong>PKCE check ({s.pkce.method})</strong>
                  <dl className="kv">
                    <dt>code_verifier</dt>
                    <dd>
                      <code>{s.pkce.verifier}</code>
                    </dd>
                    <dt>BASE64URL(SHA-256(verifier))</dt>
                    <dd>
                      <code>{s.pkce.verifierSha256}</code>
                    </dd>
                    <dt>stored code_challenge</dt>
                    <dd>
                      <code>{s.pkce.storedChallenge}</code>
                    </dd>
                    <dt>match</dt>
                    <dd>
                      <span className={`badge ${s.pkce.match === 'yes' ? 'ok' : s.pkce.match === 'no' ? 'error' : 'info'}`}>
                        {s.pkce.match === 'yes' ? '✓ match' : s.pkce.match === 'no' ? '✗ no match' : 'unknown'}
                      </span>
                    </dd>
                  </dl>
                  <p className="muted-small" style={{ margin: '4px 0 0' }}>
                    {s.pkce.explanation}
                  </p>
                </div>
              ) : null}
              {s.tokenResponse ? (
                <>
                  <Params params={s.tokenResponse.extras} />
                  <div className="grid2">
                    <div>
                      <h4>access_token header</h4>
                      <pre className="json">{JSON.stringify(s.tokenResponse.header, null, 2)}</pre>
                    </div>
                    <div>
                      <h4>access_token claims</h4>
                      <pre className="json">{JSON.stringify(s.tokenResponse.claims, null, 2)}</pre>
                    </div>
                  </div>
                  {typeof s.tokenResponse.claims.jti === 'string' ? (
                    <Link href={`${prefix}/console/tokens/${encodeURIComponent(s.tokenResponse.claims.jti)}`}>Open this token</Link>
                  ) : null}
                </>
              ) : null}
              {s.decision ? (
                <div className="notice" style={{ marginBottom: 0 }}>
                  <span className={`badge ${s.decision.verdict}`}>{s.decision.verdict}</span> {s.decision.summary}
                  <ul style={{ margin: '4px 0 0' }}>
                    {s.decision.reasons.slice(1).map((r) => (
                      <li key={r}>{r}</li>
                    ))}
                  </ul>
                </div>
              ) : null}
              {s.rule ? (
                <div className="notice bad" style={{ marginBottom: 0 }} data-testid="step-rule">
                  <strong>Refused by:</strong> {s.rule.title} <span className="muted-small">({s.rule.spec})</span>
                  <br />
                  <strong>Instead:</strong> {s.rule.advice}
                </div>
              ) : null}
              {s.auditId ? (
                <p className="muted-small" style={{ margin: '6px 0 0' }}>
                  <Link href={`${prefix}/console/audit/${encodeURIComponent(s.auditId)}`}>audit record</Link>
                </p>
              ) : null}
            </div>
          </li>
        ))}
      </ol>
    </>
  );
}

export default inSandboxPage(FlowPage);
