import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { attentionShaderSource } from '../../../src/attention/kernel.js';
import { f16BitsToF32, f32ToF16Bits, fromF16, toF16 } from '../../../src/attention/f16.js';
import {
  type AttentionShape,
  denseLayout,
  layoutFromPredicate,
  layoutRow,
  validateLayout,
} from '../../../src/attention/layout.js';
import { attentionReference, blockSparseReference, layoutToMask } from '../../../src/attention/reference.js';
import { freshSeed, randn, relError, rng } from '../../helpers/random.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof HessError ? e.code : `not a HessError: ${String(e)}`;
  }
  return 'no error';
};

describe('attention references (float64)', () => {
  const shape: AttentionShape = { N: 97, H: 3, D: 8 };
  const rand = rng(freshSeed('attention cpu refs'));
  const n = shape.N * shape.H * shape.D;
  const [q, k, v] = [randn(n, rand, 2), randn(n, rand), randn(n, rand)];

  it('rows of the dense reference are convex combinations of V rows (softmax weights sum to 1)', () => {
    const ones = new Float32Array(n).fill(1);
    const o = attentionReference(q, k, ones, shape);
    for (const x of o) expect(Math.abs(x - 1)).toBeLessThan(1e-12);
  });

  it('list-walking block-sparse reference equals the −∞-masked dense reference; dense layout equals dense', () => {
    const layout = layoutFromPredicate(shape, 20, 16, (h, i, kb) => (h + i + kb) % (h + 2) === 0 || kb === i);
    const a = blockSparseReference(q, k, v, shape, layout);
    const b = attentionReference(q, k, v, shape, layoutToMask(shape, layout));
    expect(relError(a, b)).toBeLessThan(1e-12);
    expect(
      relError(blockSparseReference(q, k, v, shape, denseLayout(shape, 32, 16)), attentionReference(q, k, v, shape)),
    ).toBeLessThan(1e-12);
    expect(layoutToMask(shape, denseLayout(shape)).every((x) => x === 0)).toBe(true);
  });
});

describe('block-sparse layout validation', () => {
  const shape: AttentionShape = { N: 130, H: 2, D: 16 }; // nQB = 2, nKB = 3 with 128/64 blocks
  const ok = denseLayout(shape);
  const rows = (offsets: number[], indices: number[]) => ({ ...ok, offsets, indices });

  it('accepts a ragged layout with different block counts per head', () => {
    expect(validateLayout(shape, rows([0, 1, 3, 3, 4, 7], [0, 0, 2, 1, 0, 1, 2]))).toEqual({ nQB: 2, nKB: 3 });
  });
  it('is the planner mask layout: nQB + 1 absolute offsets per head, a head starting where the previous ends', () => {
    const ragged = layoutFromPredicate(shape, 128, 64, (h, i, k) => (k + h + i) % 2 === 0 || k === i);
    expect(Array.from(ragged.offsets)).toEqual([0, 2, 3, 3, 5, 8]);
    expect(Array.from(ragged.indices)).toEqual([0, 2, 1, 0, 1, 0, 1, 2]);
    expect(Array.from(denseLayout(shape).offsets)).toEqual([0, 3, 6, 6, 9, 12]);
    expect(layoutRow(2, 1, 1)).toBe(4); // head 1, query block 1: indices[offsets[4] .. offsets[5])
  });
  it('rejects each malformed list with a typed error', () => {
    expect(code(() => validateLayout(shape, rows([0, 1, 1, 1, 2, 3], [0, 1, 2])))).toBe('EMPTY_ROW');
    expect(code(() => validateLayout(shape, rows([0, 1, 2, 3], [0, 1, 2])))).toBe('INVALID_ARGUMENT'); // too few offsets
    expect(code(() => validateLayout(shape, rows([0, 1, 3, 4, 7], [0, 0, 2, 1, 0, 1, 2])))).toBe('INVALID_ARGUMENT'); // H·nQB + 1 rows
    expect(code(() => validateLayout(shape, rows([1, 1, 2, 2, 3, 4], [0, 1, 2, 0])))).toBe('INVALID_ARGUMENT'); // offsets[0] ≠ 0
    expect(code(() => validateLayout(shape, rows([0, 2, 1, 1, 3, 4], [0, 1, 2, 0])))).toBe('INVALID_ARGUMENT'); // decreasing
    expect(code(() => validateLayout(shape, rows([0, 1, 2, 3, 4, 5], [0, 1, 2, 0, 1])))).toBe('INVALID_ARGUMENT'); // head gap
    expect(code(() => validateLayout(shape, rows([0, 1, 2, 2, 3, 4], [0, 1, 2])))).toBe('INVALID_ARGUMENT'); // last ≠ length
    expect(code(() => validateLayout(shape, rows([0, 1, 2, 2, 3, 4], [0, 3, 1, 2])))).toBe('INVALID_ARGUMENT'); // out of range
    expect(code(() => validateLayout(shape, rows([0, 2, 3, 3, 4, 5], [1, 0, 1, 2, 0])))).toBe('INVALID_ARGUMENT'); // unsorted
    expect(code(() => validateLayout(shape, rows([0, 2, 3, 3, 4, 5], [1, 1, 1, 2, 0])))).toBe('INVALID_ARGUMENT'); // duplicate
    expect(code(() => validateLayout(shape, rows([0, 1, 2, 2, 3, 4], [0, -1, 1, 2])))).toBe('INVALID_ARGUMENT'); // negative
    expect(code(() => validateLayout(shape, { ...ok, keyBlock: 1.5 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => validateLayout({ ...shape, D: 6 }, ok))).toBe('INVALID_ARGUMENT');
  });
});

describe('fp16 host conversion and shader variants', () => {
  it('round-trips f16-representable values exactly and rounds others within half an ulp', () => {
    const rand = rng(freshSeed('f16'));
    for (let i = 0; i < 2000; i++) {
      const h = Math.floor(rand() * 0x7c00) | (rand() < 0.5 ? 0x8000 : 0); // finite halves
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
    }
    const x = randn(1000, rand, 10);
    const back = fromF16(toF16(x));
    for (let i = 0; i < x.length; i++)
      expect(Math.abs(back[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) * 2 ** -11 + 2 ** -25);
    expect(f16BitsToF32(f32ToF16Bits(1e6))).toBe(Infinity);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });

  it('generates the head-dim / tile / f16 variants from one WGSL file (rows per workgroup stay an override)', () => {
    const f32 = attentionShaderSource(16, 8, 'f32');
    expect(f32).toMatch(/^const D: u32 = 16u;$/m);
    expect(f32).toMatch(/^const BK: u32 = 8u;$/m);
    expect(f32).toMatch(/^override BQ: u32;$/m);
    expect(f32).toMatch(/^alias T4 = vec4<f32>;$/m);
    expect(f32).not.toMatch(/^enable f16;/m);
    const f16 = attentionShaderSource(64, 32, 'f16');
    expect(f16.startsWith('enable f16;')).toBe(true);
    expect(f16).toMatch(/alias T4 = vec4<f16>;/);
  });
});
