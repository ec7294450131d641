export { handleAccessList as GET } from '#lib/interaction/access-handlers';

export const dynamic = 'force-dynamic';
