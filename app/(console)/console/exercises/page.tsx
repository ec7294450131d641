import { requireConsoleSession } from '#lib/console/auth';
import { MILESTONES } from '#lib/workshop/milestones';
import { Markdown } from '@/lib/workshop/markdown';
import { sandboxAttendeeProgress } from '#lib/workshop/progress';
import { consoleSandbox } from '../sandbox-base';

export const metadata = { title: 'Exercises · SMART Sandbox console' };

function time(at: Date | undefined): string {
  return at ? at.toISOString().slice(11, 19) : '';
}

/**
 * A workshop attendee's exercises, each ticked once the sandbox has seen all of its milestones
 * (derived from the sandbox's audit trail), and every milestone reached so far.
 */
export default async function ExercisesPage() {
  await requireConsoleSession('/console/exercises');
  const sandbox = await consoleSandbox();
  const found = sandbox && sandbox.basePath ? await sandboxAttendeeProgress(sandbox.id) : null;
  if (!found) {
    return (
      <>
        <h1>Exercises</h1>
        <p className="card muted">Exercises belong to workshop rooms: open them from an attendee’s sandbox.</p>
      </>
    );
  }
  const { room, progress } = found;
  return (
    <>
      <h1>Exercises</h1>
      <p className="lead">
        {room.name} · {progress.name}. Ticks appear as your sandbox observes each step (refresh the page to update).
      </p>
      {progress.exercises.length === 0 ? <p className="card muted">The instructor has not attached exercises to this room.</p> : null}
      {progress.exercises.map((e) => (
        <div key={e.key} className="card" data-testid="exercise" data-done={e.doneAt ? 'yes' : 'no'}>
          <h2>
            {e.doneAt ? '✅ ' : '⬜ '}
            {e.title}
          </h2>
          <Markdown text={e.instructions} />
          <ul>
            {e.milestones.map((m) => (
              <li key={m} data-milestone={m} data-reached={progress.milestones[m] ? 'yes' : 'no'}>
                {progress.milestones[m] ? '✓' : '·'} {MILESTONES.find((x) => x.id === m)?.label ?? m}
                {progress.milestones[m] ? <span className="muted-small"> at {time(progress.milestones[m])} UTC</span> : null}
              </li>
            ))}
          </ul>
        </div>
      ))}
      <h2>Milestones reached</h2>
      <ul data-testid="milestones">
        {MILESTONES.filter((m) => progress.milestones[m.id]).map((m) => (
          <li key={m.id}>
            {m.label} <span className="muted-small">at {time(progress.milestones[m.id])} UTC</span>
          </li>
        ))}
      </ul>
    </>
  );
}
