import { notFound, redirect } from 'next/navigation';
import { SHARE_CODE_PATTERN } from '#lib/launcher/share-links';

// Short shareable link: the launcher opens with the stored configuration.
export default async function ShareLinkPage({ params }: { params: Promise<{ code: string }> }) {
  const { code } = await params;
  if (!SHARE_CODE_PATTERN.test(code)) notFound();
  redirect(`/?share=${code}`);
}
