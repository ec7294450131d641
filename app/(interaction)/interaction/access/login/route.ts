import { handleAccessLogin } from '#lib/interaction/access-handlers';

export const dynamic = 'force-dynamic';

export { handleAccessLogin as POST };
