import { describe, expect, it } from 'vitest';
import { applySimilarity, invertSimilarity, type Similarity } from '../../../src/calibrate/geometry/align.js';
import {
  cameraCenters,
  cameraError,
  centerGradToExtrinsicGrad,
  hessErrors,
  normalizePoints,
  pointCloudError,
  sceneNormalization,
} from '../../../src/calibrate/geometry/errors.js';
import { PointIndex3 } from '../../../src/calibrate/geometry/knn.js';
import { gaussian, maxAbsDiff, randomExtrinsics, randomPoints, randomRotation, rng } from './rng.js';

function randomSimilarity(r: () => number): Similarity {
  return {
    s: 0.5 + 2 * r(),
    R: randomRotation(r),
    t: Float64Array.of(r() - 0.5, r() - 0.5, r() - 0.5).map((x) => 4 * x),
  };
}

/** Central finite difference of f at every coordinate of x. */
function numericGrad(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const xp = Float64Array.from(x);
    const xm = Float64Array.from(x);
    xp[i] += h;
    xm[i] -= h;
    g[i] = (f(xp) - f(xm)) / (2 * h);
  }
  return g;
}

describe('camera centres', () => {
  it('c = −Rᵀt projects to the camera origin', () => {
    const r = rng(51);
    const E = randomExtrinsics(r, 6);
    const c = cameraCenters(E);
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 3; j++) {
        const x =
          E[12 * i + 4 * j] * c[3 * i] +
          E[12 * i + 4 * j + 1] * c[3 * i + 1] +
          E[12 * i + 4 * j + 2] * c[3 * i + 2] +
          E[12 * i + 4 * j + 3];
        expect(Math.abs(x)).toBeLessThan(1e-12);
      }
    }
  });

  it('centerGradToExtrinsicGrad matches finite differences', () => {
    const r = rng(52);
    const E = randomExtrinsics(r, 4);
    const w = randomPoints(r, 4);
    const f = (e: Float64Array) => cameraCenters(e).reduce((a, v, i) => a + w[i] * v * v, 0);
    const gc = cameraCenters(E).map((v, i) => 2 * w[i] * v);
    expect(maxAbsDiff(centerGradToExtrinsicGrad(E, gc), numericGrad(f, E))).toBeLessThan(1e-7);
  });
});

describe('scene normalisation', () => {
  it('maps the GT scene to centroid 0 and mean radius 1', () => {
    const r = rng(53);
    const p = randomPoints(r, 500, 7).map((x) => x + 3);
    const q = normalizePoints(p, sceneNormalization(p));
    let cx = 0,
      cy = 0,
      cz = 0,
      rad = 0;
    for (let i = 0; i < 500; i++) {
      cx += q[3 * i] / 500;
      cy += q[3 * i + 1] / 500;
      cz += q[3 * i + 2] / 500;
      rad += Math.hypot(q[3 * i], q[3 * i + 1], q[3 * i + 2]) / 500;
    }
    expect(Math.hypot(cx, cy, cz)).toBeLessThan(1e-12);
    expect(rad).toBeCloseTo(1, 12);
    expect(() => sceneNormalization([1, 1, 1, 1, 1, 1])).toThrow(/coincide/);
  });
});

describe('cameraError', () => {
  it('is zero with zero gradient on exactly aligned data', () => {
    const r = rng(54);
    const H = randomSimilarity(r);
    const pred = randomPoints(r, 8, 2);
    const { error, grad } = cameraError(pred, applySimilarity(H, pred), H);
    expect(error).toBeLessThan(1e-28);
    expect(maxAbsDiff(grad, new Float64Array(24))).toBeLessThan(1e-14);
  });

  it('gradient matches finite differences with H held fixed', () => {
    const r = rng(55);
    const g = gaussian(r);
    for (let trial = 0; trial < 5; trial++) {
      const H = randomSimilarity(r);
      const pred = randomPoints(r, 7, 2);
      const gt = applySimilarity(H, pred).map((x) => x + 0.3 * g());
      const { error, grad } = cameraError(pred, gt, H);
      let direct = 0;
      const moved = applySimilarity(H, pred);
      for (let i = 0; i < gt.length; i++) direct += (moved[i] - gt[i]) ** 2;
      expect(error).toBeCloseTo(direct / (2 * 7), 12);
      const fd = numericGrad((x) => cameraError(x, gt, H).error, pred);
      expect(maxAbsDiff(grad, fd)).toBeLessThan(1e-7);
    }
  });
});

describe('pointCloudError', () => {
  it('gradient matches finite differences (H, nearest neighbours and inliers fixed)', () => {
    const r = rng(56);
    const g = gaussian(r);
    for (let trial = 0; trial < 4; trial++) {
      const H = randomSimilarity(r);
      const gt = randomPoints(r, 400);
      // predicted points: GT points moved back into the prediction frame plus noise
      const pick = Array.from({ length: 60 }, () => Math.floor(r() * 400));
      const base = Float64Array.from(pick.flatMap((i) => [gt[3 * i], gt[3 * i + 1], gt[3 * i + 2]]));
      const pred = applySimilarity(
        invertSimilarity(H),
        base.map((x) => x + 0.01 * g()),
      );
      const index = new PointIndex3(gt);
      const res = pointCloudError(pred, index, H, 0.2);
      expect(res.inlierCount).toBeGreaterThan(0);
      const fd = numericGrad((x) => pointCloudError(x, index, H, 0.2).error, pred, 1e-7);
      expect(maxAbsDiff(res.grad, fd)).toBeLessThan(1e-6);
    }
  });

  it('applies the inlier rule: planted outliers are excluded and get zero gradient', () => {
    const r = rng(57);
    const H = randomSimilarity(r);
    const gt = randomPoints(r, 300);
    const n = 100;
    const inGt = new Float64Array(3 * n);
    const planted = new Set<number>();
    for (let j = 0; j < n; j++) {
      const i = Math.floor(r() * 300);
      const off = j % 5 === 0 ? 1 : 0.001; // every 5th point pushed far (≥ 1 away in one axis)
      if (off === 1) planted.add(j);
      inGt.set([gt[3 * i] + (off === 1 ? 3 : off), gt[3 * i + 1], gt[3 * i + 2]], 3 * j);
    }
    const pred = applySimilarity(invertSimilarity(H), inGt);
    const res = pointCloudError(pred, gt, H, 0.05);
    expect(res.inlierCount).toBe(n - planted.size);
    for (let j = 0; j < n; j++) {
      expect(res.inliers[j]).toBe(planted.has(j) ? 0 : 1);
      if (planted.has(j)) expect([res.grad[3 * j], res.grad[3 * j + 1], res.grad[3 * j + 2]]).toEqual([0, 0, 0]);
    }
    // the error equals the mean of the inliers' squared nearest distances / 2 (each ≤ 0.001²)
    expect(res.error).toBeLessThanOrEqual(0.001 ** 2 / 2 + 1e-15);
    expect(res.error).toBeGreaterThan(0);
    // all outliers → zero error
    const none = pointCloudError(
      pred,
      gt.map((x) => x + 50),
      H,
      0.05,
    );
    expect(none.inlierCount).toBe(0);
    expect(none.error).toBe(0);
  });

  it('is zero on exactly aligned data', () => {
    const r = rng(58);
    const H = randomSimilarity(r);
    const gt = randomPoints(r, 200);
    const pred = applySimilarity(invertSimilarity(H), gt);
    const res = pointCloudError(pred, gt, H);
    expect(res.inlierCount).toBe(200);
    expect(res.error).toBeLessThan(1e-28);
  });
});

describe('hessErrors', () => {
  it('vanishes for a prediction that is an exact similarity copy of the GT', () => {
    const r = rng(59);
    const gtE = randomExtrinsics(r, 6);
    const gtC = cameraCenters(gtE);
    const gtP = randomPoints(r, 500);
    const S = randomSimilarity(r);
    const res = hessErrors({
      predCenters: applySimilarity(S, gtC),
      gtCenters: gtC,
      predPoints: applySimilarity(S, gtP),
      gtPoints: gtP,
    });
    expect(res.camera.error).toBeLessThan(1e-20);
    expect(res.points!.error).toBeLessThan(1e-20);
    expect(res.points!.inlierCount).toBe(500);
  });

  it('is invariant to the GT frame (normalisation) and to the prediction frame', () => {
    const r = rng(60);
    const g = gaussian(r);
    const gtC = randomPoints(r, 8, 2);
    const gtP = randomPoints(r, 400);
    const predC = gtC.map((x) => x + 0.05 * g());
    const predP = gtP.map((x) => x + 0.02 * g());
    const a = hessErrors({ predCenters: predC, gtCenters: gtC, predPoints: predP, gtPoints: gtP });
    const A = randomSimilarity(r);
    const B = randomSimilarity(r);
    const b = hessErrors({
      predCenters: applySimilarity(A, predC),
      gtCenters: applySimilarity(B, gtC),
      predPoints: applySimilarity(A, predP),
      gtPoints: applySimilarity(B, gtP),
    });
    expect(b.camera.error).toBeCloseTo(a.camera.error, 10);
    expect(b.points!.error).toBeCloseTo(a.points!.error, 10);
    expect(b.points!.inlierCount).toBe(a.points!.inlierCount);
    // gradients live in the prediction frame: they rotate with it and scale by 1/s_A
    const rotated = applySimilarity({ s: 1 / A.s, R: A.R, t: new Float64Array(3) }, a.camera.grad);
    expect(maxAbsDiff(b.camera.grad, rotated)).toBeLessThan(1e-9);
  });

  it("align: 'points' and ICP refinement reach the planted similarity", () => {
    const r = rng(61);
    const gtC = randomPoints(r, 5, 2);
    const gtP = randomPoints(r, 800);
    const S = randomSimilarity(r);
    const predP = applySimilarity(S, gtP);
    const res = hessErrors({
      predCenters: applySimilarity(S, gtC),
      gtCenters: gtC,
      predPoints: predP,
      gtPoints: gtP,
      align: 'points',
      icp: { iterations: 3, inlierDist: 0.1 },
    });
    expect(res.camera.error).toBeLessThan(1e-20);
    expect(res.points!.error).toBeLessThan(1e-20);
  });
});
