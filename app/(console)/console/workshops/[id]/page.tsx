import { headers } from 'next/headers';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { requireInstructorSession } from '#lib/console/auth';
import { attendeeJson, roomJson } from '#lib/console/workshops-api';
import { publicOrigin } from '#lib/http/origin';
import { MILESTONES } from '#lib/workshop/milestones';
import { roomProgress } from '#lib/workshop/progress';
import { qrDataUrl } from '#lib/workshop/qr';
import { findRoom } from '#lib/workshop/rooms';
import { joinUrl } from '#lib/workshop/urls';
import { deleteRoomAction, updateRoomAction } from '../actions';
import { ProgressGrid } from './grid-client';

export const metadata = { title: 'Workshop room · SMART Sandbox console' };

type Props = { params: Promise<{ id: string }> };

export default async function RoomPage({ params }: Props) {
  const { id } = await params;
  await requireInstructorSession(`/console/workshops/${encodeURIComponent(id)}`);
  const room = await findRoom(id);
  if (!room) notFound();
  const origin = publicOrigin(await headers());
  const link = joinUrl(origin, room.code);
  const [qr, progress] = await Promise.all([qrDataUrl(link), roomProgress(room)]);
  return (
    <>
      <p className="muted-small">
        <Link href="/console/workshops">Workshops</Link> /
      </p>
      <h1>{room.name}</h1>
      <p className="lead">
        <span className={`badge ${room.status === 'open' ? 'ok' : 'idle'}`} data-testid="room-status">
          {room.status}
        </span>{' '}
        ends {room.endsAt.toISOString().replace('T', ' ').slice(0, 16)} UTC · {room.dataset.patients} patients per sandbox (seed {room.dataset.seed}, anchor{' '}
        {room.dataset.anchorDate})
      </p>
      <div className="grid2">
        <div className="card">
          <p>Join link</p>
          <p>
            <code data-testid="join-url">{link}</code>
          </p>
          <p>
            Code:{' '}
            <strong style={{ fontSize: 32, letterSpacing: 4 }} data-testid="room-code">
              {room.code}
            </strong>
          </p>
          <div className="actions">
            {room.status === 'closed' ? (
              <form action={updateRoomAction} className="inline">
                <input type="hidden" name="id" value={room.id} />
                <button name="change" value="reopen">
                  Reopen
                </button>
              </form>
            ) : (
              <form action={updateRoomAction} className="inline">
                <input type="hidden" name="id" value={room.id} />
                <button name="change" value="close">
                  End the room now
                </button>
              </form>
            )}
            {(
              [
                [30, 'Extend 30 min'],
                [60, 'Extend 1 h'],
              ] as const
            ).map(([minutes, label]) => (
              <form key={minutes} action={updateRoomAction} className="inline">
                <input type="hidden" name="id" value={room.id} />
                <input type="hidden" name="minutes" value={minutes} />
                <button name="change" value="extend" className="secondary">
                  {label}
                </button>
              </form>
            ))}
            <a className="button secondary" href={`/api/workshops/${encodeURIComponent(room.id)}/progress.csv`} download>
              Progress CSV
            </a>
          </div>
          <form action={deleteRoomAction} className="inline" style={{ marginTop: 12 }}>
            <input type="hidden" name="id" value={room.id} />
            <label>
              <input type="checkbox" name="confirm" required /> delete the room and every attendee’s sandbox
            </label>{' '}
            <button className="danger">Delete room</button>
          </form>
        </div>
        <div className="card" style={{ textAlign: 'center' }}>
          <img src={qr} alt={`QR code of ${link}`} width={280} height={280} data-testid="join-qr" />
        </div>
      </div>
      {room.exercises.length ? (
        <>
          <h2>Exercises</h2>
          <ol>
            {room.exercises.map((e) => (
              <li key={e.key}>
                {e.title} <span className="muted-small">({e.milestones.map((m) => MILESTONES.find((x) => x.id === m)?.label ?? m).join(', ')})</span>
              </li>
            ))}
          </ol>
        </>
      ) : null}
      <h2>Progress</h2>
      <ProgressGrid
        roomId={room.id}
        initial={{ room: roomJson(room, origin), attendees: progress.map((p) => attendeeJson(p, origin)) }}
        milestones={MILESTONES.map((m) => ({ id: m.id, label: m.label }))}
      />
    </>
  );
}
