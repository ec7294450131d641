import { notFound, redirect } from 'next/navigation';
import { findShareLink, SHARE_CODE_PATTERN } from '#lib/launcher/share-links';
import { inRequestSandbox } from '../../../request-sandbox';

// Short shareable link: the launcher opens with the stored configuration; an unknown one gets the
// page of not-found.tsx, which says what to do instead.
export default async function ShareLinkPage({ params }: { params: Promise<{ code: string }> }) {
  const { code } = await params;
  if (!SHARE_CODE_PATTERN.test(code)) notFound();
  const { basePath, found } = await inRequestSandbox(async (sandbox) => ({ basePath: sandbox.basePath, found: await findShareLink(code) }));
  if (!found) notFound();
  redirect(`${basePath}/?share=${code}`);
}
