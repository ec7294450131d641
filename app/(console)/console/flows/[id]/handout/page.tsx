import { headers } from 'next/headers';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { requireConsoleSession } from '#lib/console/auth';
import { FLOW_KIND_LABELS, getFlowDocument } from '#lib/console/flow-events';
import { LANE_LABELS } from '#lib/console/flows';
import { publicOrigin } from '#lib/http/origin';
import { currentSandbox } from '#lib/sandbox/context';
import { SequenceDiagram } from '../../sequence-diagram';
import { inSandboxPage } from '../../../../../request-sandbox';

export const metadata = { title: 'Flow handout · SMART Sandbox console' };

type Props = { params: Promise<{ id: string }> };

/** A printable page of one flow: the sequence diagram, then each numbered step explained. */
async function FlowHandoutPage({ params }: Props) {
  const { id } = await params;
  await requireConsoleSession(`/console/flows/${id}/handout`);
  // Links stay in the sandbox the page is shown for (`/s/{id}` in a workshop attendee's console).
  const prefix = currentSandbox().basePath;
  const flow = await getFlowDocument(id, { origin: `${publicOrigin(await headers())}${currentSandbox().basePath}` });
  if (!flow) notFound();
  return (
    <article className="handout" data-testid="flow-handout">
      <p className="no-print">
        <Link href={`${prefix}/console/flows/${encodeURIComponent(flow.id)}`}>← Back to the flow</Link> · Print this page (Ctrl+P) for a handout.
      </p>
      <h1>{flow.title}</h1>
      <p className="lead">
        {FLOW_KIND_LABELS[flow.kind]} · recorded {flow.at.toISOString().replace('T', ' ').slice(0, 19)} UTC · client {flow.clientId ?? 'unknown'}
        {flow.patientId ? ` · patient ${flow.patientId}` : ''}
      </p>
      {flow.failure ? (
        <div className="notice bad">
          <strong>This flow failed.</strong> Rule: {flow.failure.rule.title} ({flow.failure.rule.spec}). What the app should do instead:{' '}
          {flow.failure.rule.advice}
        </div>
      ) : null}
      <h2>Sequence</h2>
      <SequenceDiagram steps={flow.steps} />
      <h2>Step by step</h2>
      <ol className="handout-steps">
        {flow.steps.map((s) => (
          <li key={s.key} className={s.outcome}>
            <h3>
              {s.title}{' '}
              <span className="muted-small">
                {LANE_LABELS[s.from]} → {LANE_LABELS[s.to]}
              </span>
            </h3>
            <p>{s.summary}</p>
            {s.request ? (
              <p>
                <code>
                  {s.request.method} {s.request.path}
                </code>
                {s.response ? (
                  <>
                    {' '}
                    → <strong>{s.response.status}</strong>
                    {s.response.errorCode ? ` ${s.response.errorCode}` : ''}
                  </>
                ) : null}
              </p>
            ) : null}
            {s.params.length ? (
              <ul>
                {s.params.map((p) => (
                  <li key={p.name}>
                    <code>{p.name}</code>: {p.explanation}
                  </li>
                ))}
              </ul>
            ) : null}
            {s.rule ? (
              <p className="notice bad">
                Refused by: {s.rule.title} ({s.rule.spec}). Instead: {s.rule.advice}
              </p>
            ) : null}
          </li>
        ))}
      </ol>
    </article>
  );
}

export default inSandboxPage(FlowHandoutPage);
