'use client';

import { useActionState, useEffect, useState } from 'react';
import type { ReseedStatus } from '#lib/console/data';
import type { ReseedActionState } from '../actions';
import { reseedAction } from '../actions';

/** Reseed / reset forms and a progress bar polled from /api/console/reseed while a run is going. */
export function ReseedPanel({ initial, defaultSeed, defaultPatients }: { initial: ReseedStatus; defaultSeed: number; defaultPatients: number }) {
  const [state, formAction, pending] = useActionState<ReseedActionState, FormData>(reseedAction, null);
  const [status, setStatus] = useState(initial);
  const running = status.state === 'running' || (state?.ok === true && status.state !== 'done' && status.state !== 'failed');

  useEffect(() => {
    if (!running && !state?.ok) return;
    let stop = false;
    const timer = setInterval(async () => {
      const res = await fetch('/api/console/reseed', { cache: 'no-store' }).catch(() => null);
      if (!res?.ok || stop) return;
      const s = (await res.json()) as ReseedStatus;
      setStatus(s);
      if (s.state === 'done' || s.state === 'failed') clearInterval(timer);
    }, 1000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [running, state]);

  return (
    <div className="card">
      <div className="actions">
        <form action={formAction} className="actions">
          <label>Seed <input name="seed" type="number" min={0} defaultValue={defaultSeed} style={{ width: 110 }} /></label>
          <label>Patients <input name="patients" type="number" min={1} max={2000} defaultValue={defaultPatients} style={{ width: 90 }} /></label>
          <button type="submit" disabled={pending || running}>Reseed</button>
        </form>
        <form action={formAction}>
          <input type="hidden" name="reset" value="1" />
          <button type="submit" className="secondary" disabled={pending || running}>Reset to the default dataset</button>
        </form>
      </div>
      <p className="muted-small" style={{ margin: '6px 0' }}>Replaces every FHIR resource; clients, tokens and the audit trail stay.</p>
      {state && !state.ok ? <p className="error" role="alert">{state.message}</p> : null}
      {status.state !== 'idle' ? (
        <div data-testid="reseed-progress">
          <div className="progress" aria-label="Reseed progress"><div style={{ width: `${status.percent}%` }} /></div>
          <p className="muted-small" style={{ margin: '4px 0 0' }}>
            <span className={`badge ${status.state === 'done' ? 'ok' : status.state}`}>{status.state}</span> {status.percent}% {status.text}
          </p>
        </div>
      ) : null}
    </div>
  );
}
