export { interactionPageRoute as GET } from '#lib/interaction/interaction-handlers';

export const dynamic = 'force-dynamic';
