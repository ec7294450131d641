import type { GranularFilter } from '../../smart/access-policy';

/** What the access policy allows for one type: pushed into every query that reads it. */
export interface AccessScope {
  /** Only resources in this patient's compartment, or null for no compartment restriction. */
  compartmentPatientId: string | null;
  /** OR of granular filters (each an AND of param → OR of values), or null for the whole type. */
  filters: GranularFilter[] | null;
}
