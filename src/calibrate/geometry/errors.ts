/**
 * The HeSS calibration error terms and their gradients with respect to the predicted geometry.
 *
 * Both terms are measured after a similarity `H` (predicted frame → normalised ground-truth frame) that is
 * treated as a constant: no gradient flows through the alignment.
 *
 * - camera: `e_cam = 1/(2N) Σᵢ ‖H·t̂ᵢ − tᵢ‖²` over the N camera centres,
 *   `∂e_cam/∂t̂ᵢ = (s/N) · Rᵀ (H·t̂ᵢ − tᵢ)`.
 * - point cloud: `e_pc = 1/(2|I|) Σ_{j∈I} min_p ‖H·p̂ⱼ − p‖²` where `p` ranges over the GT cloud and
 *   `I` = predicted points whose nearest GT point (after `H`) is closer than ε;
 *   `∂e_pc/∂p̂ⱼ = (s/|I|) · Rᵀ (H·p̂ⱼ − nn(H·p̂ⱼ))` for `j ∈ I`, 0 otherwise (the nearest-neighbour assignment
 *   and the inlier set are held fixed, which is the gradient almost everywhere).
 *
 * **Scene normalisation.** Ground truth is first mapped by `x ↦ (x − c) / d` where `c` is the centroid of the
 * GT point cloud (of the GT camera centres when no cloud is given) and `d` is the mean Euclidean distance of
 * those points to `c`, so that the normalised scene has mean distance 1 to its centroid. ε (default 0.05) and
 * both errors are therefore in units of the scene's size, comparable across scenes.
 */
import { HessError } from '../../errors.js';
import { applySimilarity, refineIcp, umeyama, type Similarity } from './align.js';
import { PointIndex3 } from './knn.js';
import { assertFinite, pointCount, type Points3 } from './mat3.js';

/** `x ↦ (x − center) / scale`. */
export interface SceneNormalization {
  center: Float64Array;
  scale: number;
}

/** An error term and its gradient w.r.t. the predicted points (flat xyz, same length as the prediction). */
export interface ErrorTerm {
  error: number;
  grad: Float64Array;
}

/** Point-cloud term: also which predicted points were inliers. */
export interface PointCloudErrorTerm extends ErrorTerm {
  /** 1 where the predicted point's nearest GT point is closer than ε. */
  inliers: Uint8Array;
  inlierCount: number;
}

/**
 * Camera centres `cᵢ = −Rᵢᵀ tᵢ` of camera-from-world extrinsics (flat `N × [R | t]`, row-major 3×4, OpenCV).
 * @example const centers = cameraCenters(extrinsics); // flat xyz, N points
 */
export function cameraCenters(extrinsics: ArrayLike<number>): Float64Array {
  if (extrinsics.length % 12 !== 0) {
    throw new HessError('SHAPE_MISMATCH', `extrinsics has length ${extrinsics.length}, not a multiple of 12 (N×3×4)`);
  }
  assertFinite(extrinsics, 'extrinsics');
  const n = extrinsics.length / 12;
  const out = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) {
    const e = 12 * i;
    const t0 = extrinsics[e + 3];
    const t1 = extrinsics[e + 7];
    const t2 = extrinsics[e + 11];
    for (let k = 0; k < 3; k++) {
      out[3 * i + k] = -(extrinsics[e + k] * t0 + extrinsics[e + 4 + k] * t1 + extrinsics[e + 8 + k] * t2);
    }
  }
  return out;
}

/**
 * Chain rule through `c = −Rᵀ t`: turns gradients w.r.t. camera centres into gradients w.r.t. the extrinsics
 * (flat `N × 12`, same layout): `∂E/∂t = −R g`, `∂E/∂R = −t gᵀ`.
 * @example const gE = centerGradToExtrinsicGrad(extrinsics, camera.grad);
 */
export function centerGradToExtrinsicGrad(extrinsics: ArrayLike<number>, gradCenters: ArrayLike<number>): Float64Array {
  const n = extrinsics.length / 12;
  if (!Number.isInteger(n) || gradCenters.length !== 3 * n) {
    throw new HessError(
      'SHAPE_MISMATCH',
      `need N×12 extrinsics and N×3 gradients, got ${extrinsics.length} and ${gradCenters.length}`,
    );
  }
  const out = new Float64Array(12 * n);
  for (let i = 0; i < n; i++) {
    const e = 12 * i;
    const g = [gradCenters[3 * i], gradCenters[3 * i + 1], gradCenters[3 * i + 2]];
    for (let j = 0; j < 3; j++) {
      const tj = extrinsics[e + 4 * j + 3];
      for (let k = 0; k < 3; k++) out[e + 4 * j + k] = -tj * g[k];
      out[e + 4 * j + 3] = -(
        extrinsics[e + 4 * j] * g[0] +
        extrinsics[e + 4 * j + 1] * g[1] +
        extrinsics[e + 4 * j + 2] * g[2]
      );
    }
  }
  return out;
}

/**
 * The normalisation of a GT scene: centroid and mean distance to the centroid (see the module doc).
 * Throws INVALID_ARGUMENT for an empty or single-location set.
 * @example const norm = sceneNormalization(gtPoints); // normalizePoints(gtPoints, norm) has mean radius 1
 */
export function sceneNormalization(points: Points3): SceneNormalization {
  const n = pointCount(points, 'gt points');
  if (n === 0) throw new HessError('INVALID_ARGUMENT', 'sceneNormalization: no points');
  assertFinite(points, 'gt points');
  const c = new Float64Array(3);
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) c[k] += points[3 * i + k];
  for (let k = 0; k < 3; k++) c[k] /= n;
  let d = 0;
  for (let i = 0; i < n; i++) {
    d += Math.hypot(points[3 * i] - c[0], points[3 * i + 1] - c[1], points[3 * i + 2] - c[2]);
  }
  d /= n;
  if (!(d > 1e-12 * (Math.hypot(c[0], c[1], c[2]) + d))) {
    throw new HessError('INVALID_ARGUMENT', 'sceneNormalization: all points coincide, the scene has no scale');
  }
  return { center: c, scale: d };
}

/**
 * Apply a {@link SceneNormalization}: `(x − center) / scale` for every point.
 * @example const gtN = normalizePoints(gtPoints, sceneNormalization(gtPoints));
 */
export function normalizePoints(points: Points3, norm: SceneNormalization): Float64Array {
  const n = pointCount(points);
  const out = new Float64Array(3 * n);
  for (let i = 0; i < 3 * n; i++) out[i] = (points[i] - norm.center[i % 3]) / norm.scale;
  return out;
}

/** `(s/count) · Rᵀ r` written into `grad` at point `i`. */
function backprop(H: Similarity, r0: number, r1: number, r2: number, f: number, grad: Float64Array, i: number): void {
  const R = H.R;
  grad[3 * i] = f * (R[0] * r0 + R[3] * r1 + R[6] * r2);
  grad[3 * i + 1] = f * (R[1] * r0 + R[4] * r1 + R[7] * r2);
  grad[3 * i + 2] = f * (R[2] * r0 + R[5] * r1 + R[8] * r2);
}

/**
 * Camera term `e_cam = 1/(2N) Σ ‖H·t̂ᵢ − tᵢ‖²` and its gradient w.r.t. the predicted centres, with `H` fixed.
 * `gtCenters` must already be in the frame `H` maps into (e.g. normalised).
 * @example const { error, grad } = cameraError(predCenters, gtCentersNormalised, H);
 */
export function cameraError(predCenters: Points3, gtCenters: Points3, H: Similarity): ErrorTerm {
  const n = pointCount(predCenters, 'predicted centres');
  const m = pointCount(gtCenters, 'gt centres');
  if (n !== m) throw new HessError('SHAPE_MISMATCH', `cameraError: ${n} predicted centres but ${m} GT centres`);
  if (n === 0) throw new HessError('INVALID_ARGUMENT', 'cameraError: no cameras');
  const moved = applySimilarity(H, predCenters);
  const grad = new Float64Array(3 * n);
  let sum = 0;
  const f = H.s / n;
  for (let i = 0; i < n; i++) {
    const r0 = moved[3 * i] - gtCenters[3 * i];
    const r1 = moved[3 * i + 1] - gtCenters[3 * i + 1];
    const r2 = moved[3 * i + 2] - gtCenters[3 * i + 2];
    sum += r0 * r0 + r1 * r1 + r2 * r2;
    backprop(H, r0, r1, r2, f, grad, i);
  }
  return { error: sum / (2 * n), grad };
}

/**
 * Point-cloud term `e_pc = 1/(2|I|) Σ_{j∈I} min_p ‖H·p̂ⱼ − p‖²` with inliers `I` = points whose nearest GT point
 * is closer than `epsilon` (strictly), and its gradient w.r.t. the predicted points (zero for outliers), with `H`
 * fixed. `gt` is a GT cloud (or a prebuilt index of it) in the frame `H` maps into. With no inlier, error and
 * gradient are 0.
 * @example const { error, grad, inlierCount } = pointCloudError(predPoints, gtIndex, H, 0.05);
 */
export function pointCloudError(
  predPoints: Points3,
  gt: Points3 | PointIndex3,
  H: Similarity,
  epsilon = 0.05,
): PointCloudErrorTerm {
  if (!(epsilon > 0)) throw new HessError('INVALID_ARGUMENT', `pointCloudError: epsilon must be > 0, got ${epsilon}`);
  const n = pointCount(predPoints, 'predicted points');
  const index = gt instanceof PointIndex3 ? gt : new PointIndex3(gt);
  const moved = applySimilarity(H, predPoints);
  const { indices } = index.nearestAll(moved, { maxDist: epsilon });
  const inliers = new Uint8Array(n);
  let count = 0;
  for (let j = 0; j < n; j++) {
    if (indices[j] >= 0) {
      inliers[j] = 1;
      count++;
    }
  }
  const grad = new Float64Array(3 * n);
  if (count === 0) return { error: 0, grad, inliers, inlierCount: 0 };
  const P = index.points;
  const f = H.s / count;
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const q = indices[j];
    if (q < 0) continue;
    const r0 = moved[3 * j] - P[3 * q];
    const r1 = moved[3 * j + 1] - P[3 * q + 1];
    const r2 = moved[3 * j + 2] - P[3 * q + 2];
    sum += r0 * r0 + r1 * r1 + r2 * r2;
    backprop(H, r0, r1, r2, f, grad, j);
  }
  return { error: sum / (2 * count), grad, inliers, inlierCount: count };
}

/** Inputs of {@link hessErrors}. Prediction and GT may be in arbitrary, different similarity frames. */
export interface HessErrorInputs {
  /** Predicted camera centres (flat xyz), e.g. {@link cameraCenters} of the predicted extrinsics. */
  predCenters: Points3;
  /** GT camera centres, same order. */
  gtCenters: Points3;
  /** Predicted points (flat xyz), e.g. the valid pixels of the predicted point maps. */
  predPoints?: Points3;
  /** GT point cloud (flat xyz, unordered unless `align: 'points'`). */
  gtPoints?: Points3;
  /**
   * How `H` is found: `'cameras'` (default) — Umeyama on the camera centres (needs ≥ 3 non-collinear cameras);
   * `'points'` — Umeyama on `predPoints` ↔ `gtPoints` as correspondences (same length, e.g. per-pixel point maps
   * from GT depth); or an explicit similarity from the prediction frame to the *normalised* GT frame.
   */
  align?: 'cameras' | 'points' | Similarity;
  /** Optionally refine `H` with ICP of `predPoints` against `gtPoints` (normalised units). */
  icp?: { iterations: number; inlierDist?: number };
  /** Inlier radius ε of the point term in normalised units (default 0.05). */
  epsilon?: number;
  /** Override the GT normalisation (default: {@link sceneNormalization} of `gtPoints`, else of `gtCenters`). */
  normalization?: SceneNormalization;
}

/** Output of {@link hessErrors}. */
export interface HessErrorResult {
  /** Prediction frame → normalised GT frame. */
  transform: Similarity;
  normalization: SceneNormalization;
  camera: ErrorTerm;
  /** Present when `predPoints` and `gtPoints` were given. */
  points?: PointCloudErrorTerm;
}

/**
 * Both HeSS error terms for one scene: normalise the GT scene, align the prediction to it with one similarity
 * `H` (held fixed), and evaluate `e_cam` and `e_pc` with their gradients w.r.t. the predicted centres/points.
 *
 * @example
 * const r = hessErrors({ predCenters: cameraCenters(predE), gtCenters: cameraCenters(gtE), predPoints, gtPoints });
 * r.camera.error; r.points?.error; r.points?.grad; // gradients to backpropagate into the network
 */
export function hessErrors(input: HessErrorInputs): HessErrorResult {
  const { predCenters, gtCenters, predPoints, gtPoints } = input;
  const norm = input.normalization ?? sceneNormalization(gtPoints ?? gtCenters);
  if (!(norm.scale > 0)) throw new HessError('INVALID_ARGUMENT', 'normalization.scale must be > 0');
  const gtC = normalizePoints(gtCenters, norm);
  const gtP = gtPoints ? normalizePoints(gtPoints, norm) : undefined;
  const align = input.align ?? 'cameras';
  let H: Similarity;
  if (align === 'cameras') {
    H = umeyama(predCenters, gtC);
  } else if (align === 'points') {
    if (!predPoints || !gtP) throw new HessError('INVALID_ARGUMENT', "align: 'points' needs predPoints and gtPoints");
    H = umeyama(predPoints, gtP);
  } else {
    H = align;
  }
  const index = gtP ? new PointIndex3(gtP) : undefined;
  if (input.icp && predPoints && index) {
    H = refineIcp(predPoints, index.points, H, { ...input.icp, index }).transform;
  }
  const camera = cameraError(predCenters, gtC, H);
  const points = predPoints && index ? pointCloudError(predPoints, index, H, input.epsilon ?? 0.05) : undefined;
  return { transform: H, normalization: norm, camera, ...(points ? { points } : {}) };
}
