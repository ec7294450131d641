/**
 * The join screens, route handlers with their own headers (like the interaction screens):
 *
 * - `GET /w/{code}`: asks for a display name (or welcomes back the attendee whose cookie this
 *   browser holds); `POST /w/{code}` joins: a sandbox of one's own, the session cookie, and the
 *   personal link shown once. With `Accept: application/json` and a JSON body `{"name": …}` the
 *   answer is JSON (scripts and the workshop benchmark).
 * - `GET /w/{code}/{secret}`: the personal link; asks before moving the sandbox to this browser,
 *   `POST` moves it (the other browser's cookie stops working).
 *
 * Unknown, closed and ended rooms, unknown links and refused names get a page (or JSON error)
 * that names the problem and shows nothing of any room or attendee.
 */
import type { ReactNode } from 'react';
import { createHash } from 'node:crypto';
import { renderDocument } from '../http/html';
import { publicOrigin } from '../http/origin';
import { isCrossOriginWrite } from '../http/security-headers';
import { REFUSAL_MESSAGES, findAttendeeByLink, joinRoom, resumeWithLink, roomRefusal } from './attendees';
import type { AttendeeSession } from './attendees';
import { parseRoomCode } from './codes';
import { Markdown } from './markdown';
import { findRoomByCode } from './rooms';
import type { RoomView } from './rooms';
import { STALE_SESSION_MESSAGE, attendeeCookie, hasAttendeeCookie, readAttendeeCookie } from './session';
import { joinUrl, personalLink, sandboxUrls } from './urls';

/** Largest join request body accepted. */
const MAX_BODY_BYTES = 8 * 1024;

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#f6f7f9}
header{background:#0f2740;color:#fff;padding:10px 20px}main{max-width:720px;margin:0 auto;padding:20px}
h1{font-size:24px;margin:8px 0}h2{font-size:18px;margin:18px 0 8px}
.card{background:#fff;border:1px solid #d8dde3;border-radius:8px;padding:16px 18px;margin:12px 0}
.muted{color:#5b6470}.error{color:#b42318;font-weight:600}
.notice{background:#ecfdf3;color:#05603a;border:1px solid #abefc6;border-radius:8px;padding:10px 14px;margin:12px 0}
.warn{background:#fff6e5;color:#8a5300;border:1px solid #f0d29b;border-radius:8px;padding:10px 14px;margin:12px 0}
button,.button{background:#0b5cad;color:#fff;border:0;border-radius:6px;padding:8px 14px;font:inherit;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary,.button.secondary{background:#e9edf2;color:#1b1f24}
input{font:inherit;padding:8px 10px;border:1px solid #d8dde3;border-radius:6px;width:100%}
label{display:block;margin:6px 0}.row{display:flex;gap:8px;align-items:center}.row input{flex:1}
.actions{display:flex;gap:10px;flex-wrap:wrap;margin-top:14px}code{font-size:13px;word-break:break-all}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px}dt{color:#5b6470}dd{margin:0}
`;

const COPY_SCRIPT = `document.querySelectorAll('[data-copy]').forEach(function(b){b.addEventListener('click',function(){var i=document.getElementById(b.getAttribute('data-copy'));if(!i)return;i.select();if(navigator.clipboard){navigator.clipboard.writeText(i.value).then(function(){b.textContent='Copied'})}else{document.execCommand('copy');b.textContent='Copied'}})})`;

const hash = (text: string) => createHash('sha256').update(text).digest('base64');
/** No script but the copy button's (its hash), our stylesheet only, no framing, forms to ourselves. */
const JOIN_CSP = `default-src 'none'; style-src 'sha256-${hash(STYLE)}'; script-src 'sha256-${hash(COPY_SCRIPT)}'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;

function pageHeaders(extra: Record<string, string> = {}): Headers {
  return new Headers({
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': JOIN_CSP,
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
    // same-origin, not no-referrer: with no-referrer Chrome sends `Origin: null` on our own form
    // POSTs; same-origin still keeps the personal link's secret from any other site.
    'referrer-policy': 'same-origin',
    'x-content-type-options': 'nosniff',
    ...extra,
  });
}

function page(title: string, body: ReactNode, status = 200, setCookie?: string): Response {
  const html = renderDocument(
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{`${title} · SMART Sandbox workshop`}</title>
        <style dangerouslySetInnerHTML={{ __html: STYLE }} />
      </head>
      <body>
        <header>
          <strong>SMART Sandbox · Workshop</strong>
        </header>
        <main>{body}</main>
        <script dangerouslySetInnerHTML={{ __html: COPY_SCRIPT }} />
      </body>
    </html>,
  );
  const headers = pageHeaders();
  if (setCookie) headers.append('set-cookie', setCookie);
  return new Response(html, { status, headers });
}

function json(body: unknown, status: number, setCookie?: string): Response {
  const headers = new Headers({ 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  if (setCookie) headers.append('set-cookie', setCookie);
  return new Response(JSON.stringify(body), { status, headers });
}

function wantsJson(req: Request): boolean {
  return (req.headers.get('accept') ?? '').includes('application/json');
}

function problemPage(title: string, message: string, status: number): Response {
  return page(
    title,
    <div className="card">
      <h1>{title}</h1>
      <p className="error">{message}</p>
      <p className="muted">Ask your instructor for the room’s join link or code.</p>
    </div>,
    status,
  );
}

/** The `{code}` (and `{secret}`) segments of a /w/… path. */
function segments(req: Request): string[] {
  const parts = new URL(req.url).pathname.split('/').slice(2);
  return parts.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return '';
    }
  });
}

async function readBody(req: Request): Promise<{ ok: true; text: string } | { ok: false }> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) return { ok: false };
  const text = await req.text();
  return text.length > MAX_BODY_BYTES ? { ok: false } : { ok: true, text };
}

function CopyField({ id, label, value }: { id: string; label: string; value: string }) {
  return (
    <label>
      {label}
      <span className="row">
        <input id={id} readOnly value={value} />
        <button type="button" className="secondary" data-copy={id}>
          Copy
        </button>
      </span>
    </label>
  );
}

function SandboxLinks({ origin, session }: { origin: string; session: AttendeeSession }) {
  const urls = sandboxUrls(origin, session.attendee.sandboxId);
  return (
    <>
      <div className="actions">
        <a className="button" href={urls.launcherUrl}>
          Open my launcher
        </a>
        <a className="button" href={urls.consoleUrl}>
          Open my console
        </a>
        <a className="button secondary" href={urls.exercisesUrl}>
          My exercises
        </a>
      </div>
      <h2>Your sandbox</h2>
      <CopyField id="fhir-base" label="FHIR base URL (iss)" value={urls.fhirBaseUrl} />
    </>
  );
}

function Exercises({ room }: { room: RoomView }) {
  if (room.exercises.length === 0) return null;
  return (
    <div className="card">
      <h2>Exercises</h2>
      <ol>
        {room.exercises.map((e) => (
          <li key={e.key}>
            <strong>{e.title}</strong>
            <Markdown text={e.instructions} />
          </li>
        ))}
      </ol>
    </div>
  );
}

function joinForm(room: RoomView, error: string | null, name: string, status: number, stale = false): Response {
  return page(
    `Join ${room.name}`,
    <>
      <div className="card">
        <h1>{room.name}</h1>
        {stale ? <p className="warn">{STALE_SESSION_MESSAGE}</p> : null}
        <p className="muted">Join this workshop: you get a SMART sandbox of your own (FHIR server, authorization server, EHR launcher and console).</p>
        <form method="post">
          <label htmlFor="name">Your display name (the instructor sees it)</label>
          <input id="name" name="name" required maxLength={60} autoComplete="nickname" defaultValue={name} autoFocus />
          {error ? <p className="error">{error}</p> : null}
          <div className="actions">
            <button type="submit">Join</button>
          </div>
        </form>
      </div>
    </>,
    status,
  );
}

/** GET /w/{code}: the join form, or a welcome back when this browser already belongs to the room. */
export async function handleJoinPage(req: Request): Promise<Response> {
  const [codeSegment = ''] = segments(req);
  const room = parseRoomCode(codeSegment) ? await findRoomByCode(codeSegment) : null;
  const refusal = roomRefusal(room);
  if (!room || refusal) return problemPage('Workshop room not available', REFUSAL_MESSAGES[refusal ?? 'unknown-room'], refusal === 'unknown-room' ? 404 : 410);
  const session = await readAttendeeCookie(req.headers);
  if (session && session.room.id === room.id) {
    return page(
      room.name,
      <>
        <div className="card">
          <h1>Welcome back, {session.attendee.name}</h1>
          <p className="muted">This browser is in {room.name}.</p>
          <SandboxLinks origin={publicOrigin(req)} session={session} />
        </div>
        <Exercises room={room} />
      </>,
    );
  }
  return joinForm(room, null, '', 200, hasAttendeeCookie(req.headers));
}

/** POST /w/{code}: joins the room (form or JSON). */
export async function handleJoinPost(req: Request): Promise<Response> {
  const asJson = wantsJson(req);
  if (isCrossOriginWrite(req.method, req.headers))
    return asJson ? json({ error: 'cross-origin request refused' }, 403) : problemPage('Request refused', 'Cross-origin request refused.', 403);
  const [codeSegment = ''] = segments(req);
  const code = parseRoomCode(codeSegment);
  const body = await readBody(req);
  if (!body.ok) return asJson ? json({ error: 'request body too large' }, 413) : problemPage('Request refused', 'Request body too large.', 413);
  let name: unknown;
  if ((req.headers.get('content-type') ?? '').includes('application/json')) {
    try {
      const parsed: unknown = JSON.parse(body.text);
      name = typeof parsed === 'object' && parsed !== null ? (parsed as { name?: unknown }).name : undefined;
    } catch {
      return asJson ? json({ error: 'the body is not JSON' }, 400) : problemPage('Request refused', 'The body is not JSON.', 400);
    }
  } else {
    name = new URLSearchParams(body.text).get('name') ?? undefined;
  }
  const result = code ? await joinRoom(code, name) : ({ ok: false, refusal: 'unknown-room', error: REFUSAL_MESSAGES['unknown-room'] } as const);
  if (!result.ok) {
    const status = result.refusal === 'unknown-room' ? 404 : result.refusal === 'invalid-name' ? 400 : result.refusal === 'full' ? 409 : 410;
    if (asJson) return json({ error: result.refusal, error_description: result.error }, status);
    if (result.refusal === 'invalid-name' && code) {
      const room = await findRoomByCode(code);
      if (room) return joinForm(room, result.error, typeof name === 'string' && name.length <= 200 ? name : '', 400);
    }
    return problemPage('Workshop room not available', result.error, status);
  }
  const origin = publicOrigin(req);
  const link = personalLink(origin, result.room.code, result.linkSecret);
  const cookie = attendeeCookie(result.sessionSecret);
  if (asJson) {
    return json(
      {
        attendeeId: result.attendee.id,
        name: result.attendee.name,
        roomId: result.room.id,
        sandboxId: result.attendee.sandboxId,
        ...sandboxUrls(origin, result.attendee.sandboxId),
        personalLink: link,
        joinUrl: joinUrl(origin, result.room.code),
      },
      201,
      cookie,
    );
  }
  const session: AttendeeSession = { attendee: result.attendee, room: result.room };
  return page(
    `Joined ${result.room.name}`,
    <>
      <div className="card">
        <h1>Welcome, {result.attendee.name}</h1>
        <p className="notice">Your own sandbox is ready. This browser remembers it.</p>
        <div className="warn">
          <strong>Your personal link is shown only now.</strong> Keep it to open your sandbox in another browser or after clearing cookies (the browser that
          opens it takes over your sandbox).
        </div>
        <CopyField id="personal-link" label="Personal link" value={link} />
        <SandboxLinks origin={origin} session={session} />
      </div>
      <Exercises room={result.room} />
    </>,
    201,
    cookie,
  );
}

/** GET /w/{code}/{secret}: the personal link asks before it moves the sandbox to this browser. */
export async function handleResumePage(req: Request): Promise<Response> {
  return resume(req, false);
}

/** POST /w/{code}/{secret}: moves the attendee's sandbox to this browser. */
export async function handleResumePost(req: Request): Promise<Response> {
  if (isCrossOriginWrite(req.method, req.headers)) return problemPage('Request refused', 'Cross-origin request refused.', 403);
  return resume(req, true);
}

const INVALID_LINK = 'This personal link is not valid. It may have been mistyped, or its room deleted.';

async function resume(req: Request, confirm: boolean): Promise<Response> {
  const asJson = wantsJson(req);
  const [codeSegment = '', secret = ''] = segments(req);
  const code = parseRoomCode(codeSegment);
  const found = code ? await findAttendeeByLink(secret) : null;
  if (!found || found.room.code !== code)
    return asJson ? json({ error: 'invalid_link', error_description: INVALID_LINK }, 404) : problemPage('Personal link not valid', INVALID_LINK, 404);
  const refusal = roomRefusal(found.room);
  if (refusal)
    return asJson
      ? json({ error: refusal, error_description: REFUSAL_MESSAGES[refusal] }, 410)
      : problemPage('Workshop room not available', REFUSAL_MESSAGES[refusal], 410);
  const current = await readAttendeeCookie(req.headers);
  const origin = publicOrigin(req);
  if (current && current.attendee.id === found.attendee.id && !confirm) {
    return page(
      found.room.name,
      <div className="card">
        <h1>Welcome back, {found.attendee.name}</h1>
        <SandboxLinks origin={origin} session={found} />
      </div>,
    );
  }
  if (!confirm) {
    return page(
      'Open your sandbox here',
      <div className="card">
        <h1>Open your sandbox in this browser?</h1>
        <p>
          This is the personal link of <strong>{found.attendee.name}</strong> in {found.room.name}.
        </p>
        <p className="warn">Opening it here signs out any other browser that has this sandbox open.</p>
        <form method="post">
          <div className="actions">
            <button type="submit">Open my sandbox here</button>
          </div>
        </form>
      </div>,
    );
  }
  const moved = await resumeWithLink(secret);
  if (!moved.ok)
    return asJson ? json({ error: 'invalid_link', error_description: moved.error }, 404) : problemPage('Personal link not valid', moved.error, 404);
  const cookie = attendeeCookie(moved.sessionSecret);
  if (asJson)
    return json(
      { attendeeId: moved.session.attendee.id, sandboxId: moved.session.attendee.sandboxId, ...sandboxUrls(origin, moved.session.attendee.sandboxId) },
      200,
      cookie,
    );
  return page(
    found.room.name,
    <div className="card">
      <h1>Welcome back, {moved.session.attendee.name}</h1>
      <p className="notice">Your sandbox is open in this browser.</p>
      <SandboxLinks origin={origin} session={moved.session} />
    </div>,
    200,
    cookie,
  );
}
