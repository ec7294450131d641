// FHIR R4 API: one framework-free handler (lib/fhir/router.ts) for every method.
export { handleFhirRequest as GET } from '#lib/fhir/router';
export { handleFhirRequest as POST } from '#lib/fhir/router';
export { handleFhirRequest as PUT } from '#lib/fhir/router';
export { handleFhirRequest as PATCH } from '#lib/fhir/router';
export { handleFhirRequest as DELETE } from '#lib/fhir/router';
export { handleFhirRequest as OPTIONS } from '#lib/fhir/router';
// Every answer depends on the request (token, data): never prerendered or cached, and the request
// reaches the handler as it is, without the tracking proxies a possibly static route gets.
export const dynamic = 'force-dynamic';
