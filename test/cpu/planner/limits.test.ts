// The planner's documented maxima (issue 12): integer math safe up to them, typed errors past them, O(n log n)
// allocation (1e6 heads), integer budgets only, and no raw Wasm trap for sizes past the 4 GiB address space.
import { describe, expect, it } from 'vitest';
import { PlannerWasm } from '../../../src/wasm/planner-module.js';
import {
  ALLOCATE_LIMITS,
  allocateBudgets,
  allocateJS,
  allocateReference,
  type AllocateOptions,
} from '../../../src/allocate/index.js';
import { buildMasks, selectBlocks } from '../../../src/mask/wasm.js';
import { buildMasksJS, selectBlocksJS } from '../../../src/mask/reference.js';
import { maskLayout } from '../../../src/mask/layout.js';
import { expectCode } from '../../helpers/errors.js';
import { freshSeed, randn, rng } from '../../helpers/random.js';

/** The allocator as it was before the O(n log n) rewrite (insertion sort, linear scan, one +1 per pass): ties must not move. */
function allocateQuadratic(w: Float64Array, heads: number, K: number, total: number, floor: number): Int32Array {
  const out = new Int32Array(w.length);
  for (let l = 0; l < w.length / heads; l++) {
    const sc = w.subarray(l * heads, (l + 1) * heads);
    const c = new Float64Array(heads),
      bp: number[] = [];
    let maxReach = 0,
      zeros = 0;
    for (let h = 0; h < heads; h++) {
      if (sc[h] > 0) {
        bp.push(floor / sc[h], K / sc[h]);
        maxReach += K;
      } else {
        maxReach += floor;
        zeros++;
      }
    }
    const g = (t: number) => {
      let s = 0;
      for (let h = 0; h < heads; h++) s += Math.min(Math.max(t * sc[h], floor), K);
      return s;
    };
    if (maxReach <= total) {
      const share = zeros > 0 ? (total - (maxReach - zeros * floor)) / zeros : 0;
      for (let h = 0; h < heads; h++) c[h] = sc[h] > 0 ? K : Math.min(Math.max(share, floor), K);
    } else {
      bp.sort((a, b) => a - b);
      let tLo = 0,
        tHi = 0;
      for (const b of bp) {
        tHi = b;
        if (g(tHi) >= total) break;
        tLo = tHi;
      }
      const tm = 0.5 * (tLo + tHi);
      let A = 0,
        B = 0;
      for (let h = 0; h < heads; h++) {
        const v = tm * sc[h];
        if (v <= floor) A += floor;
        else if (v >= K) A += K;
        else B += sc[h];
      }
      const t = B > 0 ? (total - A) / B : tLo;
      for (let h = 0; h < heads; h++) {
        const v = tm * sc[h];
        c[h] = v <= floor ? floor : v >= K ? K : Math.min(Math.max(t * sc[h], floor), K);
      }
    }
    const o = out.subarray(l * heads, (l + 1) * heads);
    let assigned = 0;
    for (let h = 0; h < heads; h++) {
      o[h] = Math.floor(c[h]);
      assigned += o[h];
    }
    for (let deficit = total - assigned; deficit > 0; deficit--) {
      let best = -1,
        bestR = -1;
      for (let h = 0; h < heads; h++) {
        const r = Math.floor((c[h] - Math.floor(c[h])) * 1073741824 + 0.5);
        if (o[h] < K && o[h] <= c[h] && r > bestR) {
          bestR = r;
          best = h;
        }
      }
      if (best < 0)
        for (let h = 0; h < heads; h++)
          if (o[h] < K) {
            best = h;
            break;
          }
      if (best < 0) break;
      o[best]++;
    }
  }
  return out;
}

/** Scores with ties (quantised), zeros, peaks and spreads over many orders of magnitude. */
function hostileScores(rand: () => number, layers: number, heads: number): Float64Array {
  const w = new Float64Array(layers * heads);
  for (let l = 0; l < layers; l++) {
    const kind = Math.floor(rand() * 5);
    for (let h = 0; h < heads; h++) {
      const u = rand();
      w[l * heads + h] =
        kind === 0
          ? u
          : kind === 1
            ? Math.floor(u * 3) / 3
            : kind === 2
              ? u < 0.5
                ? 0
                : u
              : kind === 3
                ? 10 ** (-15 * u)
                : Math.max(u ** 8, 1e-12); // ratios over 2^64 are flushed to 0 (conditionScores): kept out here
    }
    if (w[l * heads] === 0) w[l * heads] = 0.5;
  }
  return w;
}

function checkInvariants(
  b: Int32Array,
  w: Float64Array,
  heads: number,
  K: number,
  floor: number,
  total: number,
  monotone = true,
): void {
  for (let l = 0; l < b.length / heads; l++) {
    let s = 0;
    for (let h = 0; h < heads; h++) {
      const x = b[l * heads + h];
      if (x < floor || x > K) throw new Error(`layer ${l} head ${h}: ${x} outside [${floor}, ${K}]`);
      s += x;
    }
    expect(s).toBe(total);
    // monotone in score, checked on a sample of pairs
    for (let i = 0; monotone && i < Math.min(heads, 64); i++) {
      const h = (i * 7919) % heads,
        g = (i * 104729 + 1) % heads;
      if (w[l * heads + h] > w[l * heads + g]) expect(b[l * heads + h]).toBeGreaterThanOrEqual(b[l * heads + g]);
    }
  }
}

describe('allocator limits: Wasm SIMD, Wasm scalar and JS agree up to the documented maxima', () => {
  it('random inputs with keyBlocks and totals up to 2^31 − 1: identical budgets, exact sums (and as before the rewrite)', async () => {
    const rand = rng(freshSeed('allocate-limits'));
    const simd = await PlannerWasm.load('simd');
    const scalar = await PlannerWasm.load('scalar');
    let cases = 0;
    for (let trial = 0; trial < 400; trial++) {
      const heads = 1 + Math.floor(rand() * (rand() < 0.8 ? 24 : 300));
      const layers = 1 + Math.floor(rand() * 4);
      // keyBlocks log-uniform up to the point where heads·K reaches the i32 limit (or past, for K alone).
      const kMax = Math.floor(ALLOCATE_LIMITS.maxTotal / heads);
      const K =
        rand() < 0.3 ? kMax - Math.floor(rand() * 3) : Math.max(1, Math.floor(Math.exp(rand() * Math.log(kMax))));
      const floor = Math.min(Math.floor(rand() * 4), K);
      const w = hostileScores(rand, layers, heads);
      const total =
        rand() < 0.3
          ? heads * K - Math.floor(rand() * heads)
          : heads * floor + Math.floor(rand() * (heads * (K - floor) + 1));
      const opts: AllocateOptions = { keyBlocks: K, floor, total: Math.max(total, heads * floor) };
      const js = allocateJS(w, heads, opts);
      expect(Array.from(allocateBudgets(simd, w, heads, opts))).toEqual(Array.from(js));
      expect(Array.from(allocateBudgets(scalar, w, heads, opts))).toEqual(Array.from(js));
      expect(Array.from(allocateQuadratic(w, heads, K, opts.total!, floor))).toEqual(Array.from(js));
      checkInvariants(js, w, heads, K, floor, opts.total!);
      cases++;
    }
    expect(cases).toBe(400);
  });

  it('scores spanning the whole f64 range (5e-324 … 1e308) stay within [floor, K] with exact sums everywhere', async () => {
    const rand = rng(freshSeed('allocate-extreme'));
    const simd = await PlannerWasm.load('simd');
    const scalar = await PlannerWasm.load('scalar');
    const extreme = [0, 5e-324, 1e-310, 1e-200, 1e-20, 1e-19, 1, 1e200, 1e308, Number.MAX_VALUE];
    for (let trial = 0; trial < 300; trial++) {
      const heads = 1 + Math.floor(rand() * 12);
      const w = Array.from(
        { length: heads },
        () => extreme[Math.floor(rand() * extreme.length)] * (0.5 + 0.5 * rand()),
      );
      if (!w.some((x) => x !== 0)) w[0] = 5e-324; // (`every(x => x === 0)` would narrow w to 0[])
      const K = 1 + Math.floor(rand() * 3000),
        floor = Math.min(2, K);
      const opts = { keyBlocks: K, total: heads * floor + Math.floor(rand() * (heads * (K - floor) + 1)) };
      const js = allocateJS(w, heads, opts);
      expect(Array.from(allocateBudgets(simd, w, heads, opts))).toEqual(Array.from(js));
      expect(Array.from(allocateBudgets(scalar, w, heads, opts))).toEqual(Array.from(js));
      expect(Array.from(allocateReference(w, heads, opts))).toEqual(Array.from(js));
      // not monotone among scores under 2^-64 of the layer's largest: they all count as 0 (ties → lower index)
      checkInvariants(js, Float64Array.from(w), heads, K, floor, opts.total, false);
    }
    // A power-of-two rescaling of a layer does not change its budgets.
    const w = Array.from({ length: 16 }, () => rand());
    const opts = { keyBlocks: 500, sparsity: 0.7 };
    expect(
      Array.from(
        allocateJS(
          w.map((x) => x * 2 ** -1000),
          16,
          opts,
        ),
      ),
    ).toEqual(Array.from(allocateJS(w, 16, opts)));
  });

  it('past the maxima: INVALID_ARGUMENT from Wasm and JS alike, before any work', async () => {
    const wasm = await PlannerWasm.load();
    for (const f of [(w: number[], h: number, o: AllocateOptions) => allocateBudgets(wasm, w, h, o), allocateJS]) {
      await expectCode(() => f([1, 1], 2, { keyBlocks: 2 ** 30, sparsity: 0 }), 'INVALID_ARGUMENT', /2\^31 − 1/); // total 2^31
      await expectCode(() => f([1], 1, { keyBlocks: 2 ** 31, sparsity: 0.5 }), 'INVALID_ARGUMENT', /keyBlocks/);
      await expectCode(() => f([1, 1], 2, { keyBlocks: 8, sparsity: 0.5, floor: 1.5 }), 'INVALID_ARGUMENT', /floor/);
      await expectCode(() => f([1, 1], 2, { keyBlocks: 8, total: 7.5 }), 'INVALID_ARGUMENT', /total/);
      await expectCode(() => f([1, 1], 2, { keyBlocks: 8, total: NaN }), 'INVALID_ARGUMENT', /total/);
      await expectCode(() => f([1, 1], 2, { keyBlocks: NaN, sparsity: 0.5 }), 'INVALID_ARGUMENT', /keyBlocks/);
      await expectCode(() => f([1, 1], 2, { keyBlocks: 8, sparsity: NaN }), 'INVALID_ARGUMENT', /sparsity/);
      await expectCode(() => f([1, 1], 2.5, { keyBlocks: 8, sparsity: 0.5 }), 'INVALID_ARGUMENT', /heads/);
      await expectCode(
        () => f(new Array(2 ** 22 + 1).fill(1), 2 ** 22 + 1, { keyBlocks: 8, sparsity: 0.5 }),
        'INVALID_ARGUMENT',
        /heads/,
      );
    }
  });

  it('one million heads runs (O(n log n)) and matches the JS twin and the bisection reference', async () => {
    const rand = rng(freshSeed('allocate-1e6'));
    const heads = 1_000_000,
      K = 1000;
    const w = hostileScores(rand, 1, heads);
    const opts = { keyBlocks: K, sparsity: 0.5 + 0.4 * rand() };
    const simd = allocateBudgets(await PlannerWasm.load('simd'), w, heads, opts);
    const scalar = allocateBudgets(await PlannerWasm.load('scalar'), w, heads, opts);
    const js = allocateJS(w, heads, opts);
    const ref = allocateReference(w, heads, opts);
    let diff = 0;
    for (let h = 0; h < heads; h++)
      diff += Number(simd[h] !== js[h]) + Number(scalar[h] !== js[h]) + Number(ref[h] !== js[h]);
    expect(diff).toBe(0);
    const u = Math.min(K, Math.max(2, Math.round((1 - opts.sparsity) * K)));
    checkInvariants(js, w, heads, K, 2, u * heads);
  });
});

describe('mask builder limits', () => {
  it('budgets must be integers: 1.5, NaN, −1 and 2^31 are INVALID_ARGUMENT, never rounded (Wasm and JS)', async () => {
    const wasm = await PlannerWasm.load();
    const rand = rng(freshSeed('mask-budgets'));
    const S = 2,
      P = 40,
      H = 2,
      d = 4;
    const q = randn(S * P * H * d, rand),
      k = randn(S * P * H * d, rand);
    for (const bad of [1.5, NaN, -1, 2 ** 31, Infinity]) {
      const inp = { q, k, S, P, heads: H, headDim: d, budgets: [2, bad], queryBlock: 8, keyBlock: 4 };
      await expectCode(() => buildMasks(wasm, inp), 'INVALID_ARGUMENT', /budget of head 1/);
      await expectCode(() => buildMasksJS(inp), 'INVALID_ARGUMENT', /budget of head 1/);
    }
    // the same integer budgets still build identical masks
    const good = { q, k, S, P, heads: H, headDim: d, budgets: [2, 3], queryBlock: 8, keyBlock: 4 };
    expect(Array.from(buildMasks(wasm, good).indices)).toEqual(Array.from(buildMasksJS(good).indices));
  });

  it('a mask needing over 4 GiB of indices is INVALID_ARGUMENT up front, not a raw out-of-bounds trap', async () => {
    const wasm = await PlannerWasm.load();
    // S = 1000 frames of 1374 tokens, 16 heads, every candidate kept: ≈ 3.7e9 indices (14.7 GB) — pooled inputs are small (d = 4).
    const L = maskLayout(1000, 1374);
    const H = 16,
      d = 4,
      nQ = L.numQueryBlocks - L.denseQueryBlocks,
      nK = L.candidateKeyBlocks;
    const pooled = {
      layout: L,
      heads: H,
      headDim: d,
      q: new Float32Array(H * nQ * d),
      k: new Float32Array(H * nK * d),
    };
    const budgets = new Array(H).fill(nK);
    await expectCode(() => selectBlocks(wasm, pooled, budgets), 'INVALID_ARGUMENT', /block indices/);
    await expectCode(() => selectBlocksJS(pooled, budgets), 'INVALID_ARGUMENT', /block indices/);
    // The module stays usable after a refused call: a normal-sized layer still builds.
    const L2 = maskLayout(20, 1374),
      nQ2 = L2.numQueryBlocks - L2.denseQueryBlocks,
      nK2 = L2.candidateKeyBlocks;
    const rand = rng(freshSeed('mask-after-refusal'));
    const pooled2 = { layout: L2, heads: 2, headDim: d, q: randn(2 * nQ2 * d, rand), k: randn(2 * nK2 * d, rand) };
    expect(Array.from(selectBlocks(wasm, pooled2, [5, nK2]).indices)).toEqual(
      Array.from(selectBlocksJS(pooled2, [5, nK2]).indices),
    );
    expect(() => wasm.alloc(2 ** 32)).toThrow(/Wasm memory/);
    expect(() => wasm.alloc(-1)).toThrow(/allocation size/);
    expect(() => wasm.alloc(1.5)).toThrow(/allocation size/);
    wasm.reset();
    expect(wasm.alloc(64)).toBeGreaterThan(0);
  });
});

describe('Wasm memory growth failures', () => {
  it('an engine refusing memory (arenaAlloc → 0, or a throwing grow) is a typed error, not a trap', async () => {
    const real = await PlannerWasm.load();
    const fake = (arenaAlloc: () => number) =>
      Object.assign(Object.create(PlannerWasm.prototype) as PlannerWasm, {
        variant: real.variant,
        exports: { ...real.exports, arenaAlloc },
      });
    const scores = [0.5, 0.25, 0.25];
    await expectCode(
      () =>
        allocateBudgets(
          fake(() => 0),
          scores,
          3,
          { keyBlocks: 64, sparsity: 0.5 },
        ),
      'INVALID_ARGUMENT',
      /refused more memory/,
    );
    await expectCode(
      () =>
        allocateBudgets(
          fake(() => {
            throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
          }),
          scores,
          3,
          { keyBlocks: 64, sparsity: 0.5 },
        ),
      'INVALID_ARGUMENT',
      /cannot grow/,
    );
  });
});
