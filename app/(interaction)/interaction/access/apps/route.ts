import { handleAccessList } from '#lib/interaction/access-handlers';

export const dynamic = 'force-dynamic';

export { handleAccessList as GET };
