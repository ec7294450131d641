import type { ReactNode } from 'react';
import { headers } from 'next/headers';
import { notFound } from 'next/navigation';
import { runInSandbox, sandboxOfHeaders } from '#lib/sandbox/context';
import type { SandboxContext } from '#lib/sandbox/context';

/**
 * Runs a page's or server action's work in the sandbox of the request (`/s/{id}/…`, rewritten by
 * proxy.ts; the default sandbox otherwise); a sandbox that is not served is Next's 404 page.
 */
export async function inRequestSandbox<T>(work: (sandbox: SandboxContext) => Promise<T>): Promise<T> {
  const sandbox = await sandboxOfHeaders(await headers());
  if (!sandbox) notFound();
  return runInSandbox(sandbox, () => work(sandbox));
}

/** A page component whose rendering work runs in the request's sandbox (see `inRequestSandbox`). */
export function inSandboxPage<P>(page: (props: P) => Promise<ReactNode> | ReactNode): (props: P) => Promise<ReactNode> {
  return (props: P) => inRequestSandbox(async () => page(props));
}
