'use client';

import Link from 'next/link';
import { useActionState } from 'react';
import type { ClientActionState } from '../actions';

export interface ClientFormValues {
  clientId: string;
  name: string;
  clientType: string;
  tokenEndpointAuthMethod: string;
  redirectUris: string;
  launchUris: string;
  scope: string;
  jwks: string;
  jwksUri: string;
  pkceRequired: boolean;
  introspectAnyToken: boolean;
}

type Action = (prev: ClientActionState, form: FormData) => Promise<ClientActionState>;

function Result({ state, sandboxBase }: { state: ClientActionState; sandboxBase: string }) {
  if (!state) return null;
  if (!state.ok)
    return (
      <p className="notice bad" role="alert">
        {state.error}
      </p>
    );
  return (
    <div className="notice" role="status" data-testid="client-result">
      <p style={{ margin: 0 }}>
        {state.message} <Link href={`${sandboxBase}/console/clients/${encodeURIComponent(state.client.clientId)}`}>{state.client.clientId}</Link>
      </p>
      {state.clientSecret ? (
        <p style={{ margin: '6px 0 0' }}>
          <strong>Client secret (shown once, copy it now):</strong> <code data-testid="client-secret">{state.clientSecret}</code>
        </p>
      ) : null}
    </div>
  );
}

/** Register or edit form for a client; the server action returns the result (and a new secret once). */
/** `sandboxBase`: the console's sandbox prefix ('' or `/s/{id}`), for the link to the saved client. */
export function ClientForm({ action, values, mode, sandboxBase }: { action: Action; values: ClientFormValues; mode: 'new' | 'edit'; sandboxBase: string }) {
  const [state, formAction, pending] = useActionState(action, null);
  return (
    <form action={formAction} className="card">
      <Result state={state} sandboxBase={sandboxBase} />
      {mode === 'edit' ? <input type="hidden" name="originalClientId" value={values.clientId} /> : null}
      <div className="grid2">
        <p>
          <label htmlFor="name">
            <strong>Name</strong>
          </label>
          <br />
          <input id="name" name="name" defaultValue={values.name} required style={{ width: '100%' }} />
        </p>
        <p>
          <label htmlFor="clientId">
            <strong>client_id</strong> {mode === 'new' ? <span className="muted-small">(optional, random when empty)</span> : null}
          </label>
          <br />
          <input id="clientId" name="clientId" defaultValue={values.clientId} disabled={mode === 'edit'} style={{ width: '100%' }} />
        </p>
        <p>
          <label htmlFor="clientType">
            <strong>Type</strong>
          </label>
          <br />
          <select id="clientType" name="clientType" defaultValue={values.clientType} disabled={mode === 'edit'}>
            <option value="public">public (browser/mobile app, PKCE, no secret)</option>
            <option value="confidential-symmetric">confidential-symmetric (client secret)</option>
            <option value="confidential-asymmetric">confidential-asymmetric (private_key_jwt, JWKS)</option>
            <option value="backend">backend (client_credentials, JWKS)</option>
          </select>
          {mode === 'edit' ? <input type="hidden" name="clientType" value={values.clientType} /> : null}
        </p>
        <p>
          <label htmlFor="tokenEndpointAuthMethod">
            <strong>Secret sent with</strong> <span className="muted-small">(symmetric only)</span>
          </label>
          <br />
          <select id="tokenEndpointAuthMethod" name="tokenEndpointAuthMethod" defaultValue={values.tokenEndpointAuthMethod}>
            <option value="client_secret_basic">client_secret_basic (HTTP Basic)</option>
            <option value="client_secret_post">client_secret_post (form body)</option>
          </select>
        </p>
      </div>
      <p>
        <label htmlFor="redirectUris">
          <strong>Redirect URIs</strong> <span className="muted-small">(one per line, exact match)</span>
        </label>
        <br />
        <textarea id="redirectUris" name="redirectUris" rows={2} defaultValue={values.redirectUris} style={{ width: '100%' }} />
      </p>
      <p>
        <label htmlFor="launchUris">
          <strong>Launch URLs</strong> <span className="muted-small">(one per line; the EHR opens them with ?iss&amp;launch)</span>
        </label>
        <br />
        <textarea id="launchUris" name="launchUris" rows={2} defaultValue={values.launchUris} style={{ width: '100%' }} />
      </p>
      <p>
        <label htmlFor="scope">
          <strong>Allowed scopes</strong> <span className="muted-small">(empty: the default set; backend clients: what they are pre-authorised for)</span>
        </label>
        <br />
        <textarea id="scope" name="scope" rows={2} defaultValue={values.scope} style={{ width: '100%' }} />
      </p>
      <div className="grid2">
        <p>
          <label htmlFor="jwks">
            <strong>JWKS</strong> <span className="muted-small">(asymmetric and backend: paste {'{"keys":[…]}'} public keys)</span>
          </label>
          <br />
          <textarea id="jwks" name="jwks" rows={4} defaultValue={values.jwks} style={{ width: '100%' }} />
        </p>
        <p>
          <label htmlFor="jwksUri">
            <strong>…or JWKS URL</strong>
          </label>
          <br />
          <input id="jwksUri" name="jwksUri" defaultValue={values.jwksUri} style={{ width: '100%' }} />
        </p>
      </div>
      <p>
        <label>
          <input type="checkbox" name="pkceRequired" defaultChecked={values.pkceRequired} /> Require PKCE (S256) — turn off only for SMART v1 apps
        </label>
      </p>
      <p>
        <label>
          <input type="checkbox" name="introspectAnyToken" defaultChecked={values.introspectAnyToken} /> May introspect every client’s tokens (a resource
          server; confidential and backend clients only) — otherwise only its own
        </label>
      </p>
      <button type="submit" disabled={pending}>
        {pending ? 'Saving…' : mode === 'new' ? 'Register client' : 'Save changes'}
      </button>
    </form>
  );
}

/** A one-button form whose result (new secret, clone id) is shown next to it. */
export function ClientActionButton({
  action,
  clientId,
  label,
  danger,
  sandboxBase,
}: {
  action: Action;
  clientId: string;
  label: string;
  danger?: boolean;
  sandboxBase: string;
}) {
  const [state, formAction, pending] = useActionState(action, null);
  return (
    <form action={formAction} className="inline">
      <input type="hidden" name="clientId" value={clientId} />
      <button type="submit" className={danger ? 'danger' : 'secondary'} disabled={pending}>
        {label}
      </button>
      <Result state={state} sandboxBase={sandboxBase} />
    </form>
  );
}
