import { describe, expect, it } from 'vitest';
import {
  applySimilarity,
  composeSimilarity,
  identitySimilarity,
  invertSimilarity,
  isRotation,
  refineIcp,
  transformExtrinsics,
  umeyama,
  type Similarity,
} from '../../../src/calibrate/geometry/align.js';
import { axisAngleToMatrix, det3, rotationAngle, mul3, transpose3 } from '../../../src/calibrate/geometry/mat3.js';
import { HessError } from '../../../src/errors.js';
import { gaussian, maxAbsDiff, randomExtrinsics, randomPoints, randomRotation, rng } from './rng.js';

function randomSimilarity(r: () => number): Similarity {
  return {
    s: Math.exp((r() - 0.5) * 4),
    R: randomRotation(r),
    t: Float64Array.of((r() - 0.5) * 20, (r() - 0.5) * 20, (r() - 0.5) * 20),
  };
}

function expectSimilar(a: Similarity, b: Similarity, tol: number): void {
  expect(Math.abs(a.s - b.s) / b.s).toBeLessThan(tol);
  expect(maxAbsDiff(a.R, b.R)).toBeLessThan(tol);
  expect(maxAbsDiff(a.t, b.t)).toBeLessThan(tol * 20);
}

function degenerate(fn: () => unknown): HessError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HessError);
    return e as HessError;
  }
  throw new Error('expected a HessError');
}

describe('umeyama', () => {
  it('recovers a random similarity exactly on noise-free data', () => {
    const r = rng(11);
    for (let trial = 0; trial < 100; trial++) {
      const H = randomSimilarity(r);
      const n = 3 + Math.floor(r() * 200);
      const src = randomPoints(r, n, 5);
      const dst = applySimilarity(H, src);
      const est = umeyama(src, dst);
      expectSimilar(est, H, 1e-9);
      expect(isRotation(est.R, 1e-12)).toBe(true);
      expect(maxAbsDiff(applySimilarity(est, src), dst)).toBeLessThan(1e-9);
    }
  });

  it('recovers planar configurations (rank-2 covariance)', () => {
    const r = rng(12);
    for (let trial = 0; trial < 30; trial++) {
      const H = randomSimilarity(r);
      const flat = randomPoints(r, 20, 3);
      for (let i = 0; i < 20; i++) flat[3 * i + 2] = 0;
      const src = applySimilarity({ s: 1, R: randomRotation(r), t: Float64Array.of(1, 2, 3) }, flat);
      const est = umeyama(src, applySimilarity(H, src));
      expectSimilar(est, H, 1e-9);
    }
  });

  it('is close under noise and the estimate improves with more points', () => {
    const r = rng(13);
    const g = gaussian(r);
    const H = randomSimilarity(r);
    const errs: number[] = [];
    for (const n of [50, 5000]) {
      const src = randomPoints(r, n, 1);
      const dst = applySimilarity(H, src).map((x) => x + 0.01 * H.s * g());
      const est = umeyama(src, dst);
      expect(Math.abs(est.s / H.s - 1)).toBeLessThan(0.02);
      const dR = rotationAngle(mul3(transpose3(est.R), H.R));
      expect(dR).toBeLessThan(0.02);
      errs.push(dR + Math.abs(est.s / H.s - 1));
    }
    expect(errs[1]).toBeLessThan(errs[0]);
  });

  it('returns a proper rotation when the data are mirrored (reflection case)', () => {
    const r = rng(14);
    for (let trial = 0; trial < 30; trial++) {
      const src = randomPoints(r, 30, 2);
      const mirror = Float64Array.from(src);
      for (let i = 0; i < 30; i++) mirror[3 * i] = -mirror[3 * i];
      const dst = applySimilarity(randomSimilarity(r), mirror);
      const est = umeyama(src, dst);
      expect(det3(est.R)).toBeCloseTo(1, 12);
      expect(isRotation(est.R, 1e-12)).toBe(true);
      expect(est.s).toBeGreaterThan(0);
    }
  });

  it('rigid mode fixes s = 1 and still recovers R, t', () => {
    const r = rng(15);
    const H = { ...randomSimilarity(r), s: 1 };
    const src = randomPoints(r, 40, 3);
    const est = umeyama(src, applySimilarity(H, src), { withScale: false });
    expect(est.s).toBe(1);
    expectSimilar(est, H, 1e-9);
  });

  it('weights: zero-weight outliers are ignored; weighting equals duplication', () => {
    const r = rng(16);
    const H = randomSimilarity(r);
    const n = 60;
    const src = randomPoints(r, n, 2);
    const dst = applySimilarity(H, src);
    const w = new Float64Array(n).fill(1);
    for (let i = 0; i < n; i += 4) {
      dst[3 * i] += 100 * (r() - 0.5);
      w[i] = 0;
    }
    expectSimilar(umeyama(src, dst, { weights: w }), H, 1e-9);

    // integer weights == repeating the pairs
    const g = gaussian(r);
    const noisy = applySimilarity(H, src).map((x) => x + 0.05 * g());
    const wi = Float64Array.from({ length: n }, () => 1 + Math.floor(r() * 3));
    const rs: number[] = [];
    const rd: number[] = [];
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < wi[i]; k++) {
        rs.push(src[3 * i], src[3 * i + 1], src[3 * i + 2]);
        rd.push(noisy[3 * i], noisy[3 * i + 1], noisy[3 * i + 2]);
      }
    }
    expectSimilar(umeyama(src, noisy, { weights: wi }), umeyama(rs, rd), 1e-10);
  });

  it('throws typed errors on degenerate input', () => {
    const r = rng(17);
    const p = randomPoints(r, 10);
    expect(degenerate(() => umeyama(p.subarray(0, 6), p.subarray(0, 6))).code).toBe('INVALID_ARGUMENT');
    const same = new Float64Array(30);
    for (let i = 0; i < 10; i++) same.set([1.5, -2, 3], 3 * i);
    expect(degenerate(() => umeyama(same, p)).message).toMatch(/coincide/);
    expect(degenerate(() => umeyama(p, same)).message).toMatch(/coincide/);
    const line = Float64Array.from({ length: 30 }, (_, i) => (Math.floor(i / 3) + 1) * [1, 2, 3][i % 3]);
    expect(degenerate(() => umeyama(line, applySimilarity(randomSimilarity(r), line))).message).toMatch(/collinear/);
    expect(degenerate(() => umeyama(p, p.subarray(0, 27))).code).toBe('SHAPE_MISMATCH');
    expect(degenerate(() => umeyama(p.subarray(0, 8), p.subarray(0, 8))).code).toBe('SHAPE_MISMATCH');
    const w = new Float64Array(10);
    w[0] = w[1] = 1;
    expect(degenerate(() => umeyama(p, p, { weights: w })).code).toBe('INVALID_ARGUMENT');
    const bad = Float64Array.from(p);
    bad[4] = NaN;
    expect(degenerate(() => umeyama(bad, p)).code).toBe('INVALID_ARGUMENT');
  });
});

describe('similarity helpers', () => {
  it('compose and invert are consistent with apply', () => {
    const r = rng(21);
    for (let trial = 0; trial < 20; trial++) {
      const a = randomSimilarity(r);
      const b = randomSimilarity(r);
      const p = randomPoints(r, 10, 3);
      expect(
        maxAbsDiff(applySimilarity(composeSimilarity(a, b), p), applySimilarity(a, applySimilarity(b, p))),
      ).toBeLessThan(1e-9);
      expect(maxAbsDiff(applySimilarity(invertSimilarity(a), applySimilarity(a, p)), p)).toBeLessThan(1e-9);
      expect(maxAbsDiff(applySimilarity(identitySimilarity(), p), p)).toBe(0);
    }
  });

  it('transformExtrinsics keeps every projection', () => {
    const r = rng(22);
    const H = randomSimilarity(r);
    const E = randomExtrinsics(r, 5);
    const E2 = transformExtrinsics(H, E);
    const X = randomPoints(r, 20, 0.5);
    const X2 = applySimilarity(H, X);
    const project = (e: ArrayLike<number>, c: number, p: ArrayLike<number>, i: number) => {
      const q = [0, 1, 2].map(
        (j) =>
          e[c + 4 * j] * p[3 * i] +
          e[c + 4 * j + 1] * p[3 * i + 1] +
          e[c + 4 * j + 2] * p[3 * i + 2] +
          e[c + 4 * j + 3],
      );
      return [q[0] / q[2], q[1] / q[2]];
    };
    for (let c = 0; c < 5; c++) {
      const R2 = [0, 1, 2].flatMap((j) => [E2[12 * c + 4 * j], E2[12 * c + 4 * j + 1], E2[12 * c + 4 * j + 2]]);
      expect(isRotation(R2, 1e-12)).toBe(true);
      for (let i = 0; i < 20; i++)
        expect(maxAbsDiff(project(E2, 12 * c, X2, i), project(E, 12 * c, X, i))).toBeLessThan(1e-9);
    }
  });
});

describe('refineIcp', () => {
  it('converges from a perturbed start to the true similarity (cloud subset, no correspondences)', () => {
    const r = rng(31);
    const g = gaussian(r);
    const H = randomSimilarity(r);
    // a smooth-ish cloud: points on a few random spheres
    const n = 3000;
    const src = new Float64Array(3 * n);
    for (let i = 0; i < n; i++) {
      const c = i % 3;
      const v = [g(), g(), g()];
      const len = Math.hypot(v[0], v[1], v[2]);
      for (let k = 0; k < 3; k++) src[3 * i + k] = (v[k] / len) * (0.4 + 0.3 * c) + (k === c ? 0.5 : 0);
    }
    const dst = applySimilarity(H, src);
    // shuffle the target so there are no implicit correspondences
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const cloud = new Float64Array(3 * n);
    order.forEach((j, i) => cloud.set(dst.subarray(3 * j, 3 * j + 3), 3 * i));
    // Perturb in the source frame, about the cloud's centroid: 3 % scale, 0.03 rad, ~0.03 translation, i.e. a start a
    // few percent of the cloud's size off whatever H is. (Composing the perturbation after H instead rotates and scales
    // about the target origin, up to |t| ≈ 17 from the cloud, which for small H.s put the start one or more cloud
    // diameters off, outside ICP's basin: scale-ICP then legitimately slides toward a shrunken s, failing ~1 seed in 3.)
    const centroid = [0, 0, 0];
    for (let i = 0; i < 3 * n; i++) centroid[i % 3] += src[i] / n;
    const Rp = axisAngleToMatrix([g(), g(), g()], 0.03);
    const sp = 1.03;
    const shift = [0.02, -0.01, 0.02];
    const perturb: Similarity = {
      s: sp,
      R: Rp,
      t: Float64Array.from(
        [0, 1, 2],
        (k) =>
          centroid[k] +
          shift[k] -
          sp * (Rp[3 * k] * centroid[0] + Rp[3 * k + 1] * centroid[1] + Rp[3 * k + 2] * centroid[2]),
      ),
    };
    const init = composeSimilarity(H, perturb);
    const before = maxAbsDiff(applySimilarity(init, src), dst);
    const res = refineIcp(src, cloud, init, { iterations: 60 });
    const after = maxAbsDiff(applySimilarity(res.transform, src), dst);
    expect(after).toBeLessThan(before / 50);
    expect(res.inliers).toBe(n);
    expect(res.iterations).toBeGreaterThan(0);
  });

  it('keeps the start when fewer than 3 inliers remain and reports it', () => {
    const r = rng(32);
    const src = randomPoints(r, 50);
    const far = applySimilarity({ s: 1, R: randomRotation(r), t: Float64Array.of(100, 0, 0) }, src);
    const res = refineIcp(src, far, identitySimilarity(), { iterations: 5, inlierDist: 0.5 });
    expect(res.iterations).toBe(0);
    expect(res.converged).toBe(false);
    expect(res.inliers).toBe(0);
    expect(Number.isNaN(res.rmse)).toBe(true);
  });

  it('is a fixed point at the exact solution', () => {
    const r = rng(33);
    const H = randomSimilarity(r);
    const src = randomPoints(r, 200);
    const res = refineIcp(src, applySimilarity(H, src), H, { iterations: 3, inlierDist: 1e-3 * H.s });
    expect(res.converged).toBe(true);
    expectSimilar(res.transform, H, 1e-9);
    expect(res.rmse).toBeLessThan(1e-9 * H.s);
  });
});
