export { handleSmartStyle as GET, handleDiscoveryPreflight as OPTIONS } from '#lib/oauth/discovery';
export const dynamic = 'force-dynamic';
