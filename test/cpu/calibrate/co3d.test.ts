import { describe, expect, it } from 'vitest';
import {
  co3dIntrinsicsToPixels,
  co3dToCalibration,
  pytorch3dToOpenCV,
  type Co3dFrameAnnotation,
} from '../../../src/calibrate/dataset/co3d.js';
import { validateCameras } from '../../../src/calibrate/dataset/format.js';
import { randomRotation, rng } from './rng.js';

/**
 * Independent PyTorch3D-style projection: row-vector view transform, NDC projection (+X left, +Y up), then
 * PyTorch3D's NDC → screen mapping (u = W/2 − x_ndc·kx, v = H/2 − y_ndc·ky).
 */
function projectPytorch3d(
  X: number[],
  R: number[][],
  T: number[],
  f: number[],
  p: number[],
  format: string,
  W: number,
  H: number,
): number[] {
  const cam = [0, 1, 2].map((j) => X[0] * R[0][j] + X[1] * R[1][j] + X[2] * R[2][j] + T[j]);
  const xn = (f[0] * cam[0]) / cam[2] + p[0];
  const yn = (f[1] * cam[1]) / cam[2] + p[1];
  const [kx, ky] = format === 'ndc_isotropic' ? [Math.min(W, H) / 2, Math.min(W, H) / 2] : [W / 2, H / 2];
  return [W / 2 - xn * kx, H / 2 - yn * ky, cam[2]];
}

function projectOpenCV(X: number[], E: ArrayLike<number>, K: ArrayLike<number>): number[] {
  const c = [0, 1, 2].map((j) => E[4 * j] * X[0] + E[4 * j + 1] * X[1] + E[4 * j + 2] * X[2] + E[4 * j + 3]);
  return [(K[0] * c[0] + K[1] * c[1]) / c[2] + K[2], (K[4] * c[1]) / c[2] + K[5], c[2]];
}

function randomP3dCamera(r: () => number) {
  const Rm = randomRotation(r);
  const R = [0, 1, 2].map((i) => [Rm[3 * i], Rm[3 * i + 1], Rm[3 * i + 2]]);
  const T = [(r() - 0.5) * 0.5, (r() - 0.5) * 0.5, 3 + r()];
  const f = [1.5 + r(), 1.5 + r()];
  const p = [(r() - 0.5) * 0.2, (r() - 0.5) * 0.2];
  return { R, T, f, p };
}

describe('CO3D / PyTorch3D → OpenCV', () => {
  it('a synthetic camera projects known points to the same pixel in both conventions', () => {
    const r = rng(101);
    for (const format of ['ndc_isotropic', 'ndc_norm_image_bounds']) {
      for (let trial = 0; trial < 40; trial++) {
        const { R, T, f, p } = randomP3dCamera(r);
        const [W, H] = trial % 2 ? [640, 480] : [300, 517];
        const E = pytorch3dToOpenCV(R, T);
        const K = co3dIntrinsicsToPixels({ focal_length: f, principal_point: p, intrinsics_format: format }, W, H);
        // a world point in front of the camera: back-project a random camera-space point with PyTorch3D's R, T
        const camPt = [r() - 0.5, r() - 0.5, 2 + r()];
        const d = [camPt[0] - T[0], camPt[1] - T[1], camPt[2] - T[2]];
        const X = [0, 1, 2].map((i) => R[i][0] * d[0] + R[i][1] * d[1] + R[i][2] * d[2]); // (cam − T) · Rᵀ
        const a = projectPytorch3d(X, R, T, f, p, format, W, H);
        const b = projectOpenCV(X, E, K);
        expect(Math.abs(a[0] - b[0])).toBeLessThan(1e-9);
        expect(Math.abs(a[1] - b[1])).toBeLessThan(1e-9);
        expect(b[2]).toBeCloseTo(a[2], 12); // same depth, point in front in both
        expect(b[2]).toBeGreaterThan(0);
      }
    }
  });

  it('the optical centre of a centred camera maps to the image centre; +X_p3d (left) is −u', () => {
    const K = co3dIntrinsicsToPixels(
      { focal_length: [2, 2], principal_point: [0, 0], intrinsics_format: 'ndc_isotropic' },
      640,
      480,
    );
    expect(Array.from(K)).toEqual([480, 0, 320, 0, 480, 240, 0, 0, 1]);
    const E = pytorch3dToOpenCV(
      [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
      [0, 0, 5],
    );
    // a point to the camera's left in PyTorch3D (+X) appears left of centre (u < cx) in OpenCV
    const [u, v] = projectOpenCV([1, 1, 0], E, K);
    expect(u).toBeLessThan(320);
    expect(v).toBeLessThan(240); // +Y up → above centre
  });

  it('co3dToCalibration orders frames, picks the sequence and writes valid cameras', () => {
    const r = rng(102);
    const frames: Co3dFrameAnnotation[] = [];
    for (const seq of ['seqA', 'seqB']) {
      for (const n of [5, 1, 3]) {
        const { R, T, f, p } = randomP3dCamera(r);
        frames.push({
          sequence_name: seq,
          frame_number: n,
          image: { path: `apple/${seq}/images/frame${String(n).padStart(6, '0')}.jpg`, size: [480, 640] },
          viewpoint: { R, T, focal_length: f, principal_point: p, intrinsics_format: 'ndc_isotropic' },
        });
      }
    }
    frames.push({
      sequence_name: 'seqA',
      frame_number: 9,
      image: { path: 'apple/seqA/images/x.jpg', size: [480, 640] },
    });
    expect(() => co3dToCalibration(frames)).toThrow(/2 sequences/);
    const points = Float32Array.of(1, 2, 3);
    const out = co3dToCalibration(frames, { sequenceName: 'seqA', pointCloud: points });
    expect(out.images.map((i) => i.target)).toEqual(['frame000001.jpg', 'frame000003.jpg', 'frame000005.jpg']);
    expect(out.images[0].source).toBe('apple/seqA/images/frame000001.jpg');
    expect(out.points).toBe(points);
    const views = validateCameras(JSON.parse(JSON.stringify(out.cameras)), 'seqA');
    expect(views.map((v) => [v.width, v.height])).toEqual([
      [640, 480],
      [640, 480],
      [640, 480],
    ]);
    const src = frames.find((f) => f.sequence_name === 'seqA' && f.frame_number === 3)!;
    expect(Array.from(views[1].extrinsic)).toEqual(Array.from(pytorch3dToOpenCV(src.viewpoint!.R, src.viewpoint!.T)));
  });
});
