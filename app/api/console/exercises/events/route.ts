import { nextRouteHandlers } from '#lib/routes/api-routes';

// Every answer depends on the request: never prerendered or cached. The route is one entry of lib/routes/api-routes.ts.
export const dynamic = 'force-dynamic';
export const { GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS } = nextRouteHandlers('console-exercise-events');
