import type { BackendDemoRun } from '#lib/launcher/backend-demo';

function Json({ value }: { value: unknown }) {
  return <pre className="json">{typeof value === 'string' ? value : JSON.stringify(value, null, 2)}</pre>;
}

/** The backend demo's steps: each request and answer, and the JWTs decoded (the launcher and the console show it). */
export function BackendDemoSteps({ run }: { run: BackendDemoRun }) {
  return (
    <div className="card" data-testid="backend-demo">
      <h2>Backend service demo</h2>
      <p className="muted">
        client_id <code>{run.clientId}</code> · token URL <code>{run.tokenUrl}</code> · FHIR base <code>{run.fhirBase}</code>
      </p>
      <ol className="demo-steps">
        {run.steps.map((step) => (
          <li key={step.title} data-testid="backend-demo-step" data-ok={step.ok}>
            <h3>
              {step.title} {step.exchange ? <span className={step.ok ? 'badge' : 'badge danger'}>HTTP {step.exchange.status}</span> : null}
            </h3>
            <p>{step.explanation}</p>
            {step.exchange ? (
              <>
                <p>
                  <code>
                    {step.exchange.method} {step.exchange.url}
                  </code>
                </p>
                <details>
                  <summary>Request headers{step.exchange.requestBody ? ' and body' : ''}</summary>
                  <Json value={step.exchange.requestHeaders} />
                  {step.exchange.requestBody ? <Json value={step.exchange.requestBody} /> : null}
                </details>
                <details open>
                  <summary>Response</summary>
                  <Json value={step.exchange.responseHeaders} />
                  <Json value={step.exchange.responseBody} />
                </details>
              </>
            ) : null}
            {step.decoded ? (
              <details open>
                <summary>Decoded JWT</summary>
                <Json value={step.decoded.header} />
                <Json value={step.decoded.claims} />
              </details>
            ) : null}
          </li>
        ))}
      </ol>
    </div>
  );
}
