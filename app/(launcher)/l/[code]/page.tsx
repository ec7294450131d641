import { notFound, redirect } from 'next/navigation';
import { SHARE_CODE_PATTERN } from '#lib/launcher/share-links';
import { inRequestSandbox } from '../../../request-sandbox';

// Short shareable link: the launcher opens with the stored configuration.
export default async function ShareLinkPage({ params }: { params: Promise<{ code: string }> }) {
  const { code } = await params;
  if (!SHARE_CODE_PATTERN.test(code)) notFound();
  const { basePath } = await inRequestSandbox(async (sandbox) => sandbox);
  redirect(`${basePath}/?share=${code}`);
}
