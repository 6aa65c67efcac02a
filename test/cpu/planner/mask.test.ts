import { describe, expect, it } from 'vitest';
import { PlannerWasm } from '../../../src/wasm/planner-module.js';
import { buildMasks, poolBlocks, selectBlocks } from '../../../src/mask/wasm.js';
import { buildMasksJS, buildMasksReference, poolBlocksJS } from '../../../src/mask/reference.js';
import { inversePermutation, maskLayout, tokenPermutation } from '../../../src/mask/layout.js';
import type { MaskInput } from '../../../src/mask/input.js';
import type { BlockMask } from '../../../src/mask/types.js';
import { HessError } from '../../../src/errors.js';
import { freshSeed, randn, rng } from '../../helpers/random.js';

function row(m: BlockMask, h: number, r: number): Uint32Array {
  const o = h * (m.numQueryBlocks + 1) + r;
  return m.indices.subarray(m.offsets[o], m.offsets[o + 1]);
}

function input(
  rand: () => number,
  S: number,
  P: number,
  H: number,
  d: number,
  budgets: number[],
  extra: Partial<MaskInput> = {},
): MaskInput {
  const N = S * P;
  // Per-head structure (a shared bias direction) so that rankings are not pure noise.
  const q = randn(N * H * d, rand),
    k = randn(N * H * d, rand);
  return { q, k, S, P, heads: H, headDim: d, budgets, ...extra };
}

describe('token permutation', () => {
  it('gathers the 5 special tokens of every frame to the front and inverts exactly', () => {
    const rand = rng(freshSeed('perm'));
    for (let trial = 0; trial < 50; trial++) {
      const S = 1 + Math.floor(rand() * 12),
        P = 5 + Math.floor(rand() * 40);
      const perm = tokenPermutation(S, P);
      const inv = inversePermutation(perm);
      for (let i = 0; i < S * P; i++) expect(inv[perm[i]]).toBe(i);
      for (let i = 0; i < 5 * S; i++) expect(perm[i] % P).toBeLessThan(5);
      for (let i = 5 * S; i < S * P; i++) expect(perm[i] % P).toBeGreaterThanOrEqual(5);
      // frame order is kept within each group
      for (let i = 1; i < S * P; i++) if (i !== 5 * S) expect(perm[i]).toBeGreaterThan(perm[i - 1]);
    }
    expect(Array.from(tokenPermutation(2, 7))).toEqual([0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 5, 6, 12, 13]);
    expect(() => inversePermutation(Uint32Array.from([0, 0]))).toThrow(HessError);
  });

  it('layout: special tokens fill ⌈5S/64⌉ key blocks and query blocks holding them are dense', () => {
    const L = maskLayout(32, 1374);
    expect(L.N).toBe(43968);
    expect(L.specialKeyBlocks).toBe(Math.ceil(160 / 64));
    expect(L.denseQueryBlocks).toBe(2);
    expect(L.candidateKeyBlocks).toBe(Math.ceil(43968 / 64) - 3);
  });
});

describe('Wasm mask builder (SIMD and scalar) vs plain JS and the float64 reference', () => {
  const cases: [number, number, number, number, number, number][] = [
    // S, P, heads, d, queryBlock, keyBlock
    [3, 5 + 150, 4, 16, 32, 16],
    [2, 5 + 200, 3, 64, 128, 64],
    [5, 5 + 37, 2, 8, 16, 8],
    [1, 5 + 27, 2, 4, 4, 2],
  ];
  for (const [S, P, H, d, qb, kb] of cases) {
    it(`S=${S} P=${P} H=${H} d=${d} blocks ${qb}/${kb}: identical masks across builds, near-exact vs float64`, async () => {
      const rand = rng(freshSeed(`mask ${S}x${P}`));
      const L = maskLayout(S, P, qb, kb);
      const K = L.candidateKeyBlocks;
      const budgets = Array.from({ length: H }, (_, h) =>
        h === 0 ? K : h === 1 ? Math.min(2, K) : Math.floor(rand() * (K + 1)),
      );
      const inp = input(rand, S, P, H, d, budgets, { queryBlock: qb, keyBlock: kb });
      const simd = await PlannerWasm.load('simd');
      const scalar = await PlannerWasm.load('scalar');
      const a = buildMasks(simd, inp),
        b = buildMasks(scalar, inp),
        c = buildMasksJS(inp);
      expect(Array.from(a.indices)).toEqual(Array.from(c.indices));
      expect(Array.from(b.indices)).toEqual(Array.from(c.indices));
      expect(Array.from(a.offsets)).toEqual(Array.from(c.offsets));
      // Pooled blocks: bit-identical too.
      const pw = poolBlocks(simd, inp),
        pj = poolBlocksJS(inp);
      expect(Buffer.from(pw.q.buffer).equals(Buffer.from(pj.q.buffer))).toBe(true);
      expect(Buffer.from(pw.k.buffer).equals(Buffer.from(pj.k.buffer))).toBe(true);

      const { mask: ref, probs } = buildMasksReference(inp);
      expect(Array.from(a.offsets)).toEqual(Array.from(ref.offsets));
      expect(a.offsets[a.offsets.length - 1]).toBe(a.indices.length);
      let same = 0,
        rows = 0;
      for (let h = 0; h < H; h++) {
        for (let r = 0; r < L.numQueryBlocks; r++) {
          const got = row(a, h, r);
          for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1]);
          if (r < L.denseQueryBlocks) {
            expect(got.length).toBe(L.numKeyBlocks);
            continue;
          }
          for (let j = 0; j < L.specialKeyBlocks; j++) expect(got[j]).toBe(j);
          expect(got.length).toBe(L.specialKeyBlocks + Math.min(budgets[h], K));
          // Every kept block's probability ≥ every dropped block's, up to the trunc12 rounding of the means.
          const pr = probs[h * (L.numQueryBlocks - L.denseQueryBlocks) + r - L.denseQueryBlocks];
          const kept = new Set(Array.from(got.subarray(L.specialKeyBlocks), (j) => j - L.specialKeyBlocks));
          let minKept = Infinity,
            maxDropped = -Infinity;
          pr.forEach((p, j) => {
            if (kept.has(j)) minKept = Math.min(minKept, p);
            else maxDropped = Math.max(maxDropped, p);
          });
          expect(minKept).toBeGreaterThanOrEqual(maxDropped * (1 - 1e-2) - 1e-12);
          rows++;
          if (Array.from(got).join() === Array.from(row(ref, h, r)).join()) same++;
        }
      }
      expect(same / rows).toBeGreaterThan(0.8);
    });
  }

  it('ties go to the lower key block index (identical keys everywhere)', async () => {
    const S = 2,
      P = 5 + 60,
      H = 2,
      d = 8;
    const q = new Float32Array(S * P * H * d).fill(0.5),
      k = new Float32Array(S * P * H * d).fill(0.25);
    const inp: MaskInput = { q, k, S, P, heads: H, headDim: d, budgets: [3, 5], queryBlock: 16, keyBlock: 8 };
    const L = maskLayout(S, P, 16, 8);
    for (const m of [
      buildMasks(await PlannerWasm.load('simd'), inp),
      buildMasks(await PlannerWasm.load('scalar'), inp),
      buildMasksJS(inp),
      buildMasksReference(inp).mask,
    ]) {
      const r = row(m, 1, L.numQueryBlocks - 1);
      expect(Array.from(r)).toEqual([
        ...Array.from({ length: L.specialKeyBlocks }, (_, j) => j),
        ...[0, 1, 2, 3, 4].map((j) => j + L.specialKeyBlocks),
      ]);
    }
  });

  it('order "permuted" equals gathering the input with tokenPermutation first', async () => {
    const rand = rng(freshSeed('permuted'));
    const S = 3,
      P = 5 + 40,
      H = 2,
      d = 8;
    const inp = input(rand, S, P, H, d, [4, 7], { queryBlock: 16, keyBlock: 8 });
    const perm = tokenPermutation(S, P);
    const gather = (x: Float32Array) => {
      const o = new Float32Array(x.length);
      for (let i = 0; i < perm.length; i++) o.set(x.subarray(perm[i] * H * d, (perm[i] + 1) * H * d), i * H * d);
      return o;
    };
    const wasm = await PlannerWasm.load();
    const a = buildMasks(wasm, inp);
    const b = buildMasks(wasm, { ...inp, q: gather(inp.q), k: gather(inp.k), order: 'permuted' });
    expect(Array.from(b.indices)).toEqual(Array.from(a.indices));
  });

  it('rejects bad shapes with typed errors', async () => {
    const wasm = await PlannerWasm.load();
    const base: MaskInput = {
      q: new Float32Array(2 * 10 * 2 * 8),
      k: new Float32Array(2 * 10 * 2 * 8),
      S: 2,
      P: 10,
      heads: 2,
      headDim: 8,
      budgets: [1, 1],
    };
    expect(() => buildMasks(wasm, { ...base, q: new Float32Array(5) })).toThrow(/SHAPE|must be a Float32Array/);
    expect(() => buildMasks(wasm, { ...base, headDim: 6 })).toThrow(HessError);
    expect(() => buildMasks(wasm, { ...base, budgets: [1] })).toThrow(/2 \(one per head\)/);
    expect(() => buildMasks(wasm, { ...base, budgets: [1, -1] })).toThrow(/non-negative/);
    expect(() => buildMasks(wasm, { ...base, P: 4 })).toThrow(HessError);
    const pooled = poolBlocks(wasm, base);
    expect(() => selectBlocks(wasm, { ...pooled, q: new Float32Array(3) }, [1, 1])).toThrow(/pooled q\/k/);
  });
});
