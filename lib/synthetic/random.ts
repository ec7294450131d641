import { Faker, base, en, en_US } from '@faker-js/faker';
import type { Randomizer } from '@faker-js/faker';

/** Mixes two integers into a well-spread 32-bit seed (murmur3 finaliser). */
export function mixSeed(a: number, b: number): number {
  let h = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul((b | 0) + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 units of a string: seeds a stream of its own from a stable key. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Seed of patient `index` in a dataset: independent of the dataset size, so patient i never changes when N does. */
export function patientSeed(seed: number, index: number): number {
  // Seeds may exceed 32 bits: fold the high word in rather than truncating it.
  const high = Math.floor(seed / 4294967296);
  return mixSeed(mixSeed(seed >>> 0, high ^ 0x5eed), index);
}

/**
 * Small fast PRNG (sfc32). Faker's Mersenne Twister costs a 624-word reseed per patient;
 * sfc32 reseeds in a few operations and feeds both our numeric draws and Faker (through
 * {@link withFaker}), so one seed drives everything a patient contains.
 */
export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  constructor(seed: number) {
    this.seed(seed);
  }

  seed(seed: number): void {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform float in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  float(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new RangeError('pick from an empty list');
    return item;
  }

  /** Picks by weight; `weights[i]` belongs to `items[i]`. */
  weighted<T>(items: readonly T[], weights: readonly number[]): T {
    let total = 0;
    for (const w of weights) total += w;
    let r = this.next() * total;
    for (let i = 0; i < items.length; i++) {
      r -= weights[i] ?? 0;
      if (r < 0) return items[i] as T;
    }
    return items[items.length - 1] as T;
  }

  /** Standard normal draw (Box–Muller). */
  normal(mean = 0, sd = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Digits string of the given length (used for identifiers such as MRNs and NPIs). */
  digits(length: number): string {
    let s = '';
    for (let i = 0; i < length; i++) s += String(Math.floor(this.next() * 10));
    return s;
  }
}

// One Faker instance for the process, fed by whichever Rng is current: building a Faker per
// patient would cost more than generating the patient.
let current: Rng | undefined;
const bridge: Randomizer = {
  next: () => {
    if (!current) throw new Error('Faker used outside withFaker()');
    return current.next();
  },
  seed: () => {
    // Seeding goes through Rng; Faker never reseeds the bridge on its own.
  },
};
const faker = new Faker({ locale: [en_US, en, base], randomizer: bridge });

/**
 * Runs `fn` with Faker drawing from `rng`. Generation is synchronous, so setting and restoring
 * the current source keeps interleaved generators (e.g. two datasets iterated together) deterministic.
 */
export function withFaker<T>(rng: Rng, fn: (f: Faker) => T): T {
  const previous = current;
  current = rng;
  try {
    return fn(faker);
  } finally {
    current = previous;
  }
}
