/**
 * The access-management page (discovery's `management_endpoint`), rendered with React on the
 * server into a complete HTML document: no client script, React escapes every value (app names
 * and scopes are registered by anyone). Served by a route handler, so it carries the interaction
 * screens' response headers with a CSP that allows exactly this page's stylesheet.
 */
import { createHash } from 'node:crypto';
import type { ReactNode } from 'react';
import { renderDocument } from '../http/html';
import type { AuthorizedApp, AuthorizedGrant } from './access-management';
import { PERSONA_PASSWORD } from './personas';

const STYLE = `
:root{--fg:#1b1f24;--muted:#5b6470;--bg:#f6f7f9;--card:#fff;--accent:#0b5cad;--danger:#b42318;--ok-bg:#ecfdf3;--ok:#05603a;--border:#d8dde3}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#0f2740;color:#fff;padding:10px 20px;display:flex;gap:16px;align-items:center;justify-content:space-between;flex-wrap:wrap}
header .who{color:#cfe3ff;font-size:14px}header a{color:#cfe3ff}
main{max-width:760px;margin:0 auto;padding:20px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:0 0 4px}h3{font-size:15px;margin:12px 0 4px}
.card{background:var(--card);border:1px solid var(--border);border-radius:8px;padding:16px 18px;margin:12px 0}
.muted{color:var(--muted)}code{font-size:12px;word-break:break-all}
.notice{background:var(--ok-bg);color:var(--ok);border:1px solid #abefc6;border-radius:8px;padding:10px 14px;margin:12px 0}
.grant{border-top:1px solid var(--border);margin-top:10px;padding-top:6px}
ul.scopes{margin:4px 0;padding-left:18px}ul.scopes li{margin:3px 0}
button,.button{background:var(--accent);color:#fff;border:0;border-radius:6px;padding:8px 14px;font:inherit;cursor:pointer;text-decoration:none;display:inline-block}
button.danger{background:var(--danger)}button.link{background:none;color:#cfe3ff;padding:0;text-decoration:underline}
input{font:inherit;padding:6px 8px;border:1px solid var(--border);border-radius:6px}label{display:block;margin:6px 0}
.error{color:var(--danger)}header form{display:inline}
button:focus-visible,a:focus-visible{outline:3px solid #7fb3ff;outline-offset:2px}
`;

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** This page's CSP: no scripts, its own stylesheet only, forms posting to this origin only. */
export const ACCESS_PAGE_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'self'`;

/** The path of the page (discovery's `management_endpoint` on this origin). */
export const ACCESS_PAGE_PATH = '/interaction/access';
/** The JSON API: GET lists the apps; DELETE or POST `…/{client_id}` revokes one. */
export const ACCESS_API_PATH = '/interaction/access/apps';

function Document({ title, who, children }: { title: string; who: ReactNode; children: ReactNode }) {
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{`${title} · SMART Sandbox`}</title>
        <style dangerouslySetInnerHTML={{ __html: STYLE }} />
      </head>
      <body>
        <header>
          <strong>SMART Sandbox · App access</strong>
          <div className="who">{who}</div>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}

const dateTime = (d: Date): string => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

function Grant({ grant }: { grant: AuthorizedGrant }) {
  return (
    <div className="grant" data-testid="access-grant">
      <p className="muted">
        Authorized {dateTime(grant.authorizedAt)} ({grant.launchKind === 'ehr' ? 'launched from the EHR' : 'started by the app'})
        {grant.patient ? <> for patient <code>{grant.patient}</code></> : null}. {grant.refreshable ? <>It can keep access after you leave (a refresh token), until {dateTime(grant.activeUntil)}.</> : <>Its access ends {dateTime(grant.activeUntil)}.</>}
      </p>
      <h3>What it may do</h3>
      <ul className="scopes">
        {grant.scopes.map((s) => (
          <li key={s.scope}>
            {s.explanation} <code>{s.scope}</code>
          </li>
        ))}
      </ul>
    </div>
  );
}

function App({ app, csrf }: { app: AuthorizedApp; csrf: string }) {
  return (
    <section className="card" data-testid="access-app" data-client-id={app.clientId}>
      <h2>{app.clientName}</h2>
      <p className="muted">
        Client id <code>{app.clientId}</code> · {app.grants.length === 1 ? 'one authorization' : `${app.grants.length} authorizations`}
      </p>
      {app.grants.map((g) => (
        <Grant key={g.id} grant={g} />
      ))}
      <form method="post" action={ACCESS_PAGE_PATH}>
        <input type="hidden" name="csrf" value={csrf} />
        <input type="hidden" name="client_id" value={app.clientId} />
        <button className="danger" type="submit">
          Revoke access of {app.clientName}
        </button>
      </form>
    </section>
  );
}

export interface AccessPageInput {
  readonly name: string;
  readonly fhirUser: string;
  readonly apps: readonly AuthorizedApp[];
  readonly csrf: string;
  readonly logoutCsrf: string;
  /** After a revoke: the app's name and how many authorizations ended. */
  readonly revoked: { readonly clientName: string; readonly grants: number } | null;
}

/** The page listing the persona's apps, each with a revoke button. */
export function renderAccessPage(input: AccessPageInput): string {
  const who = (
    <>
      Signed in as <strong>{input.name}</strong> ({input.fhirUser}) ·{' '}
      <form method="post" action={`${ACCESS_PAGE_PATH}/logout`}>
        <input type="hidden" name="csrf" value={input.logoutCsrf} />
        <button className="link" type="submit">
          Sign out
        </button>
      </form>
    </>
  );
  return renderDocument(
    <Document title="App access" who={who}>
      <h1>Apps with access to your data</h1>
      <p className="muted">
        These apps can use the access you gave them. Revoking one ends it at once: its access tokens stop working and its refresh tokens can no longer be exchanged. The app has to ask you again.
      </p>
      {input.revoked ? (
        <p className="notice" role="status" data-testid="access-revoked">
          Access of {input.revoked.clientName} revoked ({input.revoked.grants === 1 ? 'one authorization' : `${input.revoked.grants} authorizations`}, with their access and refresh tokens).
        </p>
      ) : null}
      {input.apps.length === 0 ? (
        <p className="card" data-testid="access-none">
          No app has access to your data.
        </p>
      ) : (
        input.apps.map((app) => <App key={app.clientId} app={app} csrf={input.csrf} />)
      )}
      <p className="muted">
        The same list as JSON: <code>GET {ACCESS_API_PATH}</code>; revoke with <code>DELETE {ACCESS_API_PATH}/&#123;client_id&#125;</code>.
      </p>
    </Document>,
  );
}

export interface SignInPageInput {
  readonly csrf: string;
  readonly username: string;
  /** Why the last attempt failed, or null. */
  readonly error: string | null;
}

/** The page shown when nobody is signed in: sign in as a sandbox persona, then the list. */
export function renderSignInPage(input: SignInPageInput): string {
  return renderDocument(
    <Document title="Sign in" who="Not signed in">
      <h1>Sign in to see which apps have access</h1>
      <div className="card">
        <p>This page lists the apps you authorized and lets you revoke them.</p>
        {input.error ? (
          <p className="error" role="alert">
            {input.error}
          </p>
        ) : null}
        <form method="post" action={`${ACCESS_PAGE_PATH}/login`}>
          <input type="hidden" name="csrf" value={input.csrf} />
          <label>
            Username
            <br />
            <input name="username" autoComplete="username" required defaultValue={input.username} placeholder="first.last or Patient/…" />
          </label>
          <label>
            Password
            <br />
            <input name="password" type="password" autoComplete="current-password" required />
          </label>
          <button type="submit">Sign in</button>
        </form>
        <p className="muted">
          Sandbox personas are the synthetic patients and practitioners of this sandbox: the username is <code>first.last</code> or the persona&apos;s FHIR id (
          <code>Patient/…</code>), and every persona uses the password <code>{PERSONA_PASSWORD}</code>.
        </p>
      </div>
    </Document>,
  );
}

/** A short error page (refused form, unknown app). */
export function renderMessagePage(title: string, message: string): string {
  return renderDocument(
    <Document title={title} who="">
      <h1>{title}</h1>
      <p className="card">
        {message} <a href={ACCESS_PAGE_PATH}>Back to your apps</a>
      </p>
    </Document>,
  );
}
