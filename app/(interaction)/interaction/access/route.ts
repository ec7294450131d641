export { handleAccessPage as GET, handleAccessForm as POST } from '#lib/interaction/access-handlers';

export const dynamic = 'force-dynamic';
