// The one entry point to @medplum/core: the shim must be evaluated before Medplum loads.
import './websocket-shim';
export {
  fhirPathIs,
  getElementDefinition,
  removeDuplicates,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  parseFhirPath,
  toTypedValue,
  validateResource,
} from '@medplum/core';
export type { FhirPathAtom, TypedValue } from '@medplum/core';
