'use client';

import { useActionState } from 'react';
import { createRoomAction } from './actions';

interface Props {
  defaultPatients: number;
  exercises: { id: string; title: string }[];
  simulatedErrors: { kind: string; label: string }[];
  milestones: { id: string; label: string }[];
}

/** The create-room form: name, dataset, duration and exercises (built-in or one of the instructor's own). */
export function CreateRoomForm({ defaultPatients, exercises, simulatedErrors, milestones }: Props) {
  const [state, formAction, pending] = useActionState(createRoomAction, null);
  return (
    <form action={formAction} className="card" data-testid="create-room">
      {state ? (
        <p className="notice bad" role="alert">
          {state.error}
        </p>
      ) : null}
      <div className="grid2">
        <p>
          <label htmlFor="room-name">
            <strong>Name</strong>
          </label>
          <br />
          <input id="room-name" name="name" required maxLength={100} style={{ width: '100%' }} />
        </p>
        <p>
          <label htmlFor="room-hours">
            <strong>Runs for (hours)</strong>
          </label>
          <br />
          <input id="room-hours" name="hours" type="number" min={1} max={336} defaultValue={4} />
        </p>
        <p>
          <label htmlFor="room-patients">Patients per sandbox</label>
          <br />
          <input id="room-patients" name="patients" type="number" min={1} max={100} defaultValue={defaultPatients} />
        </p>
        <p>
          <label htmlFor="room-seed">Seed (blank: random)</label> · <label htmlFor="room-anchor">anchor date (blank: today)</label>
          <br />
          <input id="room-seed" name="seed" inputMode="numeric" pattern="[0-9]*" style={{ width: '8em' }} />{' '}
          <input id="room-anchor" name="anchorDate" type="date" />
        </p>
      </div>
      <fieldset>
        <legend>Exercises</legend>
        {exercises.map((e) => (
          <label key={e.id} style={{ display: 'block' }}>
            <input type="checkbox" name={`exercise-${e.id}`} /> {e.title}
            {e.id === 'simulated-error' ? (
              <>
                {' '}
                <select name="simulatedError" aria-label="Simulated error to debug">
                  {simulatedErrors.map((s) => (
                    <option key={s.kind} value={s.kind}>
                      {s.label}
                    </option>
                  ))}
                </select>
              </>
            ) : null}
          </label>
        ))}
        <details>
          <summary>Your own exercise</summary>
          <p>
            <label htmlFor="custom-title">Title</label>
            <br />
            <input id="custom-title" name="customTitle" maxLength={120} style={{ width: '100%' }} />
          </p>
          <p>
            <label htmlFor="custom-instructions">Instructions (Markdown)</label>
            <br />
            <textarea id="custom-instructions" name="customInstructions" rows={5} maxLength={8000} style={{ width: '100%' }} />
          </p>
          <p>Completed when the sandbox has seen:</p>
          {milestones.map((m) => (
            <label key={m.id} style={{ display: 'inline-block', marginRight: 14 }}>
              <input type="checkbox" name="customMilestone" value={m.id} /> {m.label}
            </label>
          ))}
        </details>
      </fieldset>
      <p>
        <button type="submit" disabled={pending}>
          {pending ? 'Creating (seeding the room’s dataset)…' : 'Create room'}
        </button>
      </p>
    </form>
  );
}
