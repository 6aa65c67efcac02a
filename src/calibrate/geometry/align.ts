/**
 * Similarity alignment of 3D point sets (Umeyama 1991) in float64, a weighted variant, an ICP refinement
 * against an unordered target cloud, and helpers to apply, compose and invert similarities.
 *
 * A {@link Similarity} maps `x ↦ s · R · x + t` with `s > 0` and `R` a proper rotation (det +1).
 */
import { HessError, throwIfAborted } from '../../errors.js';
import { PointIndex3 } from './knn.js';
import {
  assertFinite,
  det3,
  mul3,
  orthonormalityError,
  pointCount,
  svd3,
  transpose3,
  type Mat3,
  type Points3,
} from './mat3.js';

export { eigSym3, svd3, det3, mul3, transpose3, identity3, rotationAngle, axisAngleToMatrix } from './mat3.js';
export type { Mat3, Points3, Svd3, SymEigen3 } from './mat3.js';

/** `x ↦ s · R · x + t`. `R` is row-major 3×3, `t` has 3 entries. */
export interface Similarity {
  s: number;
  R: Float64Array;
  t: Float64Array;
}

/** Options of {@link umeyama}. */
export interface UmeyamaOptions {
  /** Non-negative weight per point pair (default: all 1). Pairs with weight 0 are ignored. */
  weights?: ArrayLike<number>;
  /** Estimate the scale (default true). `false` gives a rigid (Kabsch) alignment with `s = 1`. */
  withScale?: boolean;
}

/**
 * The identity similarity.
 * @example applySimilarity(identitySimilarity(), pts); // a copy of pts
 */
export function identitySimilarity(): Similarity {
  return { s: 1, R: Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1), t: new Float64Array(3) };
}

/** Relative tolerances for the degenerate-input checks of {@link umeyama}. */
const SPREAD_TOL = 1e-12;
const RANK_TOL = 1e-10;

/**
 * Least-squares similarity `H` minimising `Σ wᵢ ‖dstᵢ − H(srcᵢ)‖²` over corresponding points (Umeyama,
 * "Least-squares estimation of transformation parameters between two point patterns", PAMI 1991).
 * The rotation is always proper: when the best orthogonal fit is a reflection, the smallest singular
 * direction is flipped, as in the paper.
 *
 * Throws INVALID_ARGUMENT when the problem is degenerate: fewer than 3 (positively weighted) pairs, all source
 * or all target points (numerically) equal, or all points collinear (rotation about the line undetermined).
 * Throws SHAPE_MISMATCH when the two sets (or the weights) differ in length.
 *
 * @example
 * const H = umeyama(predCenters, gtCenters);   // flat xyz, same length
 * const aligned = applySimilarity(H, predCenters);
 */
export function umeyama(src: Points3, dst: Points3, opts: UmeyamaOptions = {}): Similarity {
  const n = pointCount(src, 'src');
  const m = pointCount(dst, 'dst');
  if (n !== m) throw new HessError('SHAPE_MISMATCH', `umeyama: src has ${n} points but dst has ${m}`);
  const w = opts.weights;
  if (w && w.length !== n) throw new HessError('SHAPE_MISMATCH', `umeyama: ${w.length} weights for ${n} points`);
  assertFinite(src, 'src');
  assertFinite(dst, 'dst');
  let W = 0;
  let used = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    if (!(Number.isFinite(wi) && wi >= 0)) {
      throw new HessError('INVALID_ARGUMENT', `umeyama: weight ${i} is ${wi}; weights must be finite and ≥ 0`);
    }
    if (wi > 0) used++;
    W += wi;
  }
  if (used < 3) {
    throw new HessError(
      'INVALID_ARGUMENT',
      `umeyama: need at least 3 weighted point pairs, got ${used}`,
      'pass more correspondences',
    );
  }

  const mx = [0, 0, 0];
  const my = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const wi = (w ? w[i] : 1) / W;
    for (let k = 0; k < 3; k++) {
      mx[k] += wi * src[3 * i + k];
      my[k] += wi * dst[3 * i + k];
    }
  }
  let varX = 0;
  let varY = 0;
  const cov = new Float64Array(9); // Σ w (y − μy)(x − μx)ᵀ / W, rows y, columns x
  for (let i = 0; i < n; i++) {
    const wi = (w ? w[i] : 1) / W;
    if (wi === 0) continue;
    const x0 = src[3 * i] - mx[0];
    const x1 = src[3 * i + 1] - mx[1];
    const x2 = src[3 * i + 2] - mx[2];
    const y0 = dst[3 * i] - my[0];
    const y1 = dst[3 * i + 1] - my[1];
    const y2 = dst[3 * i + 2] - my[2];
    varX += wi * (x0 * x0 + x1 * x1 + x2 * x2);
    varY += wi * (y0 * y0 + y1 * y1 + y2 * y2);
    cov[0] += wi * y0 * x0;
    cov[1] += wi * y0 * x1;
    cov[2] += wi * y0 * x2;
    cov[3] += wi * y1 * x0;
    cov[4] += wi * y1 * x1;
    cov[5] += wi * y1 * x2;
    cov[6] += wi * y2 * x0;
    cov[7] += wi * y2 * x1;
    cov[8] += wi * y2 * x2;
  }
  const rmsX = Math.sqrt(varX);
  const rmsY = Math.sqrt(varY);
  if (!(rmsX > SPREAD_TOL * (Math.hypot(mx[0], mx[1], mx[2]) + rmsX))) {
    throw new HessError('INVALID_ARGUMENT', 'umeyama: all source points coincide (degenerate alignment)');
  }
  if (!(rmsY > SPREAD_TOL * (Math.hypot(my[0], my[1], my[2]) + rmsY))) {
    throw new HessError('INVALID_ARGUMENT', 'umeyama: all target points coincide (degenerate alignment)');
  }
  const { U, S, V } = svd3(cov);
  if (!(S[1] > RANK_TOL * S[0])) {
    throw new HessError(
      'INVALID_ARGUMENT',
      'umeyama: points are collinear; the rotation is not determined (degenerate alignment)',
    );
  }
  const d = det3(U) * det3(V) < 0 ? -1 : 1;
  // R = U · diag(1, 1, d) · Vᵀ
  const Ud = Float64Array.from(U);
  for (let r = 0; r < 3; r++) Ud[3 * r + 2] *= d;
  const R = mul3(Ud, transpose3(V));
  const s = opts.withScale === false ? 1 : (S[0] + S[1] + d * S[2]) / varX;
  const t = Float64Array.of(
    my[0] - s * (R[0] * mx[0] + R[1] * mx[1] + R[2] * mx[2]),
    my[1] - s * (R[3] * mx[0] + R[4] * mx[1] + R[5] * mx[2]),
    my[2] - s * (R[6] * mx[0] + R[7] * mx[1] + R[8] * mx[2]),
  );
  return { s, R, t };
}

/**
 * Apply `H` to every point of a flat xyz array (returns float64; `out` may alias `points` if it is a
 * Float64Array).
 * @example const moved = applySimilarity(H, [0, 0, 0, 1, 2, 3]);
 */
export function applySimilarity(H: Similarity, points: Points3, out?: Float64Array): Float64Array {
  const n = pointCount(points);
  const o = out ?? new Float64Array(3 * n);
  if (o.length !== 3 * n)
    throw new HessError('SHAPE_MISMATCH', `applySimilarity: out has length ${o.length}, need ${3 * n}`);
  const { s, R, t } = H;
  for (let i = 0; i < n; i++) {
    const x = points[3 * i];
    const y = points[3 * i + 1];
    const z = points[3 * i + 2];
    o[3 * i] = s * (R[0] * x + R[1] * y + R[2] * z) + t[0];
    o[3 * i + 1] = s * (R[3] * x + R[4] * y + R[5] * z) + t[1];
    o[3 * i + 2] = s * (R[6] * x + R[7] * y + R[8] * z) + t[2];
  }
  return o;
}

/**
 * `a ∘ b`: first `b`, then `a`.
 * @example const both = composeSimilarity(second, first);
 */
export function composeSimilarity(a: Similarity, b: Similarity): Similarity {
  const R = mul3(a.R, b.R);
  const at = applySimilarity(a, b.t);
  return { s: a.s * b.s, R, t: at };
}

/**
 * Inverse similarity `y ↦ (1/s) · Rᵀ · (y − t)`.
 * @example const back = invertSimilarity(H);
 */
export function invertSimilarity(H: Similarity): Similarity {
  if (!(H.s > 0)) throw new HessError('INVALID_ARGUMENT', `invertSimilarity: scale must be > 0, got ${H.s}`);
  const Rt = transpose3(H.R);
  const s = 1 / H.s;
  const t = Float64Array.of(
    -s * (Rt[0] * H.t[0] + Rt[1] * H.t[1] + Rt[2] * H.t[2]),
    -s * (Rt[3] * H.t[0] + Rt[4] * H.t[1] + Rt[5] * H.t[2]),
    -s * (Rt[6] * H.t[0] + Rt[7] * H.t[1] + Rt[8] * H.t[2]),
  );
  return { s, R: Rt, t };
}

/**
 * Express camera-from-world extrinsics (flat `N × [R | t]`, 12 numbers per camera, row-major 3×4, OpenCV)
 * in the world frame mapped by `H`: if `x' = H(x)`, the returned extrinsics project `x'` exactly as the inputs
 * projected `x` (camera coordinates are scaled by `s`, which leaves pixels unchanged).
 * @example const inGtFrame = transformExtrinsics(H, predExtrinsics);
 */
export function transformExtrinsics(H: Similarity, extrinsics: ArrayLike<number>): Float64Array {
  if (extrinsics.length % 12 !== 0) {
    throw new HessError('SHAPE_MISMATCH', `extrinsics has length ${extrinsics.length}, not a multiple of 12 (N×3×4)`);
  }
  const out = new Float64Array(extrinsics.length);
  const Rt = transpose3(H.R);
  for (let c = 0; c < extrinsics.length; c += 12) {
    const Rc = Float64Array.of(
      extrinsics[c],
      extrinsics[c + 1],
      extrinsics[c + 2],
      extrinsics[c + 4],
      extrinsics[c + 5],
      extrinsics[c + 6],
      extrinsics[c + 8],
      extrinsics[c + 9],
      extrinsics[c + 10],
    );
    const R2 = mul3(Rc, Rt); // R' = Rc Rᵀ, t' = s tc − R' t
    for (let r = 0; r < 3; r++) {
      out[c + 4 * r] = R2[3 * r];
      out[c + 4 * r + 1] = R2[3 * r + 1];
      out[c + 4 * r + 2] = R2[3 * r + 2];
      out[c + 4 * r + 3] =
        H.s * extrinsics[c + 4 * r + 3] - (R2[3 * r] * H.t[0] + R2[3 * r + 1] * H.t[1] + R2[3 * r + 2] * H.t[2]);
    }
  }
  return out;
}

/** Options of {@link refineIcp}. */
export interface IcpOptions {
  /** Maximum number of ICP iterations (default 10). */
  iterations?: number;
  /** Pairs whose nearest-neighbour distance (after the current transform) is not below this are ignored (default ∞). */
  inlierDist?: number;
  /** Estimate scale as well (default true). */
  withScale?: boolean;
  /** Stop when the transform changes by less than this (relative, default 1e-10). */
  tolerance?: number;
  /** A prebuilt index over `dstCloud`, to reuse between calls. */
  index?: PointIndex3;
  signal?: AbortSignal;
}

/** Result of {@link refineIcp}. */
export interface IcpResult {
  transform: Similarity;
  /** Iterations actually run. */
  iterations: number;
  /** Inlier pairs under the returned transform. */
  inliers: number;
  /** Root-mean-square inlier distance under the returned transform (NaN when there are none). */
  rmse: number;
  /** True when the change fell below `tolerance`; false when iterations ran out or too few inliers were left. */
  converged: boolean;
}

function transformChange(a: Similarity, b: Similarity, scale: number): number {
  let dr = 0;
  for (let i = 0; i < 9; i++) dr += (a.R[i] - b.R[i]) ** 2;
  const dt = Math.hypot(a.t[0] - b.t[0], a.t[1] - b.t[1], a.t[2] - b.t[2]);
  return Math.abs(a.s - b.s) / Math.max(a.s, b.s) + Math.sqrt(dr) + dt / scale;
}

/**
 * Refine a similarity `init` (src → dst) by iterative closest point: each iteration pairs every transformed
 * source point with its nearest point of `dstCloud` (k-d tree), drops pairs at distance ≥ `inlierDist`, and
 * re-solves {@link umeyama} on the original source points. Stops early when the transform settles, or (keeping
 * the last good transform) when fewer than 3 inliers or a degenerate inlier set remain.
 *
 * @example
 * const { transform } = refineIcp(predPoints, gtCloud, umeyama(predCenters, gtCenters), { iterations: 5, inlierDist: 0.1 });
 */
export function refineIcp(src: Points3, dstCloud: Points3, init: Similarity, opts: IcpOptions = {}): IcpResult {
  const n = pointCount(src, 'src');
  assertFinite(src, 'src');
  const iterations = opts.iterations ?? 10;
  if (!(Number.isInteger(iterations) && iterations >= 0)) {
    throw new HessError('INVALID_ARGUMENT', `refineIcp: iterations must be a non-negative integer, got ${iterations}`);
  }
  const inlierDist = opts.inlierDist ?? Infinity;
  if (!(inlierDist > 0))
    throw new HessError('INVALID_ARGUMENT', `refineIcp: inlierDist must be > 0, got ${inlierDist}`);
  const tol = opts.tolerance ?? 1e-10;
  const index = opts.index ?? new PointIndex3(dstCloud);

  // Spread of the target, to make the translation change relative.
  const P = index.points;
  const c = [0, 0, 0];
  for (let i = 0; i < P.length; i++) c[i % 3] += P[i] / index.size;
  let spread = 0;
  for (let i = 0; i < P.length; i++) spread += (P[i] - c[i % 3]) ** 2;
  spread = Math.sqrt(spread / index.size) || 1;

  const moved = new Float64Array(3 * n);
  const target = new Float64Array(3 * n);
  const weights = new Float64Array(n);
  const match = (H: Similarity): { inliers: number; sq: number } => {
    applySimilarity(H, src, moved);
    const { indices, dist2 } = index.nearestAll(moved, { maxDist: inlierDist });
    let inliers = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const j = indices[i];
      if (j < 0) {
        weights[i] = 0;
        continue;
      }
      weights[i] = 1;
      inliers++;
      sq += dist2[i];
      target[3 * i] = P[3 * j];
      target[3 * i + 1] = P[3 * j + 1];
      target[3 * i + 2] = P[3 * j + 2];
    }
    return { inliers, sq };
  };

  let H: Similarity = { s: init.s, R: Float64Array.from(init.R), t: Float64Array.from(init.t) };
  let converged = false;
  let it = 0;
  while (it < iterations) {
    throwIfAborted(opts.signal);
    const { inliers } = match(H);
    if (inliers < 3) break;
    let next: Similarity;
    try {
      next = umeyama(src, target, { weights, withScale: opts.withScale ?? true });
    } catch (e) {
      if (e instanceof HessError && e.code === 'INVALID_ARGUMENT') break;
      throw e;
    }
    it++;
    const change = transformChange(H, next, spread);
    H = next;
    if (change <= tol) {
      converged = true;
      break;
    }
  }
  const { inliers, sq } = match(H);
  return { transform: H, iterations: it, inliers, rmse: inliers ? Math.sqrt(sq / inliers) : NaN, converged };
}

/**
 * Whether `R` is a proper rotation (orthonormal within `tol`, det > 0).
 * @example isRotation(H.R); // true
 */
export function isRotation(R: Mat3 | ArrayLike<number>, tol = 1e-9): boolean {
  return orthonormalityError(R) <= tol && det3(R) > 0;
}
