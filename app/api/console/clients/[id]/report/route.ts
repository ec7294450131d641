export { handleClientReport as GET } from '#lib/console/api';
export const dynamic = 'force-dynamic';
