// The one entry point to @medplum/core: the shim must be evaluated before Medplum loads.
import './websocket-shim';
export {
  applyPatch,
  fhirPathIs,
  getElementDefinition,
  removeDuplicates,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  parseFhirPath,
  toTypedValue,
  validateResource,
} from '@medplum/core';
export type { FhirPathAtom, Operation as JsonPatchOperation, TypedValue } from '@medplum/core';
