import { describe, expect, it } from 'vitest';
import { det3, posesFromRaw, svd3, svdOrthogonalize, worldPoints } from '../../../src/model/pi3/camera-pose.js';
import { freshSeed, rng } from '../../helpers/random.js';

// float64 references independent of the code under test:
// - singular values: square roots of the eigenvalues of AᵀA from the closed-form (trigonometric) cubic;
// - the SO(3) projection: Davenport's q-method (the rotation maximising tr(Rᵀ·B) is the quaternion of the largest
//   eigenvalue of a 4×4 symmetric matrix), with that eigenvector from a classical Jacobi eigen-solver.

type M3 = Float64Array;
const mul = (A: ArrayLike<number>, B: ArrayLike<number>, tA = false, tB = false): M3 => {
  const at = (M: ArrayLike<number>, i: number, j: number, t: boolean) => (t ? M[j * 3 + i]! : M[i * 3 + j]!);
  const C = new Float64Array(9);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) C[i * 3 + j] += at(A, i, k, tA) * at(B, k, j, tB);
  return C;
};
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
const I3 = Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1);
const _transpose = (M: ArrayLike<number>) =>
  Float64Array.of(M[0]!, M[3]!, M[6]!, M[1]!, M[4]!, M[7]!, M[2]!, M[5]!, M[8]!);
const rowNormalize = (m: ArrayLike<number>): M3 => {
  const n = Float64Array.from(m);
  for (let r = 0; r < 3; r++) {
    const l = Math.max(Math.hypot(n[3 * r]!, n[3 * r + 1]!, n[3 * r + 2]!), 1e-12);
    for (let c = 0; c < 3; c++) n[3 * r + c]! /= l;
  }
  return n;
};

/** Eigenvalues of a symmetric 3×3 (descending), closed form. */
function symEig3(S: M3): number[] {
  const [a, b, c, d, e, f] = [S[0]!, S[4]!, S[8]!, S[1]!, S[5]!, S[2]!];
  const p1 = d * d + e * e + f * f;
  const q = (a + b + c) / 3;
  const p2 = (a - q) ** 2 + (b - q) ** 2 + (c - q) ** 2 + 2 * p1;
  const p = Math.sqrt(p2 / 6);
  if (p === 0) return [a, b, c].sort((x, y) => y - x);
  const B = Float64Array.from(S, (v, i) => (v - (i % 4 === 0 ? q : 0)) / p);
  const r = Math.min(1, Math.max(-1, det3(B) / 2));
  const phi = Math.acos(r) / 3;
  const l1 = q + 2 * p * Math.cos(phi);
  const l3 = q + 2 * p * Math.cos(phi + (2 * Math.PI) / 3);
  return [l1, 3 * q - l1 - l3, l3];
}

/** Rotation from a unit quaternion (w, x, y, z), written homogeneously (valid for any scale of q as q·qᵀ-quadratic). */
function quatHom(q: ArrayLike<number>): M3 {
  const [w, x, y, z] = [q[0]!, q[1]!, q[2]!, q[3]!];
  return Float64Array.of(
    w * w + x * x - y * y - z * z,
    2 * (x * y - w * z),
    2 * (x * z + w * y),
    2 * (x * y + w * z),
    w * w - x * x + y * y - z * z,
    2 * (y * z - w * x),
    2 * (x * z - w * y),
    2 * (y * z + w * x),
    w * w - x * x - y * y + z * z,
  );
}

/** argmax over SO(3) of tr(Rᵀ·B) (Davenport): K is the quadratic form q ↦ Σ R(q)_ij B_ij, by polarisation. */
function davenport(B: M3): { R: M3; gap: number } {
  const f = (q: number[]) => quatHom(q).reduce((s, v, i) => s + v * B[i]!, 0);
  const e = (i: number) => [0, 1, 2, 3].map((k) => (k === i ? 1 : 0));
  const K = new Float64Array(16);
  for (let a = 0; a < 4; a++) {
    for (let b = 0; b < 4; b++) {
      K[a * 4 + b] = a === b ? f(e(a)) : (f(e(a).map((v, k) => v + e(b)[k]!)) - f(e(a)) - f(e(b))) / 2;
    }
  }
  const { values, vectors } = jacobiEig4(K);
  const order = [0, 1, 2, 3].sort((x, y) => values[y]! - values[x]!);
  const top = order[0]!;
  const q = [0, 1, 2, 3].map((k) => vectors[k * 4 + top]!);
  return { R: quatHom(q), gap: values[top]! - values[order[1]!]! };
}

/** Classical (cyclic) Jacobi eigen-decomposition of a symmetric 4×4: values and column eigenvectors. */
function jacobiEig4(K0: Float64Array): { values: number[]; vectors: Float64Array } {
  const A = Float64Array.from(K0);
  const V = new Float64Array(16);
  for (let i = 0; i < 4; i++) V[i * 5] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < 4; p++) for (let q = p + 1; q < 4; q++) off += A[p * 4 + q]! ** 2;
    if (off < 1e-32) break;
    for (let p = 0; p < 4; p++) {
      for (let q = p + 1; q < 4; q++) {
        const apq = A[p * 4 + q]!;
        if (apq === 0) continue;
        const theta = (A[q * 4 + q]! - A[p * 4 + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < 4; k++) {
          // A ← A·J
          const akp = A[k * 4 + p]!;
          const akq = A[k * 4 + q]!;
          A[k * 4 + p] = c * akp - s * akq;
          A[k * 4 + q] = s * akp + c * akq;
        }
        for (let k = 0; k < 4; k++) {
          // A ← Jᵀ·A
          const apk = A[p * 4 + k]!;
          const aqk = A[q * 4 + k]!;
          A[p * 4 + k] = c * apk - s * aqk;
          A[q * 4 + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < 4; k++) {
          const vkp = V[k * 4 + p]!;
          const vkq = V[k * 4 + q]!;
          V[k * 4 + p] = c * vkp - s * vkq;
          V[k * 4 + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: [0, 1, 2, 3].map((i) => A[i * 5]!), vectors: V };
}

/** A random rotation (uniform quaternion). */
function randomRotation(r: () => number): M3 {
  const q = [0, 1, 2, 3].map(() => r() * 2 - 1);
  const n = Math.hypot(...q);
  return quatHom(q.map((v) => v / n));
}

/** U·diag(s)·Vᵀ with random rotations U, V. */
function withSingularValues(r: () => number, s: [number, number, number]): M3 {
  const U = randomRotation(r);
  const V = randomRotation(r);
  const US = Float64Array.from(U, (v, i) => v * s[i % 3]!);
  return mul(US, V, false, true);
}

function expectOrthogonal(M: M3, tol: number): void {
  expect(maxAbsDiff(mul(M, M, true, false), I3)).toBeLessThan(tol);
}

describe('π³ camera pose: 3×3 Jacobi SVD and SVD orthogonalisation (float64)', () => {
  it('svd3 decomposes fresh random, rank-deficient and near-degenerate matrices', () => {
    const r = rng(freshSeed('pi3 svd3'));
    const cases: [string, M3][] = [];
    for (let i = 0; i < 200; i++) cases.push(['random', Float64Array.from({ length: 9 }, () => r() * 2 - 1)]);
    for (let i = 0; i < 50; i++) {
      const a = 0.5 + r();
      cases.push(['rank 2', withSingularValues(r, [a + r(), a, 0])]);
      cases.push(['rank 1', withSingularValues(r, [a, 0, 0])]);
      cases.push(['s1 = s2', withSingularValues(r, [a, a, a * r()])]);
      cases.push(['s2 ≈ s3', withSingularValues(r, [a + 1, a, a * (1 - 1e-9)])]);
      cases.push(['all equal (scaled rotation)', withSingularValues(r, [a, a, a])]);
      cases.push(['tiny s3', withSingularValues(r, [a + 1, a, 1e-13])]);
      cases.push(['scale 1e-30', Float64Array.from({ length: 9 }, () => (r() * 2 - 1) * 1e-30)]);
    }
    cases.push(['zero', new Float64Array(9)]);
    for (const [what, A] of cases) {
      const { U, s, V } = svd3(A);
      const scale = Math.max(...Array.from(A, Math.abs), 1e-300);
      const USV = mul(
        Float64Array.from(U, (v, i) => v * s[i % 3]!),
        V,
        false,
        true,
      );
      expect(maxAbsDiff(USV, A) / scale, `${what}: U·S·Vᵀ = A`).toBeLessThan(1e-13);
      expectOrthogonal(U, 1e-13);
      expectOrthogonal(V, 1e-13);
      expect(s[0]! >= s[1]! && s[1]! >= s[2]! && s[2]! >= 0, `${what}: s descending`).toBe(true);
      // eigenvalues of AᵀA: the closed-form cubic loses up to √ε near a double root, so compare squares with a
      // bound on that scale (orthogonal U, V with U·S·Vᵀ = A above already pin the singular values exactly)
      const ref = symEig3(mul(A, A, true, false));
      for (let k = 0; k < 3; k++)
        expect(Math.abs(s[k]! ** 2 - ref[k]!) / Math.max(scale ** 2, Number.MIN_VALUE), `${what}: s${k}²`).toBeLessThan(
          1e-7,
        );
    }
  });

  it('svdOrthogonalize is the nearest rotation (Davenport reference), reflections included', () => {
    const r = rng(freshSeed('pi3 svd orthogonalize'));
    let worst = 0;
    const check = (what: string, m: M3) => {
      const R = svdOrthogonalize(m);
      expectOrthogonal(R, 1e-13);
      expect(Math.abs(det3(R) - 1), `${what}: det +1`).toBeLessThan(1e-13);
      const { R: ref, gap } = davenport(rowNormalize(m));
      // the reference is ill-posed when its top eigenvalue is (nearly) double; these cases are built not to be
      expect(gap, `${what}: well-posed`).toBeGreaterThan(1e-6);
      const err = maxAbsDiff(R, ref);
      worst = Math.max(worst, err);
      expect(err, `${what}: R vs Davenport`).toBeLessThan(1e-9 / Math.min(1, gap));
    };
    for (let i = 0; i < 200; i++) {
      const m = Float64Array.from({ length: 9 }, () => r() * 2 - 1);
      check(det3(m) < 0 ? 'random reflection' : 'random', m);
    }
    for (let i = 0; i < 50; i++) {
      const Q = randomRotation(r);
      check('rotation', Q);
      expect(maxAbsDiff(svdOrthogonalize(Q), Q)).toBeLessThan(1e-14); // a rotation is its own projection
      // a reflected rotation (s = 1, 1, 1, det −1) has no unique answer: see the next test
      check(
        'reflected noisy rotation',
        Float64Array.from(Q, (v, k) => (k >= 6 ? -v : v) + 0.05 * (r() * 2 - 1)),
      );
      check(
        'noisy rotation',
        Float64Array.from(Q, (v) => v + 0.05 * (r() * 2 - 1)),
      );
      check(
        'scaled rows',
        Float64Array.from(Q, (v, k) => v * [0.01, 7, 300][Math.floor(k / 3)]!),
      );
      const a = 0.5 + r();
      check('rank 2', withSingularValues(r, [a + r(), a, 0]));
      check('rank 2, reflection side', withSingularValues(r, [a + 1, a, 1e-12]).map((v, k) => (k < 3 ? -v : v)) as M3);
      check('s1 = s2', withSingularValues(r, [a, a, a * r()]));
      check(
        'reflection, s1 = s2 > s3',
        Float64Array.from(withSingularValues(r, [a, a, 0.3 * a]), (v, k) => (k >= 6 ? -v : v)),
      );
    }
    console.info(`[pi3 camera pose] svdOrthogonalize vs Davenport: max |ΔR| ${worst.toExponential(2)}`);
  });

  it('a reflection with s2 = s3 has no unique answer: still a rotation, and as close as the reference', () => {
    const r = rng(freshSeed('pi3 svd degenerate'));
    for (let i = 0; i < 60; i++) {
      const a = 0.3 + r();
      const m = i % 2 ? withSingularValues(r, [a + 1, a, a]) : randomRotation(r); // s2 = s3, or all equal
      const reflected = Float64Array.from(m, (v, k) => (k >= 6 ? -v : v));
      const R = svdOrthogonalize(reflected);
      expectOrthogonal(R, 1e-12);
      expect(Math.abs(det3(R) - 1)).toBeLessThan(1e-12);
      const n = rowNormalize(reflected);
      const score = (X: M3) => X.reduce((s, v, k) => s + v * n[k]!, 0);
      expect(score(R)).toBeGreaterThan(score(davenport(n).R) - 1e-9);
    }
  });

  it('posesFromRaw builds [R | t; 0 0 0 1] and worldPoints applies it', () => {
    const r = rng(freshSeed('pi3 poses'));
    const S = 4;
    const N = 7;
    const raw = Float64Array.from({ length: S * 12 }, () => r() * 2 - 1);
    const poses = posesFromRaw(raw, S);
    const local = Float32Array.from({ length: S * N * 3 }, () => r() * 4 - 2);
    const world = worldPoints(local, poses, S);
    for (let s = 0; s < S; s++) {
      const P = poses.subarray(s * 16, s * 16 + 16);
      const R = svdOrthogonalize(raw.subarray(s * 12 + 3, s * 12 + 12));
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) expect(P[i * 4 + j]).toBe(R[i * 3 + j]);
        expect(P[i * 4 + 3]).toBe(raw[s * 12 + i]);
        expect(P[12 + i]).toBe(0);
      }
      expect(P[15]).toBe(1);
      for (let n = 0; n < N; n++) {
        const o = (s * N + n) * 3;
        for (let i = 0; i < 3; i++) {
          const want =
            P[i * 4]! * local[o]! + P[i * 4 + 1]! * local[o + 1]! + P[i * 4 + 2]! * local[o + 2]! + P[i * 4 + 3]!;
          expect(Math.abs(world[o + i]! - want)).toBeLessThanOrEqual(Math.abs(want) * 1e-7 + 1e-12);
        }
      }
    }
    expect(() => posesFromRaw(raw, S + 1)).toThrow(/expected/);
  });
});
