/**
 * The two HeSS error terms of one scene for any model, given how its prediction yields camera centres: GT
 * normalisation, one similarity H fitted over all frames' centres (prediction → normalised GT; held fixed, no
 * gradient through it, so no frame is a reference), e_cam and e_pc with their gradients w.r.t. the predicted
 * centres and world points, and the frozen loss those gradients are exact for. VGGT (`sceneErrors` in
 * `calibrate.ts`) and π³ ({@link pi3SceneErrors}) chain the centre gradient to their own camera outputs.
 */
import { check, HessError } from '../errors.js';
import {
  applySimilarity,
  cameraCenters,
  hessErrors,
  normalizePoints,
  PointIndex3,
  type SceneNormalization,
  type Similarity,
} from './geometry/index.js';

/** Ground truth of a scene: camera-from-world `[S, 3, 4]` (OpenCV) in image order, and a point cloud (flat xyz). */
export interface SceneGroundTruth {
  extrinsics: ArrayLike<number>;
  points: ArrayLike<number>;
}

/** Options of the error terms. */
export interface SceneErrorOptions {
  /** Inlier radius of e_pc in normalised scene units (default 0.05). */
  epsilon?: number;
  /** Optional ICP refinement of H (normalised units). */
  icp?: { iterations: number; inlierDist?: number };
  /** Fit H to the camera centres (default) or to the points as correspondences. */
  align?: 'cameras' | 'points';
}

/** The error terms with the gradient w.r.t. the predicted camera centres `[S, 3]` and world points. */
export interface CentreErrors<Cam> {
  transform: Similarity;
  normalization: SceneNormalization;
  camera: { error: number; gradCenters: Float64Array };
  pointCloud: { error: number; gradWorldPoints: Float64Array; inlierCount: number };
  /** Both errors for another prediction with H, the inlier set and the nearest-GT assignment frozen. */
  frozen(cameras: Cam, worldPoints: ArrayLike<number>): { camera: number; pointCloud: number };
}

/**
 * e_cam and e_pc of a prediction whose camera centres are `centersOf(cameras)`, with their gradients w.r.t. the
 * centres and the world points.
 *
 * @example
 * const e = centreErrors(S, poses, points, gt, pi3Centers, { epsilon: 0.05 });
 */
export function centreErrors<Cam>(
  S: number,
  cameras: Cam,
  worldPoints: ArrayLike<number>,
  gt: SceneGroundTruth,
  centersOf: (c: Cam) => Float64Array,
  opts: SceneErrorOptions = {},
): CentreErrors<Cam> {
  const epsilon = opts.epsilon ?? 0.05;
  if (gt.extrinsics.length !== 12 * S) {
    throw new HessError(
      'SHAPE_MISMATCH',
      `GT extrinsics have ${gt.extrinsics.length} values, expected ${12 * S} for ${S} frames`,
      'pass one [3, 4] camera-from-world matrix per image, in image order',
    );
  }
  const predCenters = centersOf(cameras);
  const gtCenters = cameraCenters(gt.extrinsics);
  const r = hessErrors({
    predCenters,
    gtCenters,
    predPoints: worldPoints,
    gtPoints: gt.points,
    epsilon,
    icp: opts.icp,
    align: opts.align ?? 'cameras',
  });
  const pc = r.points!;
  const gtC = normalizePoints(gtCenters, r.normalization);
  const index = new PointIndex3(normalizePoints(gt.points, r.normalization));
  const nn = index.nearestAll(applySimilarity(r.transform, worldPoints), { maxDist: epsilon }).indices;
  const Hs = r.transform;
  const frozen = (cams: Cam, wp: ArrayLike<number>) => {
    const c = applySimilarity(Hs, centersOf(cams));
    let ec = 0;
    for (let i = 0; i < c.length; i++) ec += (c[i]! - gtC[i]!) ** 2;
    const p = applySimilarity(Hs, wp);
    let ep = 0,
      count = 0;
    for (let j = 0; j < nn.length; j++) {
      const q = nn[j]!;
      if (q < 0) continue;
      count++;
      for (let k = 0; k < 3; k++) ep += (p[3 * j + k]! - index.points[3 * q + k]!) ** 2;
    }
    return { camera: ec / (2 * S), pointCloud: count ? ep / (2 * count) : 0 };
  };
  return {
    transform: r.transform,
    normalization: r.normalization,
    camera: { error: r.camera.error, gradCenters: r.camera.grad },
    pointCloud: { error: pc.error, gradWorldPoints: pc.grad, inlierCount: pc.inlierCount },
    frozen,
  };
}

/** Camera centres of camera-to-world poses `[S, 4, 4]`: their translation columns. */
export function poseCenters(poses: ArrayLike<number>): Float64Array {
  const S = poses.length / 16;
  check(Number.isInteger(S), `poses must be [S, 4, 4], got ${poses.length} values`);
  const out = new Float64Array(3 * S);
  for (let s = 0; s < S; s++) for (let r = 0; r < 3; r++) out[3 * s + r] = poses[16 * s + 4 * r + 3]!;
  return out;
}

/** π³'s error terms, with the camera gradient w.r.t. `cameraPoses` `[S, 4, 4]` and the point one w.r.t. `points`. */
export interface Pi3SceneErrors {
  transform: Similarity;
  normalization: SceneNormalization;
  camera: { error: number; gradCameraPoses: Float64Array };
  pointCloud: { error: number; gradPoints: Float64Array; inlierCount: number };
  /** The same two errors for other (cameraPoses, points), with H, inliers and matches frozen (for FD checks). */
  frozen(cameraPoses: ArrayLike<number>, points: ArrayLike<number>): { camera: number; pointCloud: number };
}

/**
 * e_cam and e_pc of a π³ prediction (camera-to-world poses, world points) against ground truth: the camera error
 * on the poses' centres (translation columns), the point error on `points`, both after one similarity fitted
 * over all frames (π³ has no reference frame), held fixed.
 *
 * @example
 * const errs = pi3SceneErrors(fwd, { extrinsics: gtE, points: gtCloud });
 * await pg.backward(fwd, { cameraPoses: errs.camera.gradCameraPoses }, onLayer);
 */
export function pi3SceneErrors(
  pred: { S: number; cameraPoses: ArrayLike<number>; points: ArrayLike<number> },
  gt: SceneGroundTruth,
  opts: SceneErrorOptions = {},
): Pi3SceneErrors {
  const { S } = pred;
  check(pred.cameraPoses.length === 16 * S, `cameraPoses must be [${S}, 4, 4]`);
  const e = centreErrors<ArrayLike<number>>(S, pred.cameraPoses, pred.points, gt, poseCenters, opts);
  const gradCameraPoses = new Float64Array(16 * S);
  for (let s = 0; s < S; s++)
    for (let r = 0; r < 3; r++) gradCameraPoses[16 * s + 4 * r + 3] = e.camera.gradCenters[3 * s + r]!;
  return {
    transform: e.transform,
    normalization: e.normalization,
    camera: { error: e.camera.error, gradCameraPoses },
    pointCloud: {
      error: e.pointCloud.error,
      gradPoints: e.pointCloud.gradWorldPoints,
      inlierCount: e.pointCloud.inlierCount,
    },
    frozen: e.frozen,
  };
}
