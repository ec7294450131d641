export { handleTokenRevoke as POST } from '#lib/console/api';
export const dynamic = 'force-dynamic';
