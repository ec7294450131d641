/** The default sandbox (tenant), served at {origin}/fhir. */
export const DEFAULT_SANDBOX_ID = 'default';
