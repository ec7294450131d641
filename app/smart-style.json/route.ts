export { handleSmartStyle as GET, handleDiscoveryPreflight as OPTIONS } from '#lib/smart/discovery';
export const dynamic = 'force-dynamic';
