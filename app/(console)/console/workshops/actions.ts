'use server';

import { revalidatePath } from 'next/cache';
import { redirect } from 'next/navigation';
import { requireInstructorSession } from '#lib/console/auth';
import { roomInputFromForm } from '#lib/console/workshops';
import { createRoom, deleteRoom, updateRoom } from '#lib/workshop/rooms';

// Server actions are POSTs that Next.js checks against the Origin header (its CSRF protection);
// each one checks the console session again, since an action is reachable without its page.

export type CreateRoomState = { error: string } | null;

/** Creates a room (seeding its base sandbox) and opens its page. */
export async function createRoomAction(_prev: CreateRoomState, form: FormData): Promise<CreateRoomState> {
  await requireInstructorSession('/console/workshops');
  const input = roomInputFromForm(form);
  if (!input.ok) return { error: input.error };
  const created = await createRoom(input.value);
  if (!created.ok) return { error: created.error };
  revalidatePath('/console/workshops');
  redirect(`/console/workshops/${encodeURIComponent(created.room.id)}`);
}

/** Closes, reopens or extends a room. */
export async function updateRoomAction(form: FormData): Promise<void> {
  const id = String(form.get('id') ?? '');
  await requireInstructorSession(`/console/workshops/${encodeURIComponent(id)}`);
  const change = String(form.get('change') ?? '');
  const input =
    change === 'close' ? { closed: true } : change === 'reopen' ? { closed: false } : { extendMinutes: Math.max(1, Number(form.get('minutes') ?? 60) || 60) };
  await updateRoom(id, input);
  revalidatePath(`/console/workshops/${id}`);
  redirect(`/console/workshops/${encodeURIComponent(id)}`);
}

/** Deletes a room and every row of its sandboxes. */
export async function deleteRoomAction(form: FormData): Promise<void> {
  await requireInstructorSession('/console/workshops');
  await deleteRoom(String(form.get('id') ?? ''));
  revalidatePath('/console/workshops');
  redirect('/console/workshops?deleted=1');
}
