// Shared by the calibration gradient tests: synthetic ground truth made from a model prediction.
import { sceneErrors } from '../../../src/calibrate/calibrate.js';
import type { ForwardState } from '../../../src/calibrate/gradients.js';
import { pi3SceneErrors } from '../../../src/calibrate/scene-errors.js';
import { poseEncodingToExtriIntri, quatToMat } from '../../../src/model/vggt/pose.js';
import { randn } from '../../helpers/random.js';

/**
 * Ground truth from the reference outputs: the reference cameras and points moved by a random similarity (so H is
 * not the identity), the points bent by a smooth warp and the camera centres jittered (so both errors and their
 * gradients are coherent, far above the float32 rounding of the forward pass).
 */
export function makeGroundTruth(
  poseEnc: ArrayLike<number>,
  wp: ArrayLike<number>,
  shape: { S: number; H: number; W: number },
  rand: () => number,
  amp = 0.03,
): { extrinsics: Float64Array; points: Float64Array } {
  return groundTruthFrom(
    poseEncodingToExtriIntri(poseEnc, shape.S, shape.H, shape.W).extrinsics,
    wp,
    shape.S,
    rand,
    amp,
  );
}

/** {@link makeGroundTruth} from camera-to-world poses `[S, 4, 4]` (π³'s cameras). */
export function makeGroundTruthFromPoses(
  poses: ArrayLike<number>,
  wp: ArrayLike<number>,
  S: number,
  rand: () => number,
  amp = 0.03,
): { extrinsics: Float64Array; points: Float64Array } {
  const E = new Float64Array(12 * S); // camera-from-world: [Rᵀ | −Rᵀ t]
  for (let s = 0; s < S; s++) {
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) E[12 * s + 4 * r + c] = poses[16 * s + 4 * c + r]!;
      E[12 * s + 4 * r + 3] = -[0, 1, 2].reduce(
        (a, k) => a + poses[16 * s + 4 * k + r]! * poses[16 * s + 4 * k + 3]!,
        0,
      );
    }
  }
  return groundTruthFrom(E, wp, S, rand, amp);
}

function groundTruthFrom(
  E: ArrayLike<number>,
  wp: ArrayLike<number>,
  S: number,
  rand: () => number,
  amp: number,
): { extrinsics: Float64Array; points: Float64Array } {
  const q = Array.from(randn(4, rand));
  const R0 = quatToMat(q);
  const s0 = 0.5 + rand();
  const t0 = Array.from(randn(3, rand));
  const sim = (x: number[]) =>
    [0, 1, 2].map((r) => s0 * (R0[3 * r]! * x[0]! + R0[3 * r + 1]! * x[1]! + R0[3 * r + 2]! * x[2]!) + t0[r]!);
  const n = wp.length / 3;
  let scale = 0;
  for (let i = 0; i < n; i++) scale += Math.hypot(wp[3 * i]!, wp[3 * i + 1]!, wp[3 * i + 2]!) / n;
  const ph = Array.from({ length: 3 }, () => rand() * 6);
  const points: number[] = [];
  for (let i = 0; i < n; i += 2) {
    const p = [wp[3 * i]!, wp[3 * i + 1]!, wp[3 * i + 2]!];
    const w = p.map((v, k) => v + amp * scale * Math.sin((3 * p[(k + 1) % 3]!) / scale + ph[k]!));
    points.push(...sim(w));
  }
  const extrinsics = new Float64Array(12 * S);
  for (let i = 0; i < S; i++) {
    const R = (r: number, c: number) => E[12 * i + 4 * r + c]!;
    const c = [0, 1, 2].map((k) => -(R(0, k) * E[12 * i + 3]! + R(1, k) * E[12 * i + 7]! + R(2, k) * E[12 * i + 11]!));
    // The similarity is fitted to the camera centres, and the random model predicts them almost on top of each
    // other: jitter along a different axis per camera (plus noise) so that the fit is always well posed.
    const jit = randn(3, rand, 0.015 * scale).map((v, k) => v + (k === i % 3 ? 0.05 * scale : 0));
    const c2 = sim(c.map((v, k) => v + jit[k]!));
    // R' = R·R0ᵀ, t' = −R'·c'
    for (let r = 0; r < 3; r++) {
      for (let k = 0; k < 3; k++)
        extrinsics[12 * i + 4 * r + k] = R(r, 0) * R0[3 * k]! + R(r, 1) * R0[3 * k + 1]! + R(r, 2) * R0[3 * k + 2]!;
    }
    for (let r = 0; r < 3; r++) {
      extrinsics[12 * i + 4 * r + 3] = -[0, 1, 2].reduce((a, k) => a + extrinsics[12 * i + 4 * r + k]! * c2[k]!, 0);
    }
  }
  return { extrinsics, points: Float64Array.from(points) };
}

/**
 * The inlier radius ε for the point term of a prediction against {@link makeGroundTruth}'s GT: from `start`,
 * doubled while fewer than `min` predicted points are inliers (up to 10). The fit to the random model's nearly
 * coincident camera centres can leave the predicted cloud far from the GT one, and with no inlier the point term
 * is identically 0.
 */
export function inlierRadius(
  pred: Pick<ForwardState, 'S' | 'H' | 'W' | 'poseEnc' | 'worldPoints'>,
  gt: { extrinsics: ArrayLike<number>; points: ArrayLike<number> },
  start = 0.2,
  min = 50,
): number {
  let epsilon = start;
  while (sceneErrors(pred, gt, { epsilon }).pointCloud.inlierCount < min && epsilon < 10) epsilon *= 2;
  return epsilon;
}

/** {@link inlierRadius} for a π³ prediction. */
export function pi3InlierRadius(
  pred: { S: number; cameraPoses: ArrayLike<number>; points: ArrayLike<number> },
  gt: { extrinsics: ArrayLike<number>; points: ArrayLike<number> },
  start = 0.2,
  min = 50,
): number {
  let epsilon = start;
  while (pi3SceneErrors(pred, gt, { epsilon }).pointCloud.inlierCount < min && epsilon < 10) epsilon *= 2;
  return epsilon;
}
