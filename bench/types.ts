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
  /**
   * The trivial Next route measured in rounds alternating with this benchmark (the same stretch of
   * a noisy machine): the table's "vs Next route" columns then compare against it instead of the
   * run's opening baseline.
   */
  pairedBaseline?: { rate: number; cpuMsPerRequest?: number };
}

export interface BenchContext {
  baseUrl: string;
  databaseUrl: string;
  /** An autocannon run; `warmUp: false` skips the unmeasured second of warm-up before it. */
  http(name: string, url: string, opts?: Partial<autocannon.Options>, options?: { warmUp?: boolean }): Promise<BenchResult>;
  inProcess(name: string, fn: (i: number) => Promise<unknown>, concurrency?: number, seconds?: number): Promise<BenchResult>;
  /** Process id of the server under test (Linux), or null. */
  serverPid(): number | null;
}

export interface Benchmark {
  name: string;
  run(ctx: BenchContext): Promise<BenchResult[]>;
}
