import { describe, expect, it } from 'vitest';
import { PlannerWasm } from '../../../src/wasm/planner-module.js';
import {
  allocateBudgets,
  allocateJS,
  allocateReference,
  policyScores,
  uniformBudget,
  type AllocateOptions,
} from '../../../src/allocate/index.js';
import { HessError } from '../../../src/errors.js';
import { freshSeed, rng } from '../../helpers/random.js';

/** Random per-layer scores summing to 1: mixtures of flat, peaked and sparse (zero) heads. */
function randomScores(rand: () => number, layers: number, heads: number): Float64Array {
  const w = new Float64Array(layers * heads);
  for (let l = 0; l < layers; l++) {
    const kind = rand();
    let s = 0;
    for (let h = 0; h < heads; h++) {
      let x =
        kind < 0.3
          ? rand()
          : kind < 0.6
            ? rand() ** 6
            : kind < 0.8
              ? rand() < 0.3
                ? 0
                : rand()
              : Math.floor(rand() * 4) / 4;
      if (h === 0 && x === 0) x = 0.01; // never all-zero
      w[l * heads + h] = x;
      s += x;
    }
    for (let h = 0; h < heads; h++) w[l * heads + h] /= s;
  }
  return w;
}

describe('HeSS budget allocation (Wasm SIMD/scalar, JS twin, float64 reference)', () => {
  it('property test: exact sums, caps/floors, monotone in score, all implementations equal (thousands of cases)', async () => {
    const rand = rng(freshSeed('allocate'));
    const simd = await PlannerWasm.load('simd');
    const scalar = await PlannerWasm.load('scalar');
    let cases = 0;
    for (let trial = 0; trial < 300; trial++) {
      const heads = 1 + Math.floor(rand() * 24);
      const layers = 1 + Math.floor(rand() * 10);
      const K = Math.floor(rand() * 3000) * (rand() < 0.2 ? 0 : 1) + (rand() < 0.1 ? 1 : 0);
      const floor = Math.min(2, K);
      const w = randomScores(rand, layers, heads);
      const opts: AllocateOptions =
        rand() < 0.5
          ? { keyBlocks: K, sparsity: rand() }
          : { keyBlocks: K, total: heads * floor + Math.floor(rand() * (heads * (K - floor) + 1)) };
      const total = opts.total ?? uniformBudget(K, opts.sparsity!) * heads;
      const a = allocateBudgets(simd, w, heads, opts);
      const b = allocateBudgets(scalar, w, heads, opts);
      const c = allocateJS(w, heads, opts);
      const ref = allocateReference(w, heads, opts);
      expect(Array.from(a)).toEqual(Array.from(ref));
      expect(Array.from(b)).toEqual(Array.from(ref));
      expect(Array.from(c)).toEqual(Array.from(ref));
      for (let l = 0; l < layers; l++) {
        let s = 0;
        for (let h = 0; h < heads; h++) {
          const x = a[l * heads + h];
          expect(x).toBeGreaterThanOrEqual(floor);
          expect(x).toBeLessThanOrEqual(K);
          s += x;
          for (let g = 0; g < heads; g++) {
            if (w[l * heads + h] > w[l * heads + g]) expect(x).toBeGreaterThanOrEqual(a[l * heads + g]);
          }
        }
        expect(s).toBe(total);
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(1000);
  });

  it('uniform scores (and the uniform policy) give every head the uniform budget', async () => {
    const rand = rng(freshSeed('uniform'));
    const wasm = await PlannerWasm.load();
    for (let trial = 0; trial < 500; trial++) {
      const heads = 1 + Math.floor(rand() * 32),
        K = 1 + Math.floor(rand() * 2000),
        rho = rand();
      const u = uniformBudget(K, rho);
      expect(u).toBe(Math.min(K, Math.max(Math.min(2, K), Math.round((1 - rho) * K))));
      const flat = new Float64Array(heads).fill(1 / heads);
      expect(Array.from(allocateBudgets(wasm, flat, heads, { keyBlocks: K, sparsity: rho }))).toEqual(
        new Array(heads).fill(u),
      );
      const skewed = randomScores(rand, 1, heads);
      expect(
        Array.from(allocateBudgets(wasm, skewed, heads, { keyBlocks: K, sparsity: rho, policy: 'uniform' })),
      ).toEqual(new Array(heads).fill(u));
    }
  });

  it('all score on one head saturates it at the cap; the rest share what is left', async () => {
    const wasm = await PlannerWasm.load();
    const rand = rng(freshSeed('one-hot'));
    for (let trial = 0; trial < 300; trial++) {
      const heads = 2 + Math.floor(rand() * 20),
        K = 2 + Math.floor(rand() * 1000),
        hot = Math.floor(rand() * heads);
      const w = new Float64Array(heads);
      w[hot] = 1;
      const out = allocateBudgets(wasm, w, heads, { keyBlocks: K, sparsity: rand() * 0.95 });
      const total = out.reduce((s, x) => s + x, 0);
      if (total >= K + (heads - 1) * 2) expect(out[hot]).toBe(K);
      for (let h = 0; h < heads; h++)
        if (h !== hot) expect(Math.abs(out[h] - out[(hot + 1) % heads])).toBeLessThanOrEqual(1);
      expect(Array.from(out)).toEqual(Array.from(allocateReference(w, heads, { keyBlocks: K, total })));
    }
  });

  it('a worked example: water-filling redistributes the capped excess in proportion to scores', () => {
    // total = 4·5 = 20, K = 10: head 0 wants 14 → capped at 10; the 10 left split 1:1:1 (3.33…) → 4,3,3.
    expect(Array.from(allocateReference([0.7, 0.1, 0.1, 0.1], 4, { keyBlocks: 10, sparsity: 0.5 }))).toEqual([
      10, 4, 3, 3,
    ]);
    // floors: total 12, scores 0.97/0.01/0.01/0.01 → heads 1-3 at the floor 2, head 0 gets 6
    expect(Array.from(allocateReference([0.97, 0.01, 0.01, 0.01], 4, { keyBlocks: 10, total: 12 }))).toEqual([
      6, 2, 2, 2,
    ]);
  });

  it('reverse policy hands the largest score to the least sensitive head', () => {
    const r = policyScores([0.5, 0.1, 0.3, 0.1], 4, 'reverse');
    expect(Array.from(r)).toEqual([0.1, 0.3, 0.1, 0.5]);
    const rand = rng(freshSeed('reverse'));
    for (let trial = 0; trial < 200; trial++) {
      const heads = 2 + Math.floor(rand() * 16);
      const w = randomScores(rand, 1, heads);
      const a = allocateReference(w, heads, { keyBlocks: 500, sparsity: 0.8 });
      const b = allocateReference(w, heads, { keyBlocks: 500, sparsity: 0.8, policy: 'reverse' });
      expect(b.reduce((s, x) => s + x, 0)).toBe(a.reduce((s, x) => s + x, 0));
      const rw = policyScores(w, heads, 'reverse');
      for (let h = 0; h < heads; h++) {
        for (let g = 0; g < heads; g++) {
          if (w[h] > w[g]) expect(rw[h]).toBeLessThanOrEqual(rw[g]);
          if (rw[h] < rw[g]) expect(b[h]).toBeLessThanOrEqual(b[g]); // equal scores may differ by the rounding +1
        }
      }
      expect(Array.from(rw).sort()).toEqual(Array.from(w).sort());
    }
  });

  it('rejects bad inputs with typed errors that name the problem', async () => {
    const wasm = await PlannerWasm.load();
    const bad = (f: () => unknown, re: RegExp) => {
      try {
        f();
        throw new Error('no throw');
      } catch (e) {
        expect(e).toBeInstanceOf(HessError);
        expect(String(e)).toMatch(re);
      }
    };
    bad(() => allocateBudgets(wasm, [0.5, NaN], 2, { keyBlocks: 4, sparsity: 0.5 }), /layer 0 head 1/);
    bad(() => allocateBudgets(wasm, [0, 0], 2, { keyBlocks: 4, sparsity: 0.5 }), /all scores of layer 0/);
    bad(() => allocateBudgets(wasm, [1, 0, 0], 2, { keyBlocks: 4, sparsity: 0.5 }), /multiple of 2/);
    bad(() => allocateBudgets(wasm, [1, 0], 2, { keyBlocks: 4, sparsity: 1.5 }), /sparsity/);
    bad(() => allocateBudgets(wasm, [1, 0], 2, { keyBlocks: 4, total: 9 }), /total must be/);
    bad(() => allocateBudgets(wasm, [1, 0], 2, { keyBlocks: 4 }), /sparsity` or `total/);
    bad(
      () => allocateBudgets(wasm, [1, 0], 2, { keyBlocks: 4, sparsity: 0.5, policy: 'x' as never }),
      /unknown policy/,
    );
  });
});
