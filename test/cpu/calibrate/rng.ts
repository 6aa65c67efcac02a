import { freshSeed, rng as baseRng } from '../../helpers/random.js';

// Fresh inputs on every run: each test's fixed stream id is mixed with a per-run seed (logged; HESS_SEED pins it).
const runSeed = freshSeed('calibrate/evaluate tests');

/** Deterministic-per-run test randomness: stream `id` of this run's seed. */
export function rng(id: number): () => number {
  return baseRng((runSeed ^ Math.imul(id, 0x9e3779b1)) >>> 0);
}

export function gaussian(r: () => number): () => number {
  return () => {
    const u = 1 - r();
    const v = r();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** Uniform random rotation (from a random unit quaternion), row-major 3×3. */
export function randomRotation(r: () => number): Float64Array {
  const g = gaussian(r);
  let w = g(),
    x = g(),
    y = g(),
    z = g();
  const n = Math.hypot(w, x, y, z);
  w /= n;
  x /= n;
  y /= n;
  z /= n;
  return Float64Array.of(
    1 - 2 * (y * y + z * z),
    2 * (x * y - z * w),
    2 * (x * z + y * w),
    2 * (x * y + z * w),
    1 - 2 * (x * x + z * z),
    2 * (y * z - x * w),
    2 * (x * z - y * w),
    2 * (y * z + x * w),
    1 - 2 * (x * x + y * y),
  );
}

/** n random points, each coordinate uniform in [-scale, scale]. */
export function randomPoints(r: () => number, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: 3 * n }, () => (2 * r() - 1) * scale);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Random camera-from-world extrinsics (N×12) looking roughly at the origin from distance ~3. */
export function randomExtrinsics(r: () => number, n: number): Float64Array {
  const out = new Float64Array(12 * n);
  for (let i = 0; i < n; i++) {
    const R = randomRotation(r);
    const t = [(r() - 0.5) * 0.4, (r() - 0.5) * 0.4, 2.5 + r()];
    for (let j = 0; j < 3; j++) {
      out[12 * i + 4 * j] = R[3 * j];
      out[12 * i + 4 * j + 1] = R[3 * j + 1];
      out[12 * i + 4 * j + 2] = R[3 * j + 2];
      out[12 * i + 4 * j + 3] = t[j];
    }
  }
  return out;
}
