import { handleAccessLogout } from '#lib/interaction/access-handlers';

export const dynamic = 'force-dynamic';

export { handleAccessLogout as POST };
