import { requireConsoleSession } from '#lib/console/auth';
import { ownProgressJson } from '#lib/console/workshops-api';
import { MILESTONES } from '#lib/workshop/milestones';
import { Markdown } from '@/lib/workshop/markdown';
import { sandboxAttendeeProgress } from '#lib/workshop/progress';
import { consoleSandbox } from '../sandbox-base';
import { LiveExercises } from './exercises-live-client';

export const metadata = { title: 'Exercises · SMART Sandbox console' };

/**
 * A workshop attendee's exercises, each ticked once the sandbox has seen all of its milestones
 * (derived from the sandbox's audit trail), and every milestone reached so far, kept current live.
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
        {room.name} · {progress.name}.
      </p>
      <LiveExercises
        basePath={sandbox?.basePath ?? ''}
        initial={ownProgressJson(progress)}
        exercises={progress.exercises.map((e) => ({
          key: e.key,
          title: e.title,
          milestones: [...e.milestones],
          instructions: <Markdown text={e.instructions} />,
        }))}
        milestones={MILESTONES.map((m) => ({ id: m.id, label: m.label }))}
      />
    </>
  );
}
