export { handleToken as POST, handleTokenPreflight as OPTIONS } from '#lib/oauth/endpoints/token';
export const dynamic = 'force-dynamic';
