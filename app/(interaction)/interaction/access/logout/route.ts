export { handleAccessLogout as POST } from '#lib/interaction/access-handlers';
