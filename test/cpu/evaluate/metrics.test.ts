import { describe, expect, it } from 'vitest';
import { applySimilarity, transformExtrinsics, type Similarity } from '../../../src/calibrate/geometry/align.js';
import { axisAngleToMatrix, mul3 } from '../../../src/calibrate/geometry/mat3.js';
import { cameraCenters } from '../../../src/calibrate/geometry/errors.js';
import {
  aucAt,
  cameraMetrics,
  depthMetrics,
  pointCloudMetrics,
  relativePoseErrors,
} from '../../../src/evaluate/metrics.js';
import { gaussian, randomExtrinsics, randomPoints, randomRotation, rng } from '../calibrate/rng.js';

function randomSimilarity(r: () => number): Similarity {
  return {
    s: 0.3 + 3 * r(),
    R: randomRotation(r),
    t: Float64Array.of(r() - 0.5, r() - 0.5, r() - 0.5).map((x) => 10 * x),
  };
}

/** Rotate camera k about its own centre by Q (R' = Q R, t' = Q t keeps the centre). */
function rotateCamera(E: Float64Array, k: number, Q: Float64Array): Float64Array {
  const out = Float64Array.from(E);
  const o = 12 * k;
  const R = [0, 1, 2].flatMap((j) => [E[o + 4 * j], E[o + 4 * j + 1], E[o + 4 * j + 2]]);
  const QR = mul3(Q, R);
  const t = [E[o + 3], E[o + 7], E[o + 11]];
  for (let j = 0; j < 3; j++) {
    out[o + 4 * j] = QR[3 * j];
    out[o + 4 * j + 1] = QR[3 * j + 1];
    out[o + 4 * j + 2] = QR[3 * j + 2];
    out[o + 4 * j + 3] = Q[3 * j] * t[0] + Q[3 * j + 1] * t[1] + Q[3 * j + 2] * t[2];
  }
  return out;
}

describe('relative pose errors and AUC', () => {
  it('identical cameras (in any similar world frame) give zero errors and AUC 1', () => {
    const r = rng(201);
    for (const convention of ['relative', 'vggt'] as const) {
      const gt = randomExtrinsics(r, 7);
      const pred = transformExtrinsics(randomSimilarity(r), gt);
      const m = cameraMetrics(pred, gt, { convention });
      expect(m.errors.pairs.length).toBe(21);
      expect(Math.max(...m.errors.rotation)).toBeLessThan(1e-6);
      expect(Math.max(...m.errors.translation)).toBeLessThan(1e-6);
      expect(m.auc30).toBe(1);
      expect(m.rraAt).toBe(1);
      expect(m.rtaAt).toBe(1);
    }
  });

  it('a known 10.5° rotation of one camera gives RRA 10.5° on its pairs and a computable AUC', () => {
    const r = rng(202);
    const N = 6;
    const k = 2;
    const theta = 10.5;
    const gt = randomExtrinsics(r, N);
    const axis = [r() - 0.5, r() - 0.5, r() - 0.5];
    const Q = axisAngleToMatrix(axis, (theta * Math.PI) / 180);
    const pred = rotateCamera(gt, k, Q);
    const { pairs, rotation, translation } = relativePoseErrors(pred, gt, { ambiguity: false });
    const a = axis.map((x) => x / Math.hypot(...axis));
    const c = cameraCenters(gt);
    pairs.forEach(([i, j], p) => {
      if (i !== k && j !== k) {
        expect(rotation[p]).toBeLessThan(1e-9);
        expect(translation[p]).toBeLessThan(1e-6);
        return;
      }
      expect(rotation[p]).toBeCloseTo(theta, 9);
      if (i === k) {
        expect(translation[p]).toBeLessThan(1e-6); // t_kj = R_j (c_k − c_j) does not involve R_k
      } else {
        // t_ik = R_k (c_i − c_k) becomes Q R_k (c_i − c_k): angle between v and Qv
        const Rk = [0, 1, 2].flatMap((row) => [
          gt[12 * k + 4 * row],
          gt[12 * k + 4 * row + 1],
          gt[12 * k + 4 * row + 2],
        ]);
        const d = [0, 1, 2].map((q) => c[3 * i + q] - c[3 * k + q]);
        const v = [0, 1, 2].map((row) => Rk[3 * row] * d[0] + Rk[3 * row + 1] * d[1] + Rk[3 * row + 2] * d[2]);
        const av = (a[0] * v[0] + a[1] * v[1] + a[2] * v[2]) / Math.hypot(...v);
        const th = (theta * Math.PI) / 180;
        const expected = (Math.acos(Math.cos(th) + (1 - Math.cos(th)) * av * av) * 180) / Math.PI;
        expect(translation[p]).toBeCloseTo(expected, 6);
        expect(translation[p]).toBeLessThanOrEqual(theta + 1e-9);
      }
    });
    // N−1 pairs have max error 10.5° (bin 10 → counted for τ = 11…30), the rest 0.
    const P = (N * (N - 1)) / 2;
    const expectedAuc = (P - (N - 1) + ((N - 1) * 20) / 30) / P;
    expect(aucAt(rotation, translation, 30)).toBeCloseTo(expectedAuc, 12);
  });

  it('ambiguity folds opposite baselines; zero baselines give 90° as in VGGT', () => {
    const r = rng(203);
    const gt = randomExtrinsics(r, 2);
    const c = cameraCenters(gt);
    // same rotations, centres swapped → relative translation reversed
    const pred = Float64Array.from(gt);
    for (const [dst, src] of [
      [0, 1],
      [1, 0],
    ]) {
      for (let j = 0; j < 3; j++) {
        const R = [gt[12 * dst + 4 * j], gt[12 * dst + 4 * j + 1], gt[12 * dst + 4 * j + 2]];
        pred[12 * dst + 4 * j + 3] = -(R[0] * c[3 * src] + R[1] * c[3 * src + 1] + R[2] * c[3 * src + 2]);
      }
    }
    expect(relativePoseErrors(pred, gt).translation[0]).toBeLessThan(1e-6);
    expect(relativePoseErrors(pred, gt, { ambiguity: false }).translation[0]).toBeCloseTo(180, 6);
    const same = Float64Array.from(gt);
    same.set(gt.subarray(0, 12), 12); // camera 1 identical to camera 0: zero baseline in the prediction
    expect(relativePoseErrors(same, gt).translation[0]).toBe(90);
  });

  it('random properties: ranges, symmetry in pred/gt, AUC monotone in the error', () => {
    const r = rng(204);
    const g = gaussian(r);
    for (let trial = 0; trial < 10; trial++) {
      const gt = randomExtrinsics(r, 5);
      const noisy = (s: number) => {
        let e: Float64Array = Float64Array.from(gt);
        for (let k = 0; k < 5; k++) e = rotateCamera(e, k, axisAngleToMatrix([g(), g(), g()], s * g()));
        return e;
      };
      const small = relativePoseErrors(noisy(0.02), gt);
      const big = relativePoseErrors(noisy(0.3), gt);
      for (const e of [small, big]) {
        for (const x of e.rotation) expect(x >= 0 && x <= 180).toBe(true);
        for (const x of e.translation) expect(x >= 0 && x <= 90).toBe(true);
      }
      const p = noisy(0.1);
      const ab = relativePoseErrors(p, gt);
      const ba = relativePoseErrors(gt, p);
      for (let i = 0; i < ab.rotation.length; i++) {
        expect(ab.rotation[i]).toBeCloseTo(ba.rotation[i], 9);
        expect(ab.translation[i]).toBeCloseTo(ba.translation[i], 9);
      }
      const auc = aucAt(big.rotation, big.translation);
      expect(auc).toBeGreaterThanOrEqual(0);
      expect(auc).toBeLessThanOrEqual(1);
      // inflating every error can only lower the AUC
      expect(
        aucAt(
          big.rotation.map((x) => x * 1.5),
          big.translation.map((x) => x * 1.5),
        ),
      ).toBeLessThanOrEqual(auc);
    }
  });

  it('AUC bin edges follow numpy.histogram (last bin closed) and NaN counts as failure', () => {
    expect(aucAt([0.5], [0])).toBe(1);
    expect(aucAt([0], [29.5])).toBeCloseTo(1 / 30, 15);
    expect(aucAt([30], [0])).toBeCloseTo(1 / 30, 15);
    expect(aucAt([30.0001], [0])).toBe(0);
    expect(aucAt([1], [0])).toBeCloseTo(29 / 30, 15); // error 1 is not < 1
    expect(aucAt([NaN, 0], [0, 0])).toBeCloseTo(0.5, 15);
    expect(aucAt([2.5, 7], [0, 0], 10)).toBeCloseTo((8 / 10 + 3 / 10) / 2, 15); // 2.5 < τ for τ = 3…10, 7 < τ for τ = 8…10
    expect(() => aucAt([1], [1, 2])).toThrow(/translation errors/);
  });
});

describe('point cloud metrics', () => {
  it('identical clouds: zero distances, F1 = 1', () => {
    const r = rng(211);
    const p = randomPoints(r, 300);
    const m = pointCloudMetrics(
      p,
      Float32Array.from(p).map((x) => x),
      0.01,
    );
    expect(m.accuracy).toBeLessThan(1e-7);
    expect(m.completeness).toBeLessThan(1e-7);
    expect(m.f1).toBe(1);
  });

  it('matches brute force on random clouds; subset gives accuracy 0 and precision 1', () => {
    const r = rng(212);
    const gt = randomPoints(r, 400);
    const pred = applySimilarity(
      { s: 1, R: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1), t: Float64Array.of(0.01, 0, 0) },
      randomPoints(r, 250),
    );
    const m = pointCloudMetrics(pred, gt, 0.08);
    const nn = (a: Float64Array, i: number, b: Float64Array) => {
      let best = Infinity;
      for (let j = 0; j < b.length / 3; j++)
        best = Math.min(
          best,
          Math.hypot(a[3 * i] - b[3 * j], a[3 * i + 1] - b[3 * j + 1], a[3 * i + 2] - b[3 * j + 2]),
        );
      return best;
    };
    const dp = Array.from({ length: 250 }, (_, i) => nn(pred, i, gt));
    const dg = Array.from({ length: 400 }, (_, i) => nn(gt, i, pred));
    const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
    expect(m.accuracy).toBeCloseTo(mean(dp), 12);
    expect(m.completeness).toBeCloseTo(mean(dg), 12);
    expect(m.chamfer).toBeCloseTo((mean(dp) + mean(dg)) / 2, 12);
    const P = dp.filter((d) => d < 0.08).length / 250;
    const R = dg.filter((d) => d < 0.08).length / 400;
    expect(m.precision).toBe(P);
    expect(m.recall).toBe(R);
    expect(m.f1).toBeCloseTo((2 * P * R) / (P + R), 12);

    const subset = gt.subarray(0, 150);
    const s = pointCloudMetrics(subset, gt, 0.05);
    expect(s.accuracy).toBe(0);
    expect(s.precision).toBe(1);
    expect(s.completeness).toBeGreaterThan(0);
    expect(s.recall).toBeLessThan(1);
  });
});

describe('depth metrics', () => {
  it('AbsRel with and without median scaling; invalid pixels are ignored', () => {
    const r = rng(221);
    const n = 1000;
    const gt = Float32Array.from({ length: n }, () => 0.5 + 5 * r());
    const k = 0.3 + 2 * r();
    const pred = gt.map((d) => d * k);
    gt[3] = 0;
    gt[5] = NaN;
    pred[7] = Infinity;
    const raw = depthMetrics(pred, gt);
    expect(raw.count).toBe(n - 3);
    expect(raw.absRel).toBeCloseTo(Math.abs(k - 1), 5);
    const scaled = depthMetrics(pred, gt, { medianScaling: true });
    expect(scaled.absRel).toBeLessThan(1e-6);
    expect(scaled.scale).toBeCloseTo(1 / k, 5);
    expect(scaled.delta1).toBe(1);
    const mask = Uint8Array.from({ length: n }, (_, i) => (i < 100 ? 1 : 0));
    expect(depthMetrics(pred, gt, { mask }).count).toBe(97);
  });

  it('delta1 counts pixels within 25%', () => {
    const gt = [1, 1, 1, 1];
    const pred = [1.2, 0.7, 1.3, 1];
    const m = depthMetrics(pred, gt);
    expect(m.delta1).toBe(0.5);
    expect(m.absRel).toBeCloseTo((0.2 + 0.3 + 0.3) / 4, 12);
  });
});
