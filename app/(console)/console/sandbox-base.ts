import { headers } from 'next/headers';
import { sandboxOfHeaders } from '#lib/sandbox/context';
import type { SandboxContext } from '#lib/sandbox/context';

/** The sandbox a console page is shown for (`/s/{id}/console/…`, or the default sandbox), or null when none is served there. */
export async function consoleSandbox(): Promise<SandboxContext | null> {
  return sandboxOfHeaders(await headers());
}
