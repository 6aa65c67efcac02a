/**
 * The host half of π³'s camera head, in float64: the 3×3 SVD (one-sided Jacobi), the reference's SVD
 * orthogonalisation of the 9-number rotation (`CameraHead.svd_orthogonalize`), the 4×4 camera-to-world pose and
 * world points = pose · local points. Per frame this is a few hundred flops, so it stays off the GPU.
 */
import { check } from '../../errors.js';

/** A 3×3 SVD `A = U·diag(s)·Vᵀ`: `s` descending and ≥ 0, `U`, `V` orthogonal (row-major 3×3; det may be −1). */
export interface Svd3 {
  readonly U: Float64Array;
  readonly s: Float64Array;
  readonly V: Float64Array;
}

const SWEEPS = 30;

/**
 * SVD of a 3×3 matrix (row-major) by one-sided Jacobi (Hestenes): plane rotations applied to the columns of
 * `W = A·V` until they are pairwise orthogonal; then `s_i = |w_i|`, `u_i = w_i / s_i`. Columns of `U` for zero
 * singular values are completed to an orthonormal basis (any completion: the decomposition holds either way).
 *
 * @example
 * const { U, s, V } = svd3(Float64Array.of(1, 2, 3, 4, 5, 6, 7, 8, 10));
 */
export function svd3(A: ArrayLike<number>): Svd3 {
  check(A.length === 9, `svd3 needs 9 values (a 3×3 matrix), got ${A.length}`);
  const W = Float64Array.from(A);
  const V = Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1);
  const col = (M: Float64Array, p: number, q: number): number =>
    M[p] * M[q] + M[p + 3] * M[q + 3] + M[p + 6] * M[q + 6];
  const rotate = (M: Float64Array, p: number, q: number, c: number, s: number): void => {
    for (let r = 0; r < 9; r += 3) {
      const a = M[r + p];
      const b = M[r + q];
      M[r + p] = c * a - s * b;
      M[r + q] = s * a + c * b;
    }
  };
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    let rotated = false;
    for (const [p, q] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ] as const) {
      const alpha = col(W, p, p);
      const beta = col(W, q, q);
      const gamma = col(W, p, q);
      // Stop rotating a pair once its columns are orthogonal to working precision (also covers zero columns).
      if (gamma === 0 || Math.abs(gamma) <= 1e-17 * Math.sqrt(alpha * beta)) continue;
      rotated = true;
      const zeta = (beta - alpha) / (2 * gamma);
      const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
      const c = 1 / Math.sqrt(1 + t * t);
      const s = c * t;
      rotate(W, p, q, c, s);
      rotate(V, p, q, c, s);
    }
    if (!rotated) break;
  }
  const norms = [0, 1, 2].map((i) => Math.sqrt(col(W, i, i)));
  const order = [0, 1, 2].sort((a, b) => norms[b]! - norms[a]!);
  const U = new Float64Array(9);
  const Vs = new Float64Array(9);
  const s = new Float64Array(3);
  const scale = Math.max(norms[order[0]!]!, Number.MIN_VALUE);
  let rank = 0;
  for (let j = 0; j < 3; j++) {
    const i = order[j]!;
    s[j] = norms[i]!;
    for (let r = 0; r < 3; r++) Vs[r * 3 + j] = V[r * 3 + i]!;
    // A column this small relative to the largest is noise: treat it as a zero singular value.
    if (norms[i]! > scale * 1e-15 && norms[i]! > 0) {
      for (let r = 0; r < 3; r++) U[r * 3 + j] = W[r * 3 + i]! / norms[i]!;
      rank = j + 1;
    }
  }
  completeBasis(U, rank);
  return { U, s, V: Vs };
}

/** Fill columns `[rank, 3)` of the row-major 3×3 `M` so that its columns are orthonormal (first `rank` given). */
function completeBasis(M: Float64Array, rank: number): void {
  const get = (j: number) => [M[j]!, M[3 + j]!, M[6 + j]!];
  const set = (j: number, v: number[]) => {
    for (let r = 0; r < 3; r++) M[r * 3 + j] = v[r]!;
  };
  const unit = (v: number[]) => {
    const n = Math.hypot(v[0]!, v[1]!, v[2]!);
    return v.map((x) => x / n);
  };
  const cross = (a: number[], b: number[]) => [
    a[1]! * b[2]! - a[2]! * b[1]!,
    a[2]! * b[0]! - a[0]! * b[2]!,
    a[0]! * b[1]! - a[1]! * b[0]!,
  ];
  if (rank === 0) set(0, [1, 0, 0]);
  if (rank <= 1) {
    // any unit vector orthogonal to column 0: cross it with the axis it is least aligned with
    const a = get(0);
    const k = [0, 1, 2].reduce((m, i) => (Math.abs(a[i]!) < Math.abs(a[m]!) ? i : m), 0);
    const e = [0, 0, 0];
    e[k] = 1;
    set(1, unit(cross(a, e)));
  }
  if (rank <= 2) set(2, unit(cross(get(0), get(1))));
}

/** det of a row-major 3×3. */
export function det3(M: ArrayLike<number>): number {
  return M[0] * (M[4] * M[8] - M[5] * M[7]) - M[1] * (M[3] * M[8] - M[5] * M[6]) + M[2] * (M[3] * M[7] - M[4] * M[6]);
}

/**
 * The reference's `svd_orthogonalize` for one 9-number rotation `m` (row-major 3×3): each row L2-normalised
 * (`F.normalize(m, dim=-1)`, eps 1e-12), then with `mᵀ = U·S·Vᵀ` (`torch.svd`, singular values descending)
 * `R = V·diag(1, 1, det(V·Uᵀ))·Uᵀ`: the rotation (det +1) nearest to the normalised `m`, the sign of the
 * smallest singular direction flipped when `m` is a reflection. Row-major 3×3, float64.
 *
 * @example
 * const R = svdOrthogonalize(Float64Array.of(1, 0.1, 0, 0, 1, 0, 0, 0, -1)); // det(R) = +1
 */
export function svdOrthogonalize(m: ArrayLike<number>): Float64Array {
  check(m.length === 9, `a rotation needs 9 values, got ${m.length}`);
  const n = new Float64Array(9);
  for (let r = 0; r < 3; r++) {
    const len = Math.max(Math.hypot(m[3 * r], m[3 * r + 1], m[3 * r + 2]), 1e-12);
    for (let c = 0; c < 3; c++) n[3 * r + c] = m[3 * r + c] / len;
  }
  const nt = Float64Array.of(n[0]!, n[3]!, n[6]!, n[1]!, n[4]!, n[7]!, n[2]!, n[5]!, n[8]!);
  const { U, V } = svd3(nt);
  // R = Σ_k d_k · v_k u_kᵀ with d = (1, 1, det(V·Uᵀ)) = (1, 1, det V · det U)
  const d = [1, 1, det3(V) * det3(U) < 0 ? -1 : 1];
  const R = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let acc = 0;
      for (let k = 0; k < 3; k++) acc += d[k]! * V[i * 3 + k]! * U[j * 3 + k]!;
      R[i * 3 + j] = acc;
    }
  }
  return R;
}

/**
 * Camera-to-world poses `[S, 4, 4]` from the camera head's raw outputs `[S, 12]` (per frame: translation
 * `fc_t` (3), then the 9-number rotation `fc_rot`), as `convert_pose_to_4x4` builds them.
 *
 * @example
 * const poses = posesFromRaw(raw, S); // Float64Array(S·16)
 */
export function posesFromRaw(raw: ArrayLike<number>, S: number): Float64Array {
  check(raw.length === S * 12, `camera head output has ${raw.length} values, expected ${S}·12`);
  const out = new Float64Array(S * 16);
  for (let s = 0; s < S; s++) {
    const o = s * 12;
    const R = svdOrthogonalize(Array.from({ length: 9 }, (_, k) => raw[o + 3 + k]!));
    const P = s * 16;
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) out[P + i * 4 + j] = R[i * 3 + j]!;
      out[P + i * 4 + 3] = raw[o + i]!;
    }
    out[P + 15] = 1;
  }
  return out;
}

/**
 * World points `[S, N, 3]` = `pose[s] · (local, 1)` for local points `[S, N, 3]` and poses `[S, 4, 4]` (float64
 * arithmetic, float32 result: the reference's einsum over the homogenised points).
 */
export function worldPoints(local: Float32Array, poses: ArrayLike<number>, S: number): Float32Array {
  const N = local.length / (3 * S);
  check(Number.isInteger(N) && poses.length === S * 16, 'local points must be [S, N, 3] and poses [S, 4, 4]');
  const out = new Float32Array(local.length);
  for (let s = 0; s < S; s++) {
    const P = s * 16;
    const [r00, r01, r02, t0, r10, r11, r12, t1, r20, r21, r22, t2] = Array.from(
      { length: 12 },
      (_, k) => poses[P + k]!,
    );
    for (let i = s * N * 3, end = (s + 1) * N * 3; i < end; i += 3) {
      const x = local[i]!;
      const y = local[i + 1]!;
      const z = local[i + 2]!;
      out[i] = r00! * x + r01! * y + r02! * z + t0!;
      out[i + 1] = r10! * x + r11! * y + r12! * z + t1!;
      out[i + 2] = r20! * x + r21! * y + r22! * z + t2!;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Reverse mode (for HeSS calibration on π³: the camera and point errors reach the network through these maps).

/**
 * Vector–Jacobian product of {@link svdOrthogonalize}: given `g = ∂L/∂R` (row-major 3×3), returns `∂L/∂m`.
 *
 * With the normalised `A = Q·diag(λ)·Qᵀ`-form of `K = Rᵀ·A` (symmetric at the optimum; `λ = (s1, s2, d·s3)`,
 * the eigenbasis `Q` is the SVD's right factor), a perturbation gives `dR = R·Ω` with `Ω` skew and
 * `Ω·K + K·Ω = Rᵀ·dA − dAᵀ·R`. Solving that Sylvester equation in `Q`'s basis yields
 * `∂L/∂A = R·Q·[(Ỹ − Ỹᵀ) ⊘ (λ_i + λ_j)]·Qᵀ` with `Ỹ = Qᵀ·Rᵀ·g·Q`; then the row normalisation's chain rule
 * `∂L/∂m_r = (g_r − n_r·(n_r·g_r)) / |m_r|`. Undefined where `λ_i + λ_j = 0` (the projection is not unique
 * there): such pairs get a zero gradient.
 */
export function svdOrthogonalizeVjp(m: ArrayLike<number>, g: ArrayLike<number>): Float64Array {
  check(m.length === 9 && g.length === 9, 'svdOrthogonalizeVjp needs a 3×3 matrix and a 3×3 gradient');
  const n = new Float64Array(9);
  const len = [0, 0, 0];
  for (let r = 0; r < 3; r++) {
    len[r] = Math.max(Math.hypot(m[3 * r], m[3 * r + 1], m[3 * r + 2]), 1e-12);
    for (let c = 0; c < 3; c++) n[3 * r + c] = m[3 * r + c] / len[r]!;
  }
  // n = (nᵀ)ᵀ: with nᵀ = U·S·Vᵀ, n = V·S·Uᵀ, R = V·D·Uᵀ and K = Rᵀ·n = U·(D·S)·Uᵀ: Q = U, λ = D·s
  const nt = Float64Array.of(n[0]!, n[3]!, n[6]!, n[1]!, n[4]!, n[7]!, n[2]!, n[5]!, n[8]!);
  const { U, s, V } = svd3(nt);
  const d = det3(V) * det3(U) < 0 ? -1 : 1;
  const lambda = [s[0]!, s[1]!, d * s[2]!];
  const R = svdOrthogonalize(m);
  const mm = (A: ArrayLike<number>, B: ArrayLike<number>, tA: boolean, tB: boolean): Float64Array => {
    const C = new Float64Array(9);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let acc = 0;
        for (let k = 0; k < 3; k++) acc += (tA ? A[k * 3 + i]! : A[i * 3 + k]!) * (tB ? B[j * 3 + k]! : B[k * 3 + j]!);
        C[i * 3 + j] = acc;
      }
    }
    return C;
  };
  const Yt = mm(mm(U, mm(R, g, true, false), true, false), U, false, false); // Uᵀ·Rᵀ·g·U
  const Z = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const den = lambda[i]! + lambda[j]!;
      Z[i * 3 + j] = i === j || den === 0 ? 0 : (Yt[i * 3 + j]! - Yt[j * 3 + i]!) / den;
    }
  }
  const gA = mm(R, mm(mm(U, Z, false, false), U, false, true), false, false);
  const gm = new Float64Array(9);
  for (let r = 0; r < 3; r++) {
    let dot = 0;
    for (let c = 0; c < 3; c++) dot += n[3 * r + c]! * gA[3 * r + c]!;
    // below the 1e-12 clamp the reference divides by a constant: plain scaling, no projection
    const clamped = Math.hypot(m[3 * r], m[3 * r + 1], m[3 * r + 2]) <= 1e-12;
    for (let c = 0; c < 3; c++) gm[3 * r + c] = (gA[3 * r + c]! - (clamped ? 0 : n[3 * r + c]! * dot)) / len[r]!;
  }
  return gm;
}

/**
 * Vector–Jacobian product of {@link posesFromRaw}: `∂L/∂raw` `[S, 12]` from `∂L/∂poses` `[S, 4, 4]` (the constant
 * last row gets no gradient).
 */
export function posesFromRawVjp(raw: ArrayLike<number>, S: number, gPoses: ArrayLike<number>): Float64Array {
  check(raw.length === S * 12 && gPoses.length === S * 16, `expected raw [${S}, 12] and a pose gradient [${S}, 4, 4]`);
  const out = new Float64Array(S * 12);
  for (let s = 0; s < S; s++) {
    const gR = Array.from({ length: 9 }, (_, k) => gPoses[s * 16 + Math.floor(k / 3) * 4 + (k % 3)]!);
    const gm = svdOrthogonalizeVjp(
      Array.from({ length: 9 }, (_, k) => raw[s * 12 + 3 + k]!),
      gR,
    );
    for (let i = 0; i < 3; i++) out[s * 12 + i] = gPoses[s * 16 + i * 4 + 3]!;
    out.set(gm, s * 12 + 3);
  }
  return out;
}

/**
 * Vector–Jacobian product of {@link worldPoints} (float64): from `∂L/∂points` `[S, N, 3]`, `∂L/∂local` `[S, N, 3]`
 * (`Rᵀ·g` per point) and `∂L/∂poses` `[S, 4, 4]` (`Σ g·localᵀ` into R, `Σ g` into t; last row zero).
 */
export function worldPointsVjp(
  local: ArrayLike<number>,
  poses: ArrayLike<number>,
  S: number,
  gPoints: ArrayLike<number>,
): { gLocal: Float64Array; gPoses: Float64Array } {
  const N = local.length / (3 * S);
  check(
    Number.isInteger(N) && poses.length === S * 16 && gPoints.length === local.length,
    'local points and their gradient must be [S, N, 3] and poses [S, 4, 4]',
  );
  const gLocal = new Float64Array(local.length);
  const gPoses = new Float64Array(S * 16);
  for (let s = 0; s < S; s++) {
    const P = s * 16;
    for (let i = s * N * 3, end = (s + 1) * N * 3; i < end; i += 3) {
      for (let r = 0; r < 3; r++) {
        const gr = gPoints[i + r]!;
        if (gr === 0) continue;
        for (let c = 0; c < 3; c++) {
          gLocal[i + c] += poses[P + r * 4 + c]! * gr;
          gPoses[P + r * 4 + c] += gr * local[i + c]!;
        }
        gPoses[P + r * 4 + 3] += gr;
      }
    }
  }
  return { gLocal, gPoses };
}
