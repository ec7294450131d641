/** What the console's workshop pages read from their forms. */
import { BUILT_IN_EXERCISE_IDS } from '../workshop/exercises';
import type { ExerciseSpec } from '../workshop/exercises';
import { isMilestoneId } from '../workshop/milestones';
import type { MilestoneId } from '../workshop/milestones';
import type { CreateRoomInput } from '../workshop/rooms';
import { SIMULATED_ERROR_KINDS } from '../launch-options/simulated-errors';
import type { SimulatedErrorKind } from '../launch-options/simulated-errors';

function text(form: FormData, name: string): string {
  const v = form.get(name);
  return typeof v === 'string' ? v.trim() : '';
}

function integer(value: string): number | undefined {
  return /^\d{1,10}$/.test(value) ? Number(value) : undefined;
}

/** The create-room form as the input of createRoom (which validates it), or why it cannot be read. */
export function roomInputFromForm(form: FormData, now: Date = new Date()): { ok: true; value: CreateRoomInput } | { ok: false; error: string } {
  const hours = Number(text(form, 'hours') || '4');
  if (!Number.isFinite(hours) || hours <= 0) return { ok: false, error: 'the duration is a number of hours' };
  const exercises: ExerciseSpec[] = [];
  for (const id of BUILT_IN_EXERCISE_IDS) {
    if (form.get(`exercise-${id}`) !== 'on') continue;
    if (id === 'simulated-error') {
      const kind = text(form, 'simulatedError');
      exercises.push((SIMULATED_ERROR_KINDS as string[]).includes(kind) ? { builtIn: id, simulatedError: kind as SimulatedErrorKind } : { builtIn: id });
    } else exercises.push({ builtIn: id });
  }
  const customTitle = text(form, 'customTitle');
  if (customTitle) {
    const milestones = form.getAll('customMilestone').filter((m): m is MilestoneId => typeof m === 'string' && isMilestoneId(m));
    if (milestones.length === 0) return { ok: false, error: 'choose at least one milestone that completes your exercise' };
    exercises.push({ title: customTitle, instructions: String(form.get('customInstructions') ?? ''), milestones });
  }
  const patients = integer(text(form, 'patients'));
  const seed = integer(text(form, 'seed'));
  const anchorDate = text(form, 'anchorDate');
  return {
    ok: true,
    value: {
      name: text(form, 'name'),
      ...(patients !== undefined ? { patients } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(anchorDate ? { anchorDate } : {}),
      exercises,
      endsAt: new Date(now.getTime() + Math.min(hours, 24 * 14) * 3_600_000).toISOString(),
    },
  };
}
