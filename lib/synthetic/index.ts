/**
 * Synthetic FHIR R4 / US Core 6.1.0 data: deterministic (seed + anchor date), clinically
 * coherent, generated in memory and streamed one patient at a time. Storage lives elsewhere.
 */
export { generatePatient, cohortPatientId } from './cohort';
export { generateDataset, MAX_PATIENTS } from './dataset';
export type { DatasetItem, DatasetOptions } from './dataset';
export { generateSharedResources } from './shared';
export { ALL_PATIENTS_GROUP_ID, conditionGroupId, GroupCollector } from './groups';
export { generateRoster, generateRosterPatient, ROSTER_IDS, PAGING_RECORD_SIZE } from './roster';
export type { RosterId, RosterOptions } from './roster';
export { personas, patientPersona, relatedPersonPersona, usernameFor } from './personas';
export type { Persona, PersonaOptions } from './personas';
export { CONDITION_KEYS, isConditionKey } from './conditions';
export type { ConditionKey } from './conditions';
export { resolveOptions, DEFAULT_HISTORY_YEARS } from './options';
export type { GenerateOptions } from './options';
export type { PatientRecord } from './patient';
