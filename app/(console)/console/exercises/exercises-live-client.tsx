'use client';

import type { ReactNode } from 'react';
import type { OwnProgressJson } from '#lib/console/workshops-api';
import { useLiveProgress } from '../live-progress-client';

interface Props {
  /** `/s/{id}`: the attendee's sandbox. */
  basePath: string;
  initial: OwnProgressJson;
  exercises: { key: string; title: string; milestones: string[]; instructions: ReactNode }[];
  milestones: { id: string; label: string }[];
}

function time(iso: string | undefined): string {
  return iso ? iso.slice(11, 19) : '';
}

/**
 * The attendee's exercises with their ticks, kept current from the sandbox's server-sent events:
 * a tick appears as soon as the sandbox's audit trail shows the milestone, without a reload.
 */
export function LiveExercises({ basePath, initial, exercises, milestones }: Props) {
  const { data, state } = useLiveProgress(`${basePath}/api/console/exercises/events`, 'closed', initial);

  const reached = data.milestones as Record<string, string | undefined>;
  const done = new Map(data.exercises.map((e) => [e.key, e.doneAt]));
  return (
    <>
      <p className="muted-small" data-testid="exercises-live">
        {state === 'live' ? '● live: ticks appear as your sandbox observes each step' : state === 'ended' ? '○ the room is closed' : '○ connecting…'}
      </p>
      {exercises.length === 0 ? <p className="card muted">The instructor has not attached exercises to this room.</p> : null}
      {exercises.map((e) => {
        const doneAt = done.get(e.key) ?? null;
        return (
          <div key={e.key} className="card" data-testid="exercise" data-done={doneAt ? 'yes' : 'no'}>
            <h2>
              {doneAt ? '✅ ' : '⬜ '}
              {e.title}
            </h2>
            {e.instructions}
            <ul>
              {e.milestones.map((m) => (
                <li key={m} data-milestone={m} data-reached={reached[m] ? 'yes' : 'no'}>
                  {reached[m] ? '✓' : '·'} {milestones.find((x) => x.id === m)?.label ?? m}
                  {reached[m] ? <span className="muted-small"> at {time(reached[m])} UTC</span> : null}
                </li>
              ))}
            </ul>
          </div>
        );
      })}
      <h2>Milestones reached</h2>
      <ul data-testid="milestones">
        {milestones
          .filter((m) => reached[m.id])
          .map((m) => (
            <li key={m.id}>
              {m.label} <span className="muted-small">at {time(reached[m.id])} UTC</span>
            </li>
          ))}
      </ul>
    </>
  );
}
