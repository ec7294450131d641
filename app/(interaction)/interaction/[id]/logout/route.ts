export { interactionLogoutRoute as POST } from '#lib/interaction/interaction-handlers';
