import Link from 'next/link';
import { requireInstructorSession } from '#lib/console/auth';
import { firstParam } from '#lib/console/format';
import { SIMULATED_ERRORS, SIMULATED_ERROR_KINDS } from '#lib/launch-options/simulated-errors';
import { BUILT_IN_EXERCISES, BUILT_IN_EXERCISE_IDS } from '#lib/workshop/exercises';
import { MILESTONES } from '#lib/workshop/milestones';
import { DEFAULT_ROOM_PATIENTS, listRooms } from '#lib/workshop/rooms';
import { CreateRoomForm } from './create-room-client';

export const metadata = { title: 'Workshops · SMART Sandbox console' };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

export default async function WorkshopsPage({ searchParams }: Props) {
  await requireInstructorSession('/console/workshops');
  const rooms = await listRooms();
  const deleted = firstParam((await searchParams).deleted) === '1';
  return (
    <>
      <h1>Workshops</h1>
      <p className="lead">Rooms of attendees, each in a sandbox of their own, with their progress derived from the audit trail.</p>
      {deleted ? (
        <p className="notice warn" role="status">
          Room deleted with every row of its sandboxes.
        </p>
      ) : null}
      {rooms.length === 0 ? (
        <p className="card muted">No rooms yet.</p>
      ) : (
        <table data-testid="rooms-table">
          <thead>
            <tr>
              <th>Room</th>
              <th>Code</th>
              <th>Status</th>
              <th>Attendees</th>
              <th>Ends</th>
            </tr>
          </thead>
          <tbody>
            {rooms.map((r) => (
              <tr key={r.id}>
                <td>
                  <Link href={`/console/workshops/${encodeURIComponent(r.id)}`}>{r.name}</Link>
                </td>
                <td>
                  <code>{r.code}</code>
                </td>
                <td>
                  <span className={`badge ${r.status === 'open' ? 'ok' : 'idle'}`}>{r.status}</span>
                </td>
                <td>{r.attendees}</td>
                <td>{r.endsAt.toISOString().replace('T', ' ').slice(0, 16)} UTC</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>New room</h2>
      <CreateRoomForm
        defaultPatients={DEFAULT_ROOM_PATIENTS}
        exercises={BUILT_IN_EXERCISE_IDS.map((id) => ({ id, title: BUILT_IN_EXERCISES[id].title }))}
        simulatedErrors={SIMULATED_ERROR_KINDS.map((kind) => ({ kind, label: SIMULATED_ERRORS[kind].label }))}
        milestones={MILESTONES.map((m) => ({ id: m.id, label: m.label }))}
      />
    </>
  );
}
