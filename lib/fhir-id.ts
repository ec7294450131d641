/**
 * The FHIR resource id (FHIR R4 §datatypes id: `[A-Za-z0-9\-\.]{1,64}`), written once. Every layer
 * that accepts an id or a `Type/id` reference from outside builds its pattern from these.
 */

/** The id grammar as a regular-expression source, for composing larger patterns. */
export const FHIR_ID_SOURCE = '[A-Za-z0-9\\-.]{1,64}';

/** A whole string that is a FHIR id. */
export const FHIR_ID_PATTERN = new RegExp(`^${FHIR_ID_SOURCE}$`);

/** True when `value` is a FHIR id. */
export function isFhirId(value: string): boolean {
  return FHIR_ID_PATTERN.test(value);
}

/** A pattern matching `{Type}/{id}` for one of `types` (capturing type and id), or any resource type. */
export function referencePattern(types?: readonly string[]): RegExp {
  const type = types ? `(${types.join('|')})` : '([A-Z][A-Za-z]+)';
  return new RegExp(`^${type}\\/(${FHIR_ID_SOURCE})$`);
}
