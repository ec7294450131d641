import type autocannon from 'autocannon';

export interface BenchResult {
  name: string;
  unit: string;
  rate: number;
  p50: number;
  p99: number;
  errors: number;
  total: number;
  /** CPU time of the server process per request (HTTP benchmarks on Linux). */
  cpuMsPerRequest?: number;
}

export interface BenchContext {
  baseUrl: string;
  databaseUrl: string;
  http(name: string, url: string, opts?: Partial<autocannon.Options>): Promise<BenchResult>;
  inProcess(name: string, fn: (i: number) => Promise<unknown>, concurrency?: number, seconds?: number): Promise<BenchResult>;
}

export interface Benchmark {
  name: string;
  run(ctx: BenchContext): Promise<BenchResult[]>;
}
