/**
 * The access-management page (discovery's `management_endpoint`): React elements for the
 * interaction screens' page shell (lib/http/html.tsx), which renders them on the server with no
 * client script and escapes every value (app names and scopes are registered by anyone).
 */
import type { ReactElement } from 'react';
import type { AuthorizedApp, AuthorizedGrant } from './access-management';
import { PERSONA_PASSWORD } from './personas';
import { currentSandbox } from '../sandbox/context';

/** The path of the page (discovery's `management_endpoint` on this origin). */
export const ACCESS_PAGE_PATH = '/interaction/access';

/** The access-management page of the request's sandbox. */
export function accessPagePath(): string {
  return `${currentSandbox().basePath}${ACCESS_PAGE_PATH}`;
}
/** The JSON API: GET lists the apps; DELETE or POST `…/{client_id}` revokes one. */
export const ACCESS_API_PATH = '/interaction/access/apps';

const dateTime = (d: Date): string => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

function Grant({ grant }: { grant: AuthorizedGrant }) {
  return (
    <div className="grant" data-testid="access-grant">
      <p className="muted">
        Authorized {dateTime(grant.authorizedAt)} ({grant.launchKind === 'ehr' ? 'launched from the EHR' : 'started by the app'})
        {grant.patient ? (
          <>
            {' '}
            for patient <code>{grant.patient}</code>
          </>
        ) : null}
        .{' '}
        {grant.refreshable ? (
          <>It can keep access after you leave (a refresh token), until {dateTime(grant.activeUntil)}.</>
        ) : (
          <>Its access ends {dateTime(grant.activeUntil)}.</>
        )}
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
      <form method="post" action={accessPagePath()}>
        <input type="hidden" name="csrf" value={csrf} />
        <input type="hidden" name="client_id" value={app.clientId} />
        <button className="danger" type="submit">
          Revoke access of {app.clientName}
        </button>
      </form>
    </section>
  );
}

/** The shell header: who is signed in, and a sign-out button. */
export function accessHeader(input: { name: string; fhirUser: string; logoutCsrf: string }): ReactElement {
  return (
    <>
      <span>
        Signed in as <strong>{input.name}</strong> ({input.fhirUser})
      </span>
      <form method="post" action={`${accessPagePath()}/logout`}>
        <input type="hidden" name="csrf" value={input.logoutCsrf} />
        <button className="link" type="submit">
          Sign out
        </button>
      </form>
    </>
  );
}

export interface AccessViewInput {
  readonly apps: readonly AuthorizedApp[];
  readonly csrf: string;
  /** After a revoke: the app's name and how many authorizations ended. */
  readonly revoked: { readonly clientName: string; readonly grants: number } | null;
}

/** The persona's apps, each with what it may do and a revoke button. */
export function accessView(input: AccessViewInput): ReactElement {
  return (
    <>
      <h1>Apps with access to your data</h1>
      <p className="muted">
        These apps can use the access you gave them. Revoking one ends it at once: its access tokens stop working and its refresh tokens can no longer be
        exchanged. The app has to ask you again.
      </p>
      {input.revoked ? (
        <p className="notice" role="status" data-testid="access-revoked">
          Access of {input.revoked.clientName} revoked ({input.revoked.grants === 1 ? 'one authorization' : `${input.revoked.grants} authorizations`}, with
          their access and refresh tokens).
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
    </>
  );
}

export interface SignInViewInput {
  readonly csrf: string;
  readonly username: string;
  /** Why the last attempt failed, or null. */
  readonly error: string | null;
}

/** Nobody is signed in: sign in as a sandbox persona, then the list. */
export function signInView(input: SignInViewInput): ReactElement {
  return (
    <>
      <h1>Sign in to see which apps have access</h1>
      <div className="card">
        <p>This page lists the apps you authorized and lets you revoke them.</p>
        {input.error ? (
          <p className="error" role="alert">
            {input.error}
          </p>
        ) : null}
        <form method="post" action={`${accessPagePath()}/login`}>
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
    </>
  );
}

/** A short message (refused form, nothing to revoke) with the way back. */
export function accessMessageView(title: string, message: string): ReactElement {
  return (
    <>
      <h1>{title}</h1>
      <p className="card">
        {message} <a href={accessPagePath()}>Back to your apps</a>
      </p>
    </>
  );
}
