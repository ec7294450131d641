import { notFound, redirect } from 'next/navigation';
import { findShareLink, SHARE_CODE_PATTERN } from '#lib/launcher/share-links';

// Short shareable link: the launcher opens with the stored configuration; an unknown one gets the
// page of not-found.tsx, which says what to do instead.
export default async function ShareLinkPage({ params }: { params: Promise<{ code: string }> }) {
  const { code } = await params;
  if (!SHARE_CODE_PATTERN.test(code) || !(await findShareLink(code))) notFound();
  redirect(`/?share=${code}`);
}
