export { accessRevokeRoute as DELETE, accessRevokeRoute as POST } from '#lib/interaction/access-handlers';
