import type { ReactElement } from 'react';
import { renderDocument } from '../http/html';

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1f2933}h1{font-size:1.4rem}code{background:#f0f4f8;padding:.1rem .3rem;border-radius:3px}.why{border-left:4px solid #d64545;padding:.5rem 1rem;background:#fff5f5}h1,p,code{overflow-wrap:anywhere}';

function ErrorPage({ title, code, message }: { title: string; code: string; message: string }): ReactElement {
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} — SMART Sandbox`}</title>
        <style dangerouslySetInnerHTML={{ __html: STYLE }} />
      </head>
      <body>
        <h1>{title}</h1>
        <p className="why">
          <code>{code}</code>: {message}
        </p>
        <p>
          The sandbox did not send you back to the application: it only redirects to a <code>redirect_uri</code> that matches one registered for the{' '}
          <code>client_id</code> exactly (RFC 6749 §4.1.2.1, RFC 9700 §4.11). Check the app&apos;s registration in the sandbox console and the parameters it
          sends to <code>/oauth/authorize</code>.
        </p>
      </body>
    </html>
  );
}

/**
 * The HTML page /oauth/authorize answers when it must not redirect (unknown client, unregistered
 * redirect URI, …): the error code and its description, rendered as text by React.
 */
export function renderErrorPage(title: string, code: string, message: string): string {
  return `${renderDocument(<ErrorPage title={title} code={code} message={message} />)}\n`;
}
