import { describe, expect, it } from 'vitest';
import {
  det3,
  posesFromRaw,
  svd3,
  posesFromRawVjp,
  svdOrthogonalize,
  svdOrthogonalizeVjp,
  worldPoints,
  worldPointsVjp,
} from '../../../src/model/pi3/camera-pose.js';
import { freshSeed, rng } from '../../helpers/random.js';

// The reverse-mode maps of π³'s host-side camera math against central finite differences in float64, on fresh
// random inputs (reflections and badly scaled rows included).

const H = 1e-6;

/** Central-difference gradient of the scalar `f` at `x`, step `H·max(floor, |x_k|)`. */
function fdGrad(f: (x: Float64Array) => number, x: Float64Array, floor = 1): Float64Array {
  const g = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) {
    const step = H * Math.max(floor, Math.abs(x[k]!));
    const p = Float64Array.from(x);
    const m = Float64Array.from(x);
    p[k] += step;
    m[k] -= step;
    g[k] = (f(p) - f(m)) / (2 * step);
  }
  return g;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i]!, 0);
const rel = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num = Math.max(num, Math.abs(got[i]! - want[i]!));
    den = Math.max(den, Math.abs(want[i]!));
  }
  return num / Math.max(den, 1e-300);
};

describe('π³ camera pose: reverse mode matches finite differences (float64)', () => {
  it('svdOrthogonalizeVjp on random matrices, reflections and scaled rows', () => {
    const r = rng(freshSeed('pi3 svd vjp'));
    let worst = 0;
    let reflections = 0;
    for (let i = 0; i < 200; i++) {
      const m = Float64Array.from({ length: 9 }, () => r() * 2 - 1);
      if (i % 4 === 1) for (let c = 0; c < 3; c++) m[c]! *= 1e3; // a long row
      if (i % 4 === 2) for (let c = 3; c < 6; c++) m[c]! *= 1e-3; // a short row
      // near a non-unique projection (λ2 + λ3 = s2 ± s3 → 0 for the row-normalised m) both sides blow up: skip the
      // rare random matrix that comes that close
      const n = Float64Array.from(
        m,
        (v, k) => v / Math.hypot(m[k - (k % 3)]!, m[k - (k % 3) + 1]!, m[k - (k % 3) + 2]!),
      );
      const { s } = svd3(n);
      if (s[1]! + Math.sign(det3(m)) * s[2]! < 1e-2) continue;
      if (det3(m) < 0) reflections++;
      const g = Float64Array.from({ length: 9 }, () => r() * 2 - 1);
      const got = svdOrthogonalizeVjp(m, g);
      const want = fdGrad((x) => dot(g, svdOrthogonalize(x)), m, 1e-3); // small steps for the 1e-3-scaled rows
      const e = rel(got, want);
      worst = Math.max(worst, e);
      expect(e, `matrix ${i}`).toBeLessThan(1e-5);
    }
    console.info(
      `[pi3 camera pose] svdOrthogonalizeVjp vs FD: worst rel ${worst.toExponential(2)} (${reflections} reflections)`,
    );
    expect(reflections).toBeGreaterThan(50);
  });

  it('posesFromRawVjp and worldPointsVjp chain to ∂L/∂raw and ∂L/∂local', () => {
    const r = rng(freshSeed('pi3 pose vjp'));
    const S = 3;
    const N = 5;
    const raw = Float64Array.from({ length: S * 12 }, () => r() * 2 - 1);
    const local = Float64Array.from({ length: S * N * 3 }, () => r() * 4 - 2);
    const gPts = Float64Array.from({ length: S * N * 3 }, () => r() * 2 - 1);
    const gPose = Float64Array.from({ length: S * 16 }, () => r() * 2 - 1);
    // L = <gPts, world(local, poses(raw))> + <gPose, poses(raw)>; world points in float64 here
    const world = (l: Float64Array, P: Float64Array) => {
      const out = new Float64Array(l.length);
      for (let s = 0; s < S; s++) {
        for (let n = 0; n < N; n++) {
          for (let i = 0; i < 3; i++) {
            const o = (s * N + n) * 3;
            out[o + i] =
              P[s * 16 + i * 4]! * l[o]! +
              P[s * 16 + i * 4 + 1]! * l[o + 1]! +
              P[s * 16 + i * 4 + 2]! * l[o + 2]! +
              P[s * 16 + i * 4 + 3]!;
          }
        }
      }
      return out;
    };
    const loss = (rw: Float64Array, l: Float64Array) => {
      const P = posesFromRaw(rw, S);
      return dot(gPts, world(l, P)) + dot(gPose, P);
    };
    const poses = posesFromRaw(raw, S);
    // worldPoints (float32 output) agrees with the float64 map used here
    expect(rel(worldPoints(Float32Array.from(local), poses, S), world(local, poses))).toBeLessThan(1e-6);
    const { gLocal, gPoses } = worldPointsVjp(local, poses, S, gPts);
    for (let s = 0; s < S; s++) for (let k = 0; k < 16; k++) gPoses[s * 16 + k] += gPose[s * 16 + k]!;
    const gRaw = posesFromRawVjp(raw, S, gPoses);
    const eRaw = rel(
      gRaw,
      fdGrad((x) => loss(x, local), raw),
    );
    const eLocal = rel(
      gLocal,
      fdGrad((x) => loss(raw, x), local),
    );
    console.info(`[pi3 camera pose] ∂L/∂raw vs FD ${eRaw.toExponential(2)}, ∂L/∂local ${eLocal.toExponential(2)}`);
    expect(eRaw).toBeLessThan(1e-6);
    expect(eLocal).toBeLessThan(1e-8);
    // the pose's last row is constant: its gradient is ignored
    const extra = Float64Array.from(gPoses);
    for (let s = 0; s < S; s++) for (let k = 12; k < 16; k++) extra[s * 16 + k] += 1;
    expect(Array.from(posesFromRawVjp(raw, S, extra))).toEqual(Array.from(gRaw));
  });
});
