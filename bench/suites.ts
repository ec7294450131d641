import type { Benchmark } from './types';

/** Benchmarks beyond the baselines and the store; each capability adds its own here. */
export const benchmarks: Benchmark[] = [];
