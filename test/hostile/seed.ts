// The hostile suite's fuzzers use a FIXED seed (printed), so CI runs the same cases every time; HESS_SEED replays
// or varies it.
import { rng } from '../helpers/random.js';

export const DEFAULT_HOSTILE_SEED = 20261202;

/** The seed for `label` (HESS_SEED or the fixed default), printed, and a generator from it. */
export function hostileRng(label: string): { seed: number; rand: () => number } {
  const env = process.env.HESS_SEED;
  const seed = env ? Number(env) : DEFAULT_HOSTILE_SEED;
  console.log(`[hostile] ${label}: seed ${seed} (replay: HESS_SEED=${seed})`);
  return { seed, rand: rng(seed) };
}

/** A random element of `xs`. */
export const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

/** `n` random characters from `alphabet`. */
export const randomString = (rand: () => number, n: number, alphabet: string): string =>
  Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
