export { handleJwks as GET } from '#lib/oauth/endpoints/jwks';
export const dynamic = 'force-dynamic';
