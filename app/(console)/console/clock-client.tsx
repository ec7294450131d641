'use client';

import { useState } from 'react';

const STEPS: [string, number][] = [
  ['+10 min', 600],
  ['+1 h', 3600],
  ['+1 day', 86_400],
];

/** Sends a clock change to the sandbox's clock API: its new offset, or why it was refused. */
async function postClock(base: string, body: Record<string, number>): Promise<{ offsetSeconds: number } | { error: string }> {
  const res = await fetch(`${base}/api/console/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = (await res.json().catch(() => ({}))) as { clockOffsetSeconds?: number; error_description?: string };
  return res.ok && typeof answer.clockOffsetSeconds === 'number'
    ? { offsetSeconds: answer.clockOffsetSeconds }
    : { error: answer.error_description ?? `failed (${res.status})` };
}

function describe(seconds: number): string {
  if (seconds === 0) return 'real time';
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${d ? `${d}d ` : ''}${h ? `${h}h ` : ''}${m}m ahead of real time`;
}

/**
 * The sandbox's clock (issue 15 item 7): how far it runs ahead, and buttons that move it forward
 * or back to real time. Tokens, codes, refresh tokens and launches of this sandbox only behave as
 * if that time had passed.
 */
export function ClockControls({ base, offsetSeconds }: { base: string; offsetSeconds: number }) {
  const [offset, setOffset] = useState(offsetSeconds);
  const [error, setError] = useState<string | null>(null);
  async function move(body: Record<string, number>) {
    const answer = await postClock(base, body);
    if ('offsetSeconds' in answer) {
      setOffset(answer.offsetSeconds);
      setError(null);
    } else setError(answer.error);
  }
  return (
    <div className={`notice${offset ? ' warn' : ''}`} data-testid="sandbox-clock" style={{ margin: '8px 16px' }}>
      Sandbox clock: <strong data-testid="sandbox-clock-offset">{describe(offset)}</strong>{' '}
      {STEPS.map(([label, seconds]) => (
        <button key={label} type="button" className="secondary" onClick={() => void move({ advanceSeconds: seconds })}>
          {label}
        </button>
      ))}{' '}
      <button type="button" className="secondary" onClick={() => void move({ offsetSeconds: 0 })} disabled={offset === 0}>
        Back to real time
      </button>
      {error ? <span className="error"> {error}</span> : null}
    </div>
  );
}

/**
 * Moves the sandbox's clock to `secondsBefore` seconds before `expiresAt` (an ISO instant), so the
 * next calls with that token run just before it expires (issue 15 item 7).
 */
export function ClockToExpiry({ base, expiresAt, secondsBefore = 30 }: { base: string; expiresAt: string; secondsBefore?: number }) {
  const [error, setError] = useState<string | null>(null);
  async function move() {
    const answer = await postClock(base, { untilSeconds: Math.floor(new Date(expiresAt).getTime() / 1000) - secondsBefore });
    if ('offsetSeconds' in answer) window.location.reload();
    else setError(answer.error);
  }
  return (
    <>
      <button type="button" className="secondary" data-testid="clock-to-expiry" onClick={() => void move()}>
        Move the sandbox clock to {secondsBefore} s before this token expires
      </button>
      {error ? <span className="error"> {error}</span> : null}
    </>
  );
}
