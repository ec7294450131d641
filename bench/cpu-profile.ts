// Summaries of V8 CPU profiles (the .cpuprofile files of `node --cpu-prof`, or the inspector's
// Profiler.stop): self time grouped by where the code comes from, the heaviest functions by self
// time, and our own functions by inclusive time (each sample counted once per function on its stack).
//   node --import tsx bench/cpu-profile.ts <file.cpuprofile> [rows] [last seconds]
// `BENCH_CPU_PROFILE=<dir> npm run bench -- leastwork` writes the sandbox server's profile there.
import { readFileSync } from 'node:fs';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime?: number;
  endTime?: number;
}

/**
 * The profile of its last `seconds` only (a benchmark's own workload runs last, after the server's
 * start and the other workloads): hit counts recomputed from the samples in that window.
 */
export function lastSeconds(profile: CpuProfile, seconds: number): CpuProfile {
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let t = profile.startTime ?? 0;
  const times = samples.map((_, i) => (t += deltas[i] ?? 0));
  const from = (profile.endTime ?? t) - seconds * 1e6;
  const kept = samples.filter((_, i) => times[i]! >= from);
  const hits = new Map<number, number>();
  for (const id of kept) hits.set(id, (hits.get(id) ?? 0) + 1);
  return { ...profile, samples: kept, nodes: profile.nodes.map((n) => ({ ...n, hitCount: hits.get(n.id) ?? 0 })) };
}

/** Where a function comes from: a package, a node: module, a folder of lib/, or V8's own buckets. */
export function categoryOf(url: string, fn: string): string {
  if (!url) return fn === '(garbage collector)' ? 'GC' : fn === '(program)' || fn === '(idle)' ? fn : 'native';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  if (url.includes('/lib/generated/')) return 'prisma generated client';
  const own = /\/(lib\/.+)\/[^/]+$/.exec(url.split('?')[0]!);
  return own ? own[1]! : url.slice(-40);
}

function functionKey(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url
    .split('?')[0]!
    .replace(/.*node_modules\//, '')
    .replace(/^.*?\/(lib|bench|scripts|app)\//, '$1/');
  return `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
}

const isOwn = (url: string) => /\/(lib|app)\//.test(url) && !url.includes('node_modules') && !url.includes('/lib/generated/');

/** The summary as lines of text: by origin and heaviest functions (self time), and our own functions by inclusive time. */
export function summarizeProfile(profile: CpuProfile, rows = 14): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const idle = (n: ProfileNode) => n.callFrame.functionName === '(idle)';
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (!hits || idle(node)) continue;
    total += hits;
    const cat = categoryOf(node.callFrame.url, node.callFrame.functionName);
    byCategory.set(cat, (byCategory.get(cat) ?? 0) + hits);
    const key = functionKey(node);
    byFunction.set(key, (byFunction.get(key) ?? 0) + hits);
  }
  // Inclusive time of our own functions: every busy sample, once per own function on its stack.
  const inclusive = new Map<string, number>();
  const stackKeys = new Map<number, string[]>();
  const ownOnStack = (id: number): string[] => {
    const known = stackKeys.get(id);
    if (known) return known;
    const node = byId.get(id)!;
    const up = parent.has(id) ? ownOnStack(parent.get(id)!) : [];
    const keys = isOwn(node.callFrame.url) && !up.includes(functionKey(node)) ? [...up, functionKey(node)] : up;
    stackKeys.set(id, keys);
    return keys;
  };
  for (const id of profile.samples ?? []) {
    if (idle(byId.get(id)!)) continue;
    for (const key of ownOnStack(id)) inclusive.set(key, (inclusive.get(key) ?? 0) + 1);
  }
  const busySamples = (profile.samples ?? []).filter((id) => !idle(byId.get(id)!)).length;
  const top = (m: Map<string, number>, n: number, of: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `      ${((v / of) * 100).toFixed(1).padStart(5)}%  ${k}`);
  return [
    '    by origin (self time):',
    ...top(byCategory, rows, total),
    '    heaviest functions (self time):',
    ...top(byFunction, rows, total),
    ...(busySamples ? ['    our functions (inclusive time):', ...top(inclusive, rows, busySamples)] : []),
  ];
}

const isMain = process.argv[1] && import.meta.filename === process.argv[1];
if (isMain) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx bench/cpu-profile.ts <file.cpuprofile> [rows] [last seconds]');
    process.exit(2);
  }
  const whole = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const window = Number(process.argv[4] ?? 0);
  const profile = window > 0 ? lastSeconds(whole, window) : whole;
  const busy = (profile.samples ?? []).filter((id) => profile.nodes.find((n) => n.id === id)?.callFrame.functionName !== '(idle)').length;
  console.log(
    `${file}${window > 0 ? `, last ${window} s` : ''} (${busy} busy samples):\n${summarizeProfile(profile, Number(process.argv[3] ?? 25)).join('\n')}`,
  );
}
