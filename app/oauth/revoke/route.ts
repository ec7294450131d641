export { handleRevoke as POST, handleRevokePreflight as OPTIONS } from '#lib/oauth/endpoints/revoke';
export const dynamic = 'force-dynamic';
