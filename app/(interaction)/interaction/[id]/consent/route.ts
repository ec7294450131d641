export { interactionConsentRoute as POST } from '#lib/interaction/interaction-handlers';
