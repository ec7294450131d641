/**
 * Generation-only benchmark: `npx tsx bench/generate.ts [patients=1000] [seed=7] [anchor=2025-06-01]`.
 * Prints patients/s, resources/s, resources per patient and per type, and peak heap for N cohort
 * patients streamed through generateDataset (the roster is measured separately).
 */
import { generateDataset } from '../lib/synthetic/dataset';
import { generateRoster } from '../lib/synthetic/roster';

const patients = Number(process.argv[2] ?? 1000);
const seed = Number(process.argv[3] ?? 7);
const anchorDate = process.argv[4] ?? '2025-06-01';

const byType = new Map<string, number>();
const sizes: number[] = [];
let peakHeap = 0;
const started = performance.now();
for (const item of generateDataset({ seed, patients, anchorDate, includeRoster: false })) {
  if (item.kind !== 'patient') continue;
  sizes.push(item.record.resources.length);
  for (const r of item.record.resources) byType.set(r.resourceType, (byType.get(r.resourceType) ?? 0) + 1);
  if (sizes.length % 100 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
}
const seconds = (performance.now() - started) / 1000;
const total = sizes.reduce((a, b) => a + b, 0);
sizes.sort((a, b) => a - b);
const pct = (p: number): number => sizes[Math.min(sizes.length - 1, Math.floor(p * sizes.length))] ?? 0;

const rosterStart = performance.now();
let rosterResources = 0;
for (const r of generateRoster({ anchorDate })) rosterResources += r.resources.length;
const rosterMs = performance.now() - rosterStart;

console.log(`patients            ${patients} (seed ${seed}, anchor ${anchorDate})`);
console.log(`time                ${seconds.toFixed(2)} s`);
console.log(`patients/s          ${(patients / seconds).toFixed(0)}`);
console.log(`resources           ${total} (${(total / seconds).toFixed(0)}/s)`);
console.log(
  `per patient         median ${pct(0.5)}, p10 ${pct(0.1)}, p90 ${pct(0.9)}, max ${sizes[sizes.length - 1] ?? 0}, mean ${(total / patients).toFixed(1)}`,
);
console.log(`peak heap           ${(peakHeap / 2 ** 20).toFixed(0)} MiB`);
console.log(`roster              ${rosterResources} resources in ${rosterMs.toFixed(0)} ms`);
console.log('resources by type (total, per patient):');
for (const [type, n] of [...byType].sort((a, b) => b[1] - a[1])) console.log(`  ${type.padEnd(20)} ${String(n).padStart(8)}  ${(n / patients).toFixed(1)}`);
