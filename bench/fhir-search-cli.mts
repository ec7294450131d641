// CLI for bench/fhir-search.ts: DATABASE_URL=file:/tmp/bench.db node --import tsx bench/fhir-search-cli.mts [patients] [iterations] [--load]
import { loadBenchData, runSearchBench } from './fhir-search';
import { createDb } from '../lib/db';
import { env } from '../lib/env';

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
