'use client';

import { useState } from 'react';
import type { AttendeeJson, WorkshopProgressJson } from '#lib/console/workshops-api';
import { useLiveProgress } from '../../live-progress-client';

interface Props {
  roomId: string;
  initial: WorkshopProgressJson;
  milestones: { id: string; label: string }[];
}

const CLOCK_STEPS: [string, number][] = [
  ['+10 min', 600],
  ['+1 h', 3600],
  ['+1 day', 86_400],
];

function time(iso: string | undefined): string {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '';
}

function offset(seconds: number): string {
  if (seconds === 0) return 'real time';
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `+${d ? `${d}d ` : ''}${h ? `${h}h ` : ''}${m}m`;
}

/**
 * The instructor's live grid: one row per attendee, one column per milestone with the time it was
 * reached, updated from the room's server-sent events (no reload). Per attendee: open their flows,
 * move their sandbox's clock, reset their sandbox.
 */
export function ProgressGrid({ roomId, initial, milestones }: Props) {
  const [message, setMessage] = useState<string | null>(null);
  const { data, state } = useLiveProgress(`/api/workshops/${encodeURIComponent(roomId)}/events`, 'deleted', initial, () =>
    setMessage('This room was deleted.'),
  );

  async function post(attendee: AttendeeJson, action: 'reset' | 'clock', body: unknown, done: string) {
    const res = await fetch(`/api/workshops/${encodeURIComponent(roomId)}/attendees/${encodeURIComponent(attendee.id)}/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await res.json().catch(() => ({}))) as { error_description?: string };
    setMessage(res.ok ? `${attendee.name}: ${done}` : `${attendee.name}: ${answer.error_description ?? `failed (${res.status})`}`);
  }

  return (
    <>
      <p className="muted-small" data-testid="grid-live">
        {state !== 'connecting' ? '● live' : '○ connecting…'} · {data.attendees.length} attendee{data.attendees.length === 1 ? '' : 's'}
      </p>
      {message ? (
        <p className="notice" role="status">
          {message}
        </p>
      ) : null}
      <div style={{ overflowX: 'auto' }}>
        <table data-testid="progress-grid">
          <thead>
            <tr>
              <th>Attendee</th>
              {milestones.map((m) => (
                <th key={m.id} className="muted-small" title={m.label}>
                  {m.label}
                </th>
              ))}
              <th>Exercises</th>
              <th>Clock</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {data.attendees.map((a) => {
              const done = a.exercises.filter((e) => e.doneAt).length;
              return (
                <tr key={a.id} data-testid="attendee-row" data-attendee={a.name}>
                  <td>
                    <strong>{a.name}</strong>
                    <br />
                    <span className="muted-small">joined {time(a.joinedAt)}</span>
                  </td>
                  {milestones.map((m) => {
                    const at = (a.milestones as Record<string, string | undefined>)[m.id];
                    return (
                      <td key={m.id} data-milestone={m.id} data-reached={at ? 'yes' : 'no'}>
                        {at ? <span className="badge ok">✓ {time(at)}</span> : null}
                      </td>
                    );
                  })}
                  <td>
                    {done}/{a.exercises.length}
                  </td>
                  <td className="muted-small" data-testid="clock-offset">
                    {offset(a.clockOffsetSeconds)}
                  </td>
                  <td className="actions">
                    <a href={`${a.consoleUrl}/flows`} target="_blank" rel="noreferrer">
                      flows
                    </a>
                    {CLOCK_STEPS.map(([label, seconds]) => (
                      <button
                        key={label}
                        type="button"
                        className="secondary"
                        onClick={() => void post(a, 'clock', { advanceSeconds: seconds }, `clock moved ${label}`)}
                      >
                        {label}
                      </button>
                    ))}
                    <button type="button" className="secondary" onClick={() => void post(a, 'clock', { offsetSeconds: 0 }, 'clock back to real time')}>
                      real time
                    </button>
                    <button
                      type="button"
                      className="danger"
                      onClick={() => {
                        if (window.confirm(`Reset ${a.name}'s sandbox to a fresh copy of the room's dataset?`)) void post(a, 'reset', {}, 'sandbox reset');
                      }}
                    >
                      reset
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}
