export { interactionLoginRoute as POST } from '#lib/interaction/interaction-handlers';
