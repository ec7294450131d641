// CLI for lib/fhir/bench.ts: DATABASE_URL=file:/tmp/bench.db node --import tsx lib/fhir/bench-cli.mts [patients] [iterations] [--load]
import { loadBenchData, runSearchBench } from './bench';
import { createDb } from '../db';
import { env } from '../env';

const patients = Number(process.argv[2] ?? 1000);
const iterations = Number(process.argv[3] ?? 300);
const url = env.DATABASE_URL;
if (process.argv.includes('--load')) {
  const t0 = Date.now();
  const n = await loadBenchData(url, patients);
  console.log(`loaded ${n} resources in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
const { db } = createDb(url);
console.table(await runSearchBench(db, patients, iterations));
await db.$disconnect();
