export { handleRegister as POST } from '#lib/oauth/endpoints/register';
export const dynamic = 'force-dynamic';
