export { handleAccessLogin as POST } from '#lib/interaction/access-handlers';
