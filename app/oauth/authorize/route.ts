export { handleAuthorize as GET, handleAuthorize as POST } from '#lib/oauth/endpoints/authorize';
export const dynamic = 'force-dynamic';
