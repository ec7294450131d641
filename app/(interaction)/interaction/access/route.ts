import { handleAccessForm, handleAccessPage } from '#lib/interaction/access-handlers';

export const dynamic = 'force-dynamic';

export { handleAccessPage as GET, handleAccessForm as POST };
