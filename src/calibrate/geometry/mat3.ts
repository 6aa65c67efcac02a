/**
 * Small float64 3×3 linear algebra used by the calibration geometry: products, determinants, and robust
 * Jacobi-based symmetric eigen-decomposition and SVD. Matrices are row-major `Float64Array(9)`
 * (`m[3 * row + col]`); point sets are flat `xyz xyz …` arrays.
 */
import { HessError } from '../../errors.js';

/** Row-major 3×3 matrix, `m[3 * row + col]`. */
export type Mat3 = Float64Array;

/** A flat list of 3D points `[x0, y0, z0, x1, y1, z1, …]` (any numeric array type). */
export type Points3 = ArrayLike<number>;

const EPS = Number.EPSILON;

/** Number of points in a flat xyz array; throws SHAPE_MISMATCH if the length is not a multiple of 3. */
export function pointCount(points: Points3, name = 'points'): number {
  if (points.length % 3 !== 0) {
    throw new HessError('SHAPE_MISMATCH', `${name} has length ${points.length}, not a multiple of 3 (flat xyz)`);
  }
  return points.length / 3;
}

/** Throw INVALID_ARGUMENT if any coordinate is NaN or ±Infinity. */
export function assertFinite(values: ArrayLike<number>, name = 'points'): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new HessError('INVALID_ARGUMENT', `${name}[${i}] is ${values[i]}; every coordinate must be finite`);
    }
  }
}

/**
 * The 3×3 identity.
 * @example const I = identity3(); // Float64Array [1,0,0, 0,1,0, 0,0,1]
 */
export function identity3(): Mat3 {
  return Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1);
}

/**
 * Matrix product `a · b`.
 * @example const ab = mul3(a, b);
 */
export function mul3(a: ArrayLike<number>, b: ArrayLike<number>, out: Mat3 = new Float64Array(9)): Mat3 {
  const r = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      r[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
    }
  }
  out.set(r);
  return out;
}

/**
 * Transpose.
 * @example const rt = transpose3(r);
 */
export function transpose3(a: ArrayLike<number>, out: Mat3 = new Float64Array(9)): Mat3 {
  const r = Float64Array.of(a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8]);
  out.set(r);
  return out;
}

/**
 * Determinant.
 * @example det3(identity3()); // 1
 */
export function det3(m: ArrayLike<number>): number {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
}

/**
 * Largest absolute entry of `RᵀR − I` (0 for an exactly orthogonal matrix).
 * @example orthonormalityError(identity3()); // 0
 */
export function orthonormalityError(r: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const d = r[i] * r[j] + r[3 + i] * r[3 + j] + r[6 + i] * r[6 + j] - (i === j ? 1 : 0);
      worst = Math.max(worst, Math.abs(d));
    }
  }
  return worst;
}

/**
 * Geodesic angle of a rotation matrix in radians, in [0, π]. Uses `atan2(‖axis‖, cos)`, which stays accurate
 * near 0 and π (unlike `acos((tr − 1) / 2)`).
 * @example rotationAngle(identity3()); // 0
 */
export function rotationAngle(r: ArrayLike<number>): number {
  const c = (r[0] + r[4] + r[8] - 1) / 2;
  const x = r[7] - r[5];
  const y = r[2] - r[6];
  const z = r[3] - r[1];
  const s = Math.hypot(x, y, z) / 2;
  return Math.atan2(s, c);
}

/**
 * Rotation matrix for `angle` radians about `axis` (normalised internally; Rodrigues' formula).
 * @example const rz90 = axisAngleToMatrix([0, 0, 1], Math.PI / 2);
 */
export function axisAngleToMatrix(axis: ArrayLike<number>, angle: number): Mat3 {
  const n = Math.hypot(axis[0], axis[1], axis[2]);
  if (!(n > 0)) throw new HessError('INVALID_ARGUMENT', 'rotation axis must be a non-zero finite vector');
  const x = axis[0] / n;
  const y = axis[1] / n;
  const z = axis[2] / n;
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const C = 1 - c;
  return Float64Array.of(
    c + x * x * C,
    x * y * C - z * s,
    x * z * C + y * s,
    y * x * C + z * s,
    c + y * y * C,
    y * z * C - x * s,
    z * x * C - y * s,
    z * y * C + x * s,
    c + z * z * C,
  );
}

/** Result of {@link eigSym3}: `A = V · diag(values) · Vᵀ`. */
export interface SymEigen3 {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** Row-major matrix whose columns are the unit eigenvectors (a proper rotation, det +1). */
  vectors: Mat3;
}

/** Tangent of the Jacobi rotation that zeroes the (p,q) coupling; `theta = (a_qq − a_pp) / (2 a_pq)`. */
function jacobiTangent(theta: number): number {
  if (Math.abs(theta) > 1e150) return 1 / (2 * theta);
  const sign = theta < 0 ? -1 : 1;
  return sign / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
}

/**
 * Copy of `m` scaled by an exact power of two so that its largest entry is about 1 (keeps squared sums clear of
 * overflow and underflow), and that power of two. Throws on non-finite entries.
 */
function prescale(m: ArrayLike<number>, what: string): { a: Float64Array; scale: number } {
  let big = 0;
  for (let i = 0; i < 9; i++) {
    if (!Number.isFinite(m[i])) throw new HessError('INVALID_ARGUMENT', `${what}: matrix has a non-finite entry`);
    big = Math.max(big, Math.abs(m[i]));
  }
  const scale = big > 0 ? 2 ** Math.round(Math.log2(big)) : 1;
  return { a: Float64Array.from({ length: 9 }, (_, i) => m[i] / scale), scale };
}

const PAIRS: ReadonlyArray<readonly [number, number]> = [
  [0, 1],
  [0, 2],
  [1, 2],
];

/**
 * Eigen-decomposition of a symmetric 3×3 matrix by cyclic Jacobi rotations (only the upper triangle is read).
 * Accurate to a few ulps of ‖A‖ for any input, including repeated eigenvalues.
 *
 * @example
 * const { values, vectors } = eigSym3([2, 1, 0, 1, 2, 0, 0, 0, 5]); // values: [5, 3, 1]
 */
export function eigSym3(m: ArrayLike<number>): SymEigen3 {
  const sym = [m[0], m[1], m[2], m[1], m[4], m[5], m[2], m[5], m[8]];
  const { a, scale } = prescale(sym, 'eigSym3');
  const v = identity3();
  for (let sweep = 0; sweep < 64; sweep++) {
    const off = a[1] * a[1] + a[2] * a[2] + a[5] * a[5];
    const diag = a[0] * a[0] + a[4] * a[4] + a[8] * a[8];
    if (off === 0 || off <= EPS * EPS * 1e-4 * diag) break;
    for (const [p, q] of PAIRS) {
      const apq = a[3 * p + q];
      if (apq === 0) continue;
      const t = jacobiTangent((a[3 * q + q] - a[3 * p + p]) / (2 * apq));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      // A ← Jᵀ A J with J = [[c, s], [−s, c]] in the (p, q) plane; V ← V J.
      for (let k = 0; k < 3; k++) {
        const akp = a[3 * k + p];
        const akq = a[3 * k + q];
        a[3 * k + p] = c * akp - s * akq;
        a[3 * k + q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const apk = a[3 * p + k];
        const aqk = a[3 * q + k];
        a[3 * p + k] = c * apk - s * aqk;
        a[3 * q + k] = s * apk + c * aqk;
      }
      a[3 * p + q] = 0;
      a[3 * q + p] = 0;
      for (let k = 0; k < 3; k++) {
        const vkp = v[3 * k + p];
        const vkq = v[3 * k + q];
        v[3 * k + p] = c * vkp - s * vkq;
        v[3 * k + q] = s * vkp + c * vkq;
      }
    }
  }
  const order = [0, 1, 2].sort((i, j) => a[4 * j] - a[4 * i]);
  const values = Float64Array.from(order, (i) => a[4 * i] * scale);
  const vectors = new Float64Array(9);
  for (let c = 0; c < 3; c++) {
    for (let r = 0; r < 3; r++) vectors[3 * r + c] = v[3 * r + order[c]];
  }
  if (det3(vectors) < 0) for (let r = 0; r < 3; r++) vectors[3 * r + 2] = -vectors[3 * r + 2];
  return { values, vectors };
}

/** Result of {@link svd3}: `A = U · diag(S) · Vᵀ`. */
export interface Svd3 {
  /** Orthogonal (det ±1), row-major. */
  U: Mat3;
  /** Singular values, descending, ≥ 0. */
  S: Float64Array;
  /** Orthogonal (det ±1), row-major. */
  V: Mat3;
}

function cross(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.of(a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]);
}

/** Some unit vector orthogonal to the unit vector `u`. */
function anyPerpendicular(u: ArrayLike<number>): Float64Array {
  const ax = Math.abs(u[0]);
  const ay = Math.abs(u[1]);
  const az = Math.abs(u[2]);
  const e = ax <= ay && ax <= az ? [1, 0, 0] : ay <= az ? [0, 1, 0] : [0, 0, 1];
  const p = cross(u, e);
  const n = Math.hypot(p[0], p[1], p[2]);
  return p.map((x) => x / n);
}

/**
 * Singular value decomposition of a 3×3 matrix by one-sided (Hestenes) Jacobi rotations, which orthogonalise
 * the columns of `A·V` directly and so keep full relative accuracy (no `AᵀA` squaring). `U` is always exactly
 * orthogonal: its second and third columns are completed by Gram–Schmidt and a cross product when `A` is
 * rank-deficient.
 *
 * @example
 * const { U, S, V } = svd3(m); // m ≈ U · diag(S) · Vᵀ
 */
export function svd3(m: ArrayLike<number>): Svd3 {
  const { a: b, scale } = prescale(m, 'svd3');
  const v = identity3();
  for (let sweep = 0; sweep < 64; sweep++) {
    let rotated = false;
    for (const [p, q] of PAIRS) {
      let alpha = 0;
      let beta = 0;
      let gamma = 0;
      for (let k = 0; k < 3; k++) {
        const bp = b[3 * k + p];
        const bq = b[3 * k + q];
        alpha += bp * bp;
        beta += bq * bq;
        gamma += bp * bq;
      }
      if (gamma === 0 || Math.abs(gamma) <= EPS * Math.sqrt(alpha * beta)) continue;
      rotated = true;
      const t = jacobiTangent((beta - alpha) / (2 * gamma));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < 3; k++) {
        const bp = b[3 * k + p];
        const bq = b[3 * k + q];
        b[3 * k + p] = c * bp - s * bq;
        b[3 * k + q] = s * bp + c * bq;
        const vp = v[3 * k + p];
        const vq = v[3 * k + q];
        v[3 * k + p] = c * vp - s * vq;
        v[3 * k + q] = s * vp + c * vq;
      }
    }
    if (!rotated) break;
  }
  const norms = [0, 1, 2].map((c) => Math.hypot(b[c], b[3 + c], b[6 + c]));
  const order = [0, 1, 2].sort((i, j) => norms[j] - norms[i]);
  const S = Float64Array.from(order, (i) => norms[i]);
  // S stays in the prescaled units until U is built, then is scaled back.
  const V = new Float64Array(9);
  const col = (c: number) => Float64Array.of(b[order[c]], b[3 + order[c]], b[6 + order[c]]);
  for (let c = 0; c < 3; c++) {
    for (let r = 0; r < 3; r++) V[3 * r + c] = v[3 * r + order[c]];
  }

  const tol = 8 * EPS * S[0];
  let u0: Float64Array;
  let u1: Float64Array;
  if (S[0] === 0) {
    u0 = Float64Array.of(1, 0, 0);
    u1 = Float64Array.of(0, 1, 0);
  } else {
    u0 = col(0).map((x) => x / S[0]);
    const b1 = col(1);
    const d = u0[0] * b1[0] + u0[1] * b1[1] + u0[2] * b1[2];
    const w = b1.map((x, i) => x - d * u0[i]);
    const wn = Math.hypot(w[0], w[1], w[2]);
    u1 = S[1] > tol && wn > 0 ? w.map((x) => x / wn) : anyPerpendicular(u0);
  }
  let u2 = cross(u0, u1);
  const b2 = col(2);
  if (S[2] > tol && u2[0] * b2[0] + u2[1] * b2[1] + u2[2] * b2[2] < 0) u2 = u2.map((x) => -x);
  const U = Float64Array.of(u0[0], u1[0], u2[0], u0[1], u1[1], u2[1], u0[2], u1[2], u2[2]);
  for (let i = 0; i < 3; i++) S[i] *= scale;
  return { U, S, V };
}
