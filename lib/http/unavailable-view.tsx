import type { ReactElement } from 'react';

/** The body of the 503 page (lib/http/unavailable.ts); `retryPath` is a path on this server. */
export function unavailableView(retryPath?: string): ReactElement {
  return (
    <>
      <h1>The sandbox is briefly unavailable</h1>
      <div className="card">
        <p>Its database cannot be reached right now, so this step could not be completed.</p>
        <p className="muted">Wait a few seconds, then reload the page or start again from the app.</p>
        {retryPath ? (
          <p>
            <a href={retryPath}>Try again</a>
          </p>
        ) : null}
      </div>
    </>
  );
}
