/**
 * The version of the default dataset as it is stored: the generated resources with their search
 * index rows and compartment memberships. A database seeded at an earlier version lacks what
 * changed since (new resources, new index rows), and `npm start`, which seeds only an empty
 * database, says so and names `npm run db:reset` (prisma/seed.ts).
 *
 * dataset-version.test.ts fails when the stored form of a small dataset changes while this number
 * stays: bump it and record the fingerprint the test prints.
 */
export const DATASET_VERSION = 1;
