import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { poseEncodingToExtriIntri, quatToMat, unprojectDepth } from '../../../src/model/vggt/pose.js';
import { freshSeed, randn, rng } from '../../helpers/random.js';

const s = Math.SQRT1_2;
const close = (got: ArrayLike<number>, want: number[], digits = 12) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, digits);
};

/** Hamilton product of XYZW quaternions: an independent way to rotate a vector (q v q⁻¹). */
function qmul(a: number[], b: number[]): number[] {
  const [ax, ay, az, aw] = a as [number, number, number, number];
  const [bx, by, bz, bw] = b as [number, number, number, number];
  return [
    aw * bx + ax * bw + ay * bz - az * by,
    aw * by - ax * bz + ay * bw + az * bx,
    aw * bz + ax * by - ay * bx + az * bw,
    aw * bw - ax * bx - ay * by - az * bz,
  ];
}

describe('pose encoding → extrinsics / intrinsics', () => {
  it('identity quaternion (any scale, either sign) gives R = I', () => {
    for (const q of [
      [0, 0, 0, 1],
      [0, 0, 0, 3.5],
      [0, 0, 0, -0.2],
    ])
      close(quatToMat(q), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it('90° rotations about x, y, z (XYZW, scalar last; un-normalised too)', () => {
    close(quatToMat([0, 0, s, s]), [0, -1, 0, 1, 0, 0, 0, 0, 1]);
    close(quatToMat([0, 0, 2, 2]), [0, -1, 0, 1, 0, 0, 0, 0, 1]);
    close(quatToMat([s, 0, 0, s]), [1, 0, 0, 0, 0, -1, 0, 1, 0]);
    close(quatToMat([0, s, 0, s]), [0, 0, 1, 0, 1, 0, -1, 0, 0]);
    close(quatToMat([0, 0, 1, 0]), [-1, 0, 0, 0, -1, 0, 0, 0, 1]); // 180° about z
  });

  it('random quaternions: R is a rotation and equals q·v·q⁻¹', () => {
    const rand = rng(freshSeed('heads-pose quat'));
    for (let t = 0; t < 50; t++) {
      const q = Array.from(randn(4, rand, 2));
      const R = quatToMat(q);
      // RᵀR = I, det = 1
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          let d = 0;
          for (let k = 0; k < 3; k++) d += R[k * 3 + i]! * R[k * 3 + j]!;
          expect(d).toBeCloseTo(i === j ? 1 : 0, 12);
        }
      }
      const det =
        R[0]! * (R[4]! * R[8]! - R[5]! * R[7]!) -
        R[1]! * (R[3]! * R[8]! - R[5]! * R[6]!) +
        R[2]! * (R[3]! * R[7]! - R[4]! * R[6]!);
      expect(det).toBeCloseTo(1, 12);
      const v = Array.from(randn(3, rand));
      const n2 = q.reduce((a, x) => a + x * x, 0);
      const qinv = [-q[0]! / n2, -q[1]! / n2, -q[2]! / n2, q[3]! / n2];
      const rotated = qmul(qmul(q, [...v, 0]), qinv);
      for (let i = 0; i < 3; i++)
        expect(R[i * 3]! * v[0]! + R[i * 3 + 1]! * v[1]! + R[i * 3 + 2]! * v[2]!).toBeCloseTo(rotated[i]!, 10);
    }
  });

  it('extrinsics = [R | T] and FoV → focal lengths from the preprocessed H, W', () => {
    const [H, W] = [350, 518];
    const f = 400;
    const fovH = 2 * Math.atan(H / 2 / f);
    const fovW = Math.PI / 2; // tan(45°) = 1 → fx = W/2
    const enc = [1, 2, 3, 0, 0, s, s, fovH, fovW, /* frame 1 */ 0, 0, 0, 0, 0, 0, 2, 1, 1];
    const { extrinsics, intrinsics } = poseEncodingToExtriIntri(enc, 2, H, W);
    close(extrinsics.subarray(0, 12), [0, -1, 0, 1, 1, 0, 0, 2, 0, 0, 1, 3]);
    close(extrinsics.subarray(12), [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
    close(intrinsics.subarray(0, 9), [W / 2, 0, W / 2, 0, f, H / 2, 0, 0, 1], 9);
    close(intrinsics.subarray(9), [W / 2 / Math.tan(0.5), 0, W / 2, 0, H / 2 / Math.tan(0.5), H / 2, 0, 0, 1], 9);
    expect(() => poseEncodingToExtriIntri(enc, 3, H, W)).toThrow(HessError);
    expect(() => poseEncodingToExtriIntri([0, 0, 0, 0, 0, 0, 0, 1, 1], 1, H, W)).toThrow(/quaternion/);
  });
});

describe('depth → world points', () => {
  it('hand-derived pixels: identity camera and a rotated, translated one', () => {
    const [H, W] = [2, 4];
    const K = [1, 0, 2, 0, 1, 1, 0, 0, 1]; // fx = fy = 1, cx = 2, cy = 1
    const depth = new Float32Array(H * W).fill(2);
    depth[1 * W + 2] = 5; // the principal-point pixel (u=2, v=1)
    const id = unprojectDepth(depth, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0], K, 1, H, W);
    close(id.subarray(0, 3), [-4, -2, 2]); // pixel (0,0): ((0−2)·2, (0−1)·2, 2)
    close(id.subarray((1 * W + 2) * 3, (1 * W + 2) * 3 + 3), [0, 0, 5]);
    // R = 90° about z, t = (1, 2, 3): world = Rᵀ(cam − t); cam (0,0,5) → Rᵀ(−1,−2,2) = (−2, 1, 2)
    const E = [0, -1, 0, 1, 1, 0, 0, 2, 0, 0, 1, 3];
    const rot = unprojectDepth(depth, E, K, 1, H, W);
    close(rot.subarray((1 * W + 2) * 3, (1 * W + 2) * 3 + 3), [-2, 1, 2], 6);
  });

  it('random cameras: projecting the world points back gives the pixel and the depth', () => {
    const rand = rng(freshSeed('heads-pose unproject'));
    const [S, H, W] = [2, 5, 7];
    const enc: number[] = [];
    for (let i = 0; i < S; i++) enc.push(...randn(3, rand), ...randn(4, rand), 0.8 + rand(), 0.8 + rand());
    const { extrinsics, intrinsics } = poseEncodingToExtriIntri(enc, S, H, W);
    const depth = Float32Array.from({ length: S * H * W }, () => 0.5 + 3 * rand());
    const pts = unprojectDepth(depth, extrinsics, intrinsics, S, H, W);
    for (let i = 0; i < S; i++) {
      const E = extrinsics.subarray(i * 12, i * 12 + 12);
      const K = intrinsics.subarray(i * 9, i * 9 + 9);
      for (let v = 0; v < H; v++) {
        for (let u = 0; u < W; u++) {
          const p = ((i * H + v) * W + u) * 3;
          const cam = [0, 1, 2].map(
            (r) => E[r * 4]! * pts[p]! + E[r * 4 + 1]! * pts[p + 1]! + E[r * 4 + 2]! * pts[p + 2]! + E[r * 4 + 3]!,
          );
          expect(cam[2]).toBeCloseTo(depth[(i * H + v) * W + u]!, 4);
          expect((K[0]! * cam[0]!) / cam[2]! + K[2]!).toBeCloseTo(u, 3);
          expect((K[4]! * cam[1]!) / cam[2]! + K[5]!).toBeCloseTo(v, 3);
        }
      }
    }
    expect(() => unprojectDepth(depth, extrinsics, intrinsics, S, H, W + 1)).toThrow(HessError);
  });
});
