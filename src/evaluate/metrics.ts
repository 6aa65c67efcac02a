/**
 * Evaluation metrics of the VGGT / HeSS papers: relative camera pose errors (RRA, RTA) and AUC@30, point-cloud
 * accuracy / completeness / Chamfer / F1, and depth AbsRel (with optional median scaling).
 *
 * Cameras are camera-from-world extrinsics `[R | t]` (OpenCV), flat `N × 12` row-major; points are flat xyz.
 */
import { HessError } from '../errors.js';
import { pointCount, type Points3 } from '../calibrate/geometry/mat3.js';
import { NearestGrid } from './nearest-grid.js';

const DEG = 180 / Math.PI;

/** Per-pair relative pose errors, in degrees, for all pairs `i < j` in lexicographic order. */
export interface RelativePoseErrors {
  /** Pair indices `[i, j]`. */
  pairs: [number, number][];
  /** Relative rotation angle error (RRA), degrees in [0, 180]. */
  rotation: Float64Array;
  /** Relative translation direction angle error (RTA), degrees ([0, 90] with `ambiguity`, else [0, 180]). */
  translation: Float64Array;
}

/** Options of {@link relativePoseErrors}. */
export interface RelativePoseOptions {
  /**
   * `'relative'` (default): the relative pose from camera i to camera j, `E_j · E_i⁻¹`, i.e.
   * `R_ij = R_j R_iᵀ`, `t_ij = t_j − R_ij t_i` — invariant to the world frame and its scale, so prediction and
   * GT may be in any frames.
   * `'vggt'`: VGGT's `test_co3d.py` composition `E_i⁻¹ · E_j` (`R_iᵀ R_j`, `R_iᵀ (t_j − t_i)`), computed after
   * re-expressing both sets in their first camera's frame, as that script does for the GT; use it to reproduce
   * published numbers.
   */
  convention?: 'relative' | 'vggt';
  /**
   * Treat a translation direction and its opposite as equal (default true, as VGGT/PoseDiffusion do):
   * RTA = min(θ, 180° − θ).
   */
  ambiguity?: boolean;
}

function cameraCount(e: ArrayLike<number>, name: string): number {
  if (e.length % 12 !== 0)
    throw new HessError('SHAPE_MISMATCH', `${name} has length ${e.length}, not a multiple of 12 (N×3×4)`);
  for (let i = 0; i < e.length; i++) {
    if (!Number.isFinite(e[i]))
      throw new HessError('INVALID_ARGUMENT', `${name}[${i}] is ${e[i]}; extrinsics must be finite`);
  }
  return e.length / 12;
}

/** Read camera `c` as { R (row-major 9), t (3) }. */
function pose(e: ArrayLike<number>, c: number): { R: number[]; t: number[] } {
  const o = 12 * c;
  return {
    R: [e[o], e[o + 1], e[o + 2], e[o + 4], e[o + 5], e[o + 6], e[o + 8], e[o + 9], e[o + 10]],
    t: [e[o + 3], e[o + 7], e[o + 11]],
  };
}

function matMul(a: number[], b: number[]): number[] {
  const r = new Array<number>(9);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) r[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
  return r;
}
function matT(a: number[]): number[] {
  return [a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8]];
}
function matVec(a: number[], v: number[]): number[] {
  return [0, 1, 2].map((i) => a[3 * i] * v[0] + a[3 * i + 1] * v[1] + a[3 * i + 2] * v[2]);
}

/** Geodesic angle of `Aᵀ B` in degrees (robust near 0 and 180°). */
function rotationDifferenceDeg(A: number[], B: number[]): number {
  const M = matMul(matT(A), B);
  const c = (M[0] + M[4] + M[8] - 1) / 2;
  const s = Math.hypot(M[7] - M[5], M[2] - M[6], M[3] - M[1]) / 2;
  return Math.atan2(s, c) * DEG;
}

/** A relative translation and the length below which it counts as zero (rounding of coincident cameras). */
interface RelT {
  t: number[];
  tiny: number;
}

/**
 * Angle between two translation directions in degrees, as VGGT's `compare_translation_by_angle`: a zero-length
 * vector gives 90°. With `ambiguity`, returns min(θ, 180° − θ).
 */
function translationAngleDeg(A: RelT, B: RelT, ambiguity: boolean): number {
  const [a, b] = [A.t, B.t];
  const na = Math.hypot(a[0], a[1], a[2]);
  const nb = Math.hypot(b[0], b[1], b[2]);
  if (na <= A.tiny || nb <= B.tiny) return 90;
  const cross = Math.hypot(a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]);
  const dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const theta = Math.atan2(cross, dot) * DEG;
  return ambiguity ? Math.min(theta, 180 - theta) : theta;
}

/** Re-express all cameras in the frame of camera 0: `E_k · E_0⁻¹`. */
function toFirstCamera(e: ArrayLike<number>, n: number): { R: number[]; t: number[] }[] {
  const { R: R0, t: t0 } = pose(e, 0);
  const R0t = matT(R0);
  return Array.from({ length: n }, (_, k) => {
    const { R, t } = pose(e, k);
    const Rn = matMul(R, R0t);
    const Rt0 = matVec(Rn, t0);
    return { R: Rn, t: [t[0] - Rt0[0], t[1] - Rt0[1], t[2] - Rt0[2]] };
  });
}

/**
 * Relative rotation (RRA) and relative translation-direction (RTA) angle errors, in degrees, for every pair of
 * views `i < j`. Prediction and GT must list the same views in the same order.
 *
 * @example
 * const { rotation, translation } = relativePoseErrors(predExtrinsics, gtExtrinsics);
 * const auc = aucAt(rotation, translation, 30);
 */
export function relativePoseErrors(
  pred: ArrayLike<number>,
  gt: ArrayLike<number>,
  opts: RelativePoseOptions = {},
): RelativePoseErrors {
  const n = cameraCount(pred, 'pred');
  const m = cameraCount(gt, 'gt');
  if (n !== m) throw new HessError('SHAPE_MISMATCH', `pred has ${n} cameras but gt has ${m}`);
  if (n < 2) throw new HessError('INVALID_ARGUMENT', 'relative pose errors need at least 2 cameras');
  const convention = opts.convention ?? 'relative';
  const ambiguity = opts.ambiguity ?? true;
  const P = convention === 'vggt' ? toFirstCamera(pred, n) : Array.from({ length: n }, (_, k) => pose(pred, k));
  const G = convention === 'vggt' ? toFirstCamera(gt, n) : Array.from({ length: n }, (_, k) => pose(gt, k));
  // Relative translations shorter than ~1e-12 of the cameras' translations are rounding noise of coincident
  // cameras and count as zero.
  const rel = (A: { R: number[]; t: number[] }, B: { R: number[]; t: number[] }) => {
    const tiny = 1e-12 * (Math.hypot(A.t[0], A.t[1], A.t[2]) + Math.hypot(B.t[0], B.t[1], B.t[2]));
    if (convention === 'vggt') {
      const AtR = matT(A.R);
      return { R: matMul(AtR, B.R), t: matVec(AtR, [B.t[0] - A.t[0], B.t[1] - A.t[1], B.t[2] - A.t[2]]), tiny };
    }
    const R = matMul(B.R, matT(A.R));
    const Rt = matVec(R, A.t);
    return { R, t: [B.t[0] - Rt[0], B.t[1] - Rt[1], B.t[2] - Rt[2]], tiny };
  };
  const pairs: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs.push([i, j]);
  const rotation = new Float64Array(pairs.length);
  const translation = new Float64Array(pairs.length);
  pairs.forEach(([i, j], k) => {
    const p = rel(P[i], P[j]);
    const g = rel(G[i], G[j]);
    rotation[k] = rotationDifferenceDeg(g.R, p.R);
    translation[k] = translationAngleDeg(g, p, ambiguity);
  });
  return { pairs, rotation, translation };
}

/**
 * AUC@`maxThreshold` as in VGGT's `calculate_auc_np` (CO3D / RealEstate10K camera evaluation): per pair take
 * `max(RRA, RTA)`; for thresholds τ = 1 … maxThreshold (degrees) compute the fraction of pairs with error < τ
 * (≤ for the last, matching numpy's closed last histogram bin); return the mean of those fractions, in [0, 1].
 * NaN errors count as failures.
 *
 * @example aucAt(rotation, translation, 30); // 1 for perfect cameras
 */
export function aucAt(
  rotationErrors: ArrayLike<number>,
  translationErrors: ArrayLike<number>,
  maxThreshold = 30,
): number {
  if (rotationErrors.length !== translationErrors.length) {
    throw new HessError(
      'SHAPE_MISMATCH',
      `${rotationErrors.length} rotation errors but ${translationErrors.length} translation errors`,
    );
  }
  if (!(Number.isInteger(maxThreshold) && maxThreshold >= 1)) {
    throw new HessError('INVALID_ARGUMENT', `maxThreshold must be a positive integer, got ${maxThreshold}`);
  }
  const n = rotationErrors.length;
  if (n === 0) throw new HessError('INVALID_ARGUMENT', 'aucAt: no pairs');
  const hist = new Float64Array(maxThreshold);
  for (let k = 0; k < n; k++) {
    const e = Math.max(rotationErrors[k], translationErrors[k]);
    if (!(e >= 0 && e <= maxThreshold)) continue; // NaN, negative or beyond the last bin
    hist[Math.min(Math.floor(e), maxThreshold - 1)]++;
  }
  let cum = 0;
  let sum = 0;
  for (let b = 0; b < maxThreshold; b++) {
    cum += hist[b] / n;
    sum += cum;
  }
  return sum / maxThreshold;
}

/** Camera metrics of one view set. */
export interface CameraMetrics {
  /** Mean RRA and RTA over pairs, degrees. */
  meanRRA: number;
  meanRTA: number;
  /** Fraction of pairs with RRA / RTA below `threshold` degrees. */
  rraAt: number;
  rtaAt: number;
  threshold: number;
  auc30: number;
  errors: RelativePoseErrors;
}

/**
 * RRA/RTA per pair, their means, accuracies at `threshold` (default 15°, as RRA@15/RTA@15) and AUC@30.
 * @example const m = cameraMetrics(predExtrinsics, gtExtrinsics); m.auc30;
 */
export function cameraMetrics(
  pred: ArrayLike<number>,
  gt: ArrayLike<number>,
  opts: RelativePoseOptions & { threshold?: number } = {},
): CameraMetrics {
  const errors = relativePoseErrors(pred, gt, opts);
  const threshold = opts.threshold ?? 15;
  const k = errors.pairs.length;
  let sr = 0,
    st = 0,
    ar = 0,
    at = 0;
  for (let i = 0; i < k; i++) {
    sr += errors.rotation[i];
    st += errors.translation[i];
    if (errors.rotation[i] < threshold) ar++;
    if (errors.translation[i] < threshold) at++;
  }
  return {
    meanRRA: sr / k,
    meanRTA: st / k,
    rraAt: ar / k,
    rtaAt: at / k,
    threshold,
    auc30: aucAt(errors.rotation, errors.translation, 30),
    errors,
  };
}

/** Point-cloud reconstruction metrics (distances in the clouds' units). */
export interface PointCloudMetrics {
  /** Mean distance from each predicted point to its nearest GT point. */
  accuracy: number;
  /** Mean distance from each GT point to its nearest predicted point. */
  completeness: number;
  /** (accuracy + completeness) / 2. */
  chamfer: number;
  /** Fraction of predicted points within `threshold` of the GT (strictly closer). */
  precision: number;
  /** Fraction of GT points within `threshold` of the prediction. */
  recall: number;
  /** Harmonic mean of precision and recall (0 when both are 0). */
  f1: number;
  threshold: number;
  /** Median of the pred→GT and GT→pred distances (robust variants, as reported by some benchmarks). */
  accuracyMedian: number;
  completenessMedian: number;
}

function median(a: Float64Array): number {
  const s = Float64Array.from(a).sort();
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * Accuracy (pred→GT), completeness (GT→pred), Chamfer distance (their mean) and F1 at `threshold`, using
 * Euclidean nearest-neighbour distances (k-d tree). The clouds must already be in the same frame (e.g.
 * aligned with `umeyama`).
 *
 * @example const m = pointCloudMetrics(alignedPred, gtCloud, 0.05); m.chamfer; m.f1;
 */
export function pointCloudMetrics(pred: Points3, gt: Points3, threshold: number): PointCloudMetrics {
  if (!(threshold > 0)) throw new HessError('INVALID_ARGUMENT', `threshold must be > 0, got ${threshold}`);
  if (pointCount(pred, 'pred') === 0 || pointCount(gt, 'gt') === 0) {
    throw new HessError('INVALID_ARGUMENT', 'pointCloudMetrics: both clouds need at least one point');
  }
  // Exact nearest neighbours on a grid: the k-d tree is ~3–20× slower under the eval's V8 --no-opt (nearest-grid.ts).
  const toGt = new NearestGrid(gt).distances(pred);
  const toPred = new NearestGrid(pred).distances(gt);
  const mean = (a: Float64Array) => a.reduce((s, x) => s + x, 0) / a.length;
  const frac = (a: Float64Array) => a.reduce((s, x) => s + (x < threshold ? 1 : 0), 0) / a.length;
  const accuracy = mean(toGt);
  const completeness = mean(toPred);
  const precision = frac(toGt);
  const recall = frac(toPred);
  return {
    accuracy,
    completeness,
    chamfer: (accuracy + completeness) / 2,
    precision,
    recall,
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    threshold,
    accuracyMedian: median(toGt),
    completenessMedian: median(toPred),
  };
}

/** Depth metrics over valid pixels. */
export interface DepthMetrics {
  /** mean |d̂ − d| / d. */
  absRel: number;
  /** Fraction of pixels with max(d̂/d, d/d̂) < 1.25. */
  delta1: number;
  /** Scale applied to the prediction (1 without median scaling). */
  scale: number;
  /** Number of pixels used. */
  count: number;
}

/**
 * Depth AbsRel (and δ < 1.25) over pixels where the GT is finite and > 0 (and the optional mask is non-zero)
 * and the prediction is finite. With `medianScaling`, the prediction is first multiplied by
 * median(GT) / median(pred) over those pixels (per-image scale alignment, for scale-ambiguous predictions).
 *
 * @example const { absRel } = depthMetrics(predDepth, gtDepth, { medianScaling: true });
 */
export function depthMetrics(
  pred: ArrayLike<number>,
  gt: ArrayLike<number>,
  opts: { medianScaling?: boolean; mask?: ArrayLike<number> } = {},
): DepthMetrics {
  if (pred.length !== gt.length)
    throw new HessError('SHAPE_MISMATCH', `pred has ${pred.length} pixels but gt has ${gt.length}`);
  if (opts.mask && opts.mask.length !== gt.length)
    throw new HessError('SHAPE_MISMATCH', 'mask size differs from the depth maps');
  const idx: number[] = [];
  for (let i = 0; i < gt.length; i++) {
    if (gt[i] > 0 && Number.isFinite(gt[i]) && Number.isFinite(pred[i]) && (!opts.mask || opts.mask[i])) idx.push(i);
  }
  if (idx.length === 0) throw new HessError('INVALID_ARGUMENT', 'depthMetrics: no valid pixel (GT > 0 and finite)');
  let scale = 1;
  if (opts.medianScaling) {
    const mp = median(Float64Array.from(idx, (i) => pred[i]));
    const mg = median(Float64Array.from(idx, (i) => gt[i]));
    if (!(mp > 0))
      throw new HessError(
        'INVALID_ARGUMENT',
        'depthMetrics: median predicted depth is not positive; cannot median-scale',
      );
    scale = mg / mp;
  }
  let rel = 0;
  let good = 0;
  for (const i of idx) {
    const p = pred[i] * scale;
    const g = gt[i];
    rel += Math.abs(p - g) / g;
    if (p > 0 && Math.max(p / g, g / p) < 1.25) good++;
  }
  return { absRel: rel / idx.length, delta1: good / idx.length, scale, count: idx.length };
}
