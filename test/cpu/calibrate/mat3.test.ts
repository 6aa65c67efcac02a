import { describe, expect, it } from 'vitest';
import {
  axisAngleToMatrix,
  det3,
  eigSym3,
  mul3,
  orthonormalityError,
  rotationAngle,
  svd3,
  transpose3,
} from '../../../src/calibrate/geometry/mat3.js';
import { gaussian, maxAbsDiff, randomRotation, rng } from './rng.js';

function diag(d: ArrayLike<number>): Float64Array {
  return Float64Array.of(d[0], 0, 0, 0, d[1], 0, 0, 0, d[2]);
}
function frob(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < 9; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}
function checkSvd(a: Float64Array): void {
  const { U, S, V } = svd3(a);
  expect(orthonormalityError(U)).toBeLessThan(1e-14);
  expect(orthonormalityError(V)).toBeLessThan(1e-14);
  expect(S[0]).toBeGreaterThanOrEqual(S[1]);
  expect(S[1]).toBeGreaterThanOrEqual(S[2]);
  expect(S[2]).toBeGreaterThanOrEqual(0);
  const rec = mul3(mul3(U, diag(S)), transpose3(V));
  expect(maxAbsDiff(rec, a)).toBeLessThanOrEqual(1e-14 * Math.max(frob(a), Number.MIN_VALUE));
}

describe('eigSym3 (Jacobi)', () => {
  it('decomposes random symmetric matrices', () => {
    const r = rng(1);
    const g = gaussian(r);
    for (let trial = 0; trial < 300; trial++) {
      const m = Float64Array.from({ length: 9 }, g);
      const a = Float64Array.from(m);
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) a[3 * i + j] = m[3 * i + j] + m[3 * j + i];
      const { values, vectors } = eigSym3(a);
      expect(values[0]).toBeGreaterThanOrEqual(values[1]);
      expect(values[1]).toBeGreaterThanOrEqual(values[2]);
      expect(orthonormalityError(vectors)).toBeLessThan(1e-14);
      expect(det3(vectors)).toBeGreaterThan(0);
      const rec = mul3(mul3(vectors, diag(values)), transpose3(vectors));
      expect(maxAbsDiff(rec, a)).toBeLessThan(1e-14 * frob(a));
      // trace is preserved
      expect(values[0] + values[1] + values[2]).toBeCloseTo(a[0] + a[4] + a[8], 12);
    }
  });

  it('recovers planted spectra, including repeated eigenvalues', () => {
    const r = rng(2);
    for (let trial = 0; trial < 100; trial++) {
      const Q = randomRotation(r);
      const lam = [r() * 4 - 2, r() * 4 - 2, r() * 4 - 2];
      if (trial % 3 === 0) lam[1] = lam[0];
      if (trial % 5 === 0) lam[2] = lam[0] = lam[1];
      const a = mul3(mul3(Q, diag(lam)), transpose3(Q));
      const { values } = eigSym3(a);
      const sorted = [...lam].sort((x, y) => y - x);
      expect(maxAbsDiff(values, sorted)).toBeLessThan(1e-14 * 8);
    }
  });

  it('is accurate at extreme scales', () => {
    const r = rng(7);
    for (const scale of [1e-150, 1e-30, 1e30, 1e150]) {
      const Q = randomRotation(r);
      const lam = [3 * scale, -scale, 0.5 * scale];
      const { values } = eigSym3(mul3(mul3(Q, diag(lam)), transpose3(Q)));
      expect(maxAbsDiff(values, [3 * scale, 0.5 * scale, -scale])).toBeLessThan(1e-14 * scale * 8);
    }
  });

  it('rejects non-finite input', () => {
    expect(() => eigSym3([NaN, 0, 0, 0, 1, 0, 0, 0, 1])).toThrow(/non-finite/);
  });
});

describe('svd3 (one-sided Jacobi)', () => {
  it('decomposes random matrices of any scale', () => {
    const r = rng(3);
    const g = gaussian(r);
    for (let trial = 0; trial < 300; trial++) {
      const scale = 10 ** (Math.floor(r() * 200) - 100);
      checkSvd(Float64Array.from({ length: 9 }, () => g() * scale));
    }
  });

  it('handles rank-deficient, repeated and zero matrices', () => {
    const r = rng(4);
    const cases: number[][] = [
      [1, 1, 0],
      [1, 0, 0],
      [0, 0, 0],
      [2, 2, 2],
      [3, 1e-9, 1e-9],
      [5, 3, 1e-17],
    ];
    for (const s of cases) {
      for (let trial = 0; trial < 30; trial++) {
        const a = mul3(mul3(randomRotation(r), diag(s)), transpose3(randomRotation(r)));
        checkSvd(a);
        const { S } = svd3(a);
        expect(maxAbsDiff(S, s)).toBeLessThan(1e-14 * Math.max(1, s[0]) * 8);
      }
    }
  });

  it('reflections give det(U)·det(V) = −1', () => {
    const r = rng(5);
    for (let trial = 0; trial < 50; trial++) {
      const a = mul3(mul3(randomRotation(r), diag([3, 2, -1])), transpose3(randomRotation(r)));
      const { U, S, V } = svd3(a);
      expect(det3(U) * det3(V)).toBeCloseTo(-1, 12);
      expect(maxAbsDiff(S, [3, 2, 1])).toBeLessThan(1e-13);
    }
  });
});

describe('rotations', () => {
  it('axisAngleToMatrix and rotationAngle agree, including near 0 and π', () => {
    const r = rng(6);
    for (let trial = 0; trial < 200; trial++) {
      const axis = [r() - 0.5, r() - 0.5, r() - 0.5];
      const angle = trial % 4 === 0 ? r() * 1e-7 : trial % 4 === 1 ? Math.PI - r() * 1e-7 : r() * Math.PI;
      const R = axisAngleToMatrix(axis, angle);
      expect(orthonormalityError(R)).toBeLessThan(1e-15 * 8);
      expect(det3(R)).toBeCloseTo(1, 14);
      expect(Math.abs(rotationAngle(R) - angle)).toBeLessThan(1e-7 * (angle > 3 ? 10 : 1e-6) + 1e-14);
    }
  });
});
