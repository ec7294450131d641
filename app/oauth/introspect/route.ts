export { handleIntrospect as POST } from '#lib/oauth/endpoints/introspect';
export const dynamic = 'force-dynamic';
