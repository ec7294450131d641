export { handleUnavailablePage as GET } from '#lib/http/unavailable';

export const dynamic = 'force-dynamic';
