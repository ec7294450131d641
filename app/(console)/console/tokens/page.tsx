import Link from 'next/link';
import { requireConsoleSession } from '#lib/console/auth';
import { relativeTime, toSearchParams } from '#lib/console/format';
import { listTokens, parseTokenFilters, tokenFilterOptions, TOKEN_STATUSES } from '#lib/console/tokens';
import { inSandboxPage } from '../../../request-sandbox';
import { currentSandbox } from '#lib/sandbox/context';

export const metadata = { title: 'Tokens · SMART Sandbox console' };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

async function TokensPage({ searchParams }: Props) {
  await requireConsoleSession('/console/tokens');
  const sandboxBase = currentSandbox().basePath;
  const filters = parseTokenFilters(toSearchParams(await searchParams));
  const [tokens, options] = await Promise.all([listTokens(filters), tokenFilterOptions()]);
  const now = new Date();
  return (
    <>
      <h1>Tokens</h1>
      <p className="lead">
        Every access and refresh token the authorization server issued. Open one to see its claims, its scopes explained, and to revoke it.
      </p>
      <form className="filters" method="get">
        <label>
          Client
          <select name="clientId" defaultValue={filters.clientId ?? ''}>
            <option value="">any</option>
            {options.clients.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label>
          User
          <select name="userId" defaultValue={filters.userId ?? ''}>
            <option value="">any</option>
            {options.users.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label>
          Patient
          <select name="patientId" defaultValue={filters.patientId ?? ''}>
            <option value="">any</option>
            {options.patients.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select name="status" defaultValue={filters.status ?? ''}>
            <option value="">any</option>
            {TOKEN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Kind
          <select name="kind" defaultValue={filters.kind ?? ''}>
            <option value="">any</option>
            <option value="access">access</option>
            <option value="refresh">refresh</option>
          </select>
        </label>
        <button type="submit">Filter</button>
        <Link className="button secondary" href={`${sandboxBase}/console/tokens`}>
          Clear
        </Link>
      </form>
      {tokens.length === 0 ? (
        <p className="card muted">No tokens match. Launch an app from the launcher, or register a backend client and call /oauth/token.</p>
      ) : (
        <table data-testid="tokens-table">
          <thead>
            <tr>
              <th>Token</th>
              <th>Kind</th>
              <th>Status</th>
              <th>Client</th>
              <th>User</th>
              <th>Patient</th>
              <th>Scope</th>
              <th>Issued</th>
              <th>Expires</th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id}>
                <td>
                  <Link href={`${sandboxBase}/console/tokens/${encodeURIComponent(t.id)}`}>
                    <code>{t.id.slice(0, 10)}…</code>
                  </Link>
                </td>
                <td>
                  {t.kind}
                  {t.parentId ? <span className="muted-small"> (refreshed)</span> : null}
                </td>
                <td>
                  <span className={`badge ${t.status}`}>{t.status}</span>
                </td>
                <td>{t.clientId}</td>
                <td>{t.userId ?? '—'}</td>
                <td>{t.patientId ?? '—'}</td>
                <td>
                  <code>{t.scope.length > 90 ? `${t.scope.slice(0, 90)}…` : t.scope}</code>
                </td>
                <td title={t.issuedAt.toISOString()}>{relativeTime(t.issuedAt, now)}</td>
                <td title={t.expiresAt.toISOString()}>{relativeTime(t.expiresAt, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export default inSandboxPage(TokensPage);
