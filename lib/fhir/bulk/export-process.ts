// The process an export job runs in (started by lib/fhir/bulk/jobs.ts with `node --import tsx`):
// `export-process.ts <jobId> <owner>`. The server has claimed the job for `owner`; this process
// writes its files and manifest under that claim, on its own database connection, and exits 0
// (also when the job was cancelled meanwhile) or non-zero on failure.
import { getDb } from '../../db';
import { runJob } from './jobs';

const [jobId, owner] = process.argv.slice(2);
if (!jobId || !owner) {
  console.error('usage: export-process.ts <jobId> <owner>');
  process.exit(2);
}
const db = getDb();
const job = await db.bulkExportJob.findUnique({ where: { id: jobId } });
if (job) await runJob(db, job, owner);
await db.$disconnect();
process.exit(0);
