import { describe, expect, it } from 'vitest';
import { PlannerWasm } from '../../src/wasm/planner-module.js';
import { accumulateHeadSquares } from '../../src/wasm/fisher.js';
import { freshSeed, randn, rng } from '../helpers/random.js';

function refHeadSquares(g: Float32Array, heads: number, _rows: number): Float64Array {
  const out = new Float64Array(heads);
  const per = g.length / heads;
  for (let h = 0; h < heads; h++) for (let i = 0; i < per; i++) out[h] += g[h * per + i] ** 2;
  return out;
}

describe('Wasm Fisher accumulation (SIMD and scalar builds)', () => {
  it('the SIMD build really is SIMD and the scalar one is not', async () => {
    expect((await PlannerWasm.load('simd')).exports.simdEnabled()).toBe(1);
    expect((await PlannerWasm.load('scalar')).exports.simdEnabled()).toBe(0);
    expect((await PlannerWasm.load()).variant).toBe('simd'); // Node 20 has Wasm SIMD
  });

  for (const [heads, rows, cols] of [
    [16, 64, 1024],
    [4, 16, 64],
    [3, 5, 7],
  ]) {
    it(`per-head Σg² for [${heads}·${rows}, ${cols}] matches float64 JS, accumulating over calls`, async () => {
      const rand = rng(freshSeed(`fisher ${heads}x${rows}x${cols}`));
      const g1 = randn(heads * rows * cols, rand, 0.01);
      const g2 = randn(heads * rows * cols, rand, 0.03);
      const ref = refHeadSquares(g1, heads, rows);
      const r2 = refHeadSquares(g2, heads, rows);
      for (let h = 0; h < heads; h++) ref[h] += r2[h];
      const results: Float64Array[] = [];
      for (const v of ['simd', 'scalar'] as const) {
        const wasm = await PlannerWasm.load(v);
        const out = new Float64Array(heads);
        accumulateHeadSquares(wasm, g1, heads, rows, out);
        accumulateHeadSquares(wasm, g2, heads, rows, out);
        for (let h = 0; h < heads; h++) expect(Math.abs(out[h] - ref[h]) / ref[h]).toBeLessThan(1e-12);
        results.push(out);
      }
      // Same float64 sums in a different order: equal to rounding.
      for (let h = 0; h < heads; h++) expect(Math.abs(results[0][h] - results[1][h]) / ref[h]).toBeLessThan(1e-12);
    });
  }

  it('grows memory for large inputs and rejects shapes that do not divide', async () => {
    const wasm = await PlannerWasm.load();
    const big = new Float32Array(16 * 64 * 4096).fill(0.5); // 16 MiB > initial memory
    const out = accumulateHeadSquares(wasm, big, 16, 64, new Float64Array(16));
    expect(out[3]).toBeCloseTo(64 * 4096 * 0.25, 6);
    expect(() => accumulateHeadSquares(wasm, new Float32Array(10), 3, 1, new Float64Array(3))).toThrow(
      /not \[3·1, cols\]/,
    );
    expect(() => accumulateHeadSquares(wasm, new Float32Array(12), 3, 1, new Float64Array(2))).toThrow(/3 entries/);
  });
});
