'use client';

import { useState, useTransition } from 'react';
import type { BackendDemoRun } from '#lib/launcher/backend-demo';
import { BackendDemoSteps } from '../../../(launcher)/backend-demo-steps';
import { runBackendDemoConsoleAction } from '../actions';

/** The Run button and the steps of the last run. */
export function BackendDemoRunner({ defaultScope }: { defaultScope: string }) {
  const [scope, setScope] = useState(defaultScope);
  const [run, setRun] = useState<BackendDemoRun | null>(null);
  const [pending, startTransition] = useTransition();
  return (
    <>
      <div className="card actions">
        <label>
          Scope <input aria-label="Scope" value={scope} onChange={(e) => setScope(e.target.value)} size={30} />
        </label>
        <button type="button" disabled={pending} onClick={() => startTransition(async () => setRun(await runBackendDemoConsoleAction(scope)))}>
          {pending ? 'Running…' : 'Run backend demo'}
        </button>
      </div>
      {run ? <BackendDemoSteps run={run} /> : null}
    </>
  );
}
