// Fresh random inputs on every run, reproducible when a run fails: the seed is printed and HESS_SEED pins it.

/** mulberry32: small, fast, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fresh seed (or HESS_SEED), logged so that a failing run can be replayed. */
export function freshSeed(label: string): number {
  const env = typeof process !== 'undefined' ? process.env.HESS_SEED : undefined;
  const seed = env ? Number(env) : Math.floor(Math.random() * 2 ** 31);
  console.info(`[seed] ${label}: HESS_SEED=${seed}`);
  return seed;
}

/** Uniform values in [lo, hi). */
export function randomF32(n: number, rand: () => number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}

/** Standard normal values (Box–Muller). */
export function randn(n: number, rand: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * scale;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** max |got − ref| / max |ref| (shared with the benches). */
export { relError } from '../../bench/rel-error.js';
