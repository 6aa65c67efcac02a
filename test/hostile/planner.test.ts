// Hostile planner arguments through the built `hess-vggt/planner` entry: allocateBudgets (Wasm SIMD, Wasm scalar),
// allocateJS, and the Wasm and JS mask builders must all refuse an argument with the same HessError code, or all
// accept it and agree exactly (with the allocator's invariants: exact sums, floor ≤ budget ≤ keyBlocks).
import { describe, expect, it } from 'vitest';
import { BUILT, Tally, report, loadPlanner, must } from './cases.js';

const NUM: unknown[] = [
  0,
  -1,
  1.5,
  NaN,
  Infinity,
  -Infinity,
  2 ** 31,
  2 ** 31 - 1,
  2 ** 32,
  2 ** 53 + 2,
  1e308,
  5e-324,
  '3',
  null,
  undefined,
  {},
];

/** Run each implementation; all typed errors with one code, or all results equal (then checked by `check`). */
async function agree<T>(impls: (() => T)[], same: (a: T, b: T) => boolean, check: (r: T) => void): Promise<void> {
  const outs = impls.map((f) => {
    try {
      return { ok: true as const, v: f() };
    } catch (e) {
      return { ok: false as const, e };
    }
  });
  const codes = outs.map((o) => (o.ok ? 'ok' : ((o.e as { code?: string }).code ?? `untyped ${String(o.e)}`)));
  if (outs.every((o) => !o.ok)) {
    must(new Set(codes).size === 1, `implementations fail differently: ${codes.join(' / ')}`);
    throw (outs[0] as { e: unknown }).e; // counted as a typed error (or, if untyped, as a failure)
  }
  must(
    outs.every((o) => o.ok),
    `implementations disagree on accepting: ${codes.join(' / ')}`,
  );
  const vs = outs.map((o) => (o as { v: T }).v);
  for (const v of vs.slice(1)) must(same(vs[0], v), 'implementations give different results');
  check(vs[0]);
}

describe.skipIf(!BUILT)('hostile planner arguments (built package)', () => {
  it('allocateBudgets and the mask builders: one typed error or one agreed, valid result', async () => {
    const P = await loadPlanner();
    const t = new Tally('planner', P.HessError as never);
    const simd = await P.PlannerWasm.load('simd');
    const scalar = await P.PlannerWasm.load('scalar');
    const sameI32 = (a: Int32Array, b: Int32Array) => a.length === b.length && a.every((x, i) => x === b[i]);
    const hostile = <T>(normal: () => T, p = 0.25): unknown => (t.rand() < p ? t.pick(NUM) : normal());

    for (let i = 0; i < 1200; i++) {
      const heads = hostile(() => 1 + t.int(t.rand() < 0.1 ? 3000 : 20), 0.1) as number;
      const layers = 1 + t.int(4);
      const n = Number.isSafeInteger(heads) && heads > 0 && heads < 5000 ? layers * heads : 1 + t.int(8);
      const scores = Array.from({ length: n + (t.rand() < 0.05 ? 1 : 0) }, () =>
        hostile(() => (t.rand() < 0.2 ? 0 : t.rand() ** 4), 0.03),
      ) as number[];
      const K = hostile(() => (t.rand() < 0.1 ? 2 ** 31 - 1 - t.int(4) : t.int(5000)), 0.15) as number;
      const opts: Record<string, unknown> = { keyBlocks: K };
      if (t.rand() < 0.5) opts.sparsity = hostile(() => t.rand(), 0.15);
      else
        opts.total = hostile(
          () => (Number.isSafeInteger(heads) && Number.isSafeInteger(K) ? t.int(heads * K + 1) : t.int(100)),
          0.15,
        );
      if (t.rand() < 0.2) opts.floor = hostile(() => t.int(4), 0.4);
      if (t.rand() < 0.2) opts.policy = t.pick(['hess', 'uniform', 'reverse', 'dense', '', 1]);
      await t.run('allocate', () =>
        agree(
          [
            () => P.allocateBudgets(simd, scores, heads, opts as never),
            () => P.allocateBudgets(scalar, scores, heads, opts as never),
            () => P.allocateJS(scores, heads, opts as never),
          ],
          sameI32,
          (b) => {
            const floor = (opts.floor as number) ?? Math.min(2, K);
            const total = (opts.total as number) ?? P.uniformBudget(K, opts.sparsity as number, floor) * heads;
            for (let l = 0; l < b.length / heads; l++) {
              let s = 0;
              for (let h = 0; h < heads; h++) {
                const x = b[l * heads + h];
                must(
                  x >= floor && x <= K,
                  `budget ${x} of head ${h} outside [${floor}, ${K}] (scores ${JSON.stringify(scores.slice(l * heads, l * heads + heads))}, opts ${JSON.stringify(opts)})`,
                );
                s += x;
              }
              must(s === total, `layer sum ${s} = total ${total}`);
            }
          },
        ),
      );
    }

    for (let i = 0; i < 600; i++) {
      const S = hostile(() => 1 + t.int(3), 0.1) as number,
        Pt = hostile(() => 5 + t.int(40), 0.1) as number;
      const H = hostile(() => 1 + t.int(3), 0.1) as number,
        d = t.rand() < 0.1 ? t.pick([0, 2, 6, -4, 4.5, NaN]) : t.pick([4, 8]);
      const qb = hostile(() => t.pick([4, 8, 16, 128]), 0.1) as number,
        kb = hostile(() => t.pick([2, 4, 8, 64]), 0.1) as number;
      const sane = [S, Pt, H, d].every((x) => Number.isSafeInteger(x) && (x as number) > 0 && (x as number) < 1000);
      const len = sane ? S * Pt * H * d : 1 + t.int(64);
      const q = Float32Array.from({ length: len + (t.rand() < 0.05 ? 1 : 0) }, () => t.rand() * 2 - 1);
      const k = Float32Array.from({ length: len }, () => t.rand() * 2 - 1);
      const budgets = Array.from(
        { length: Number.isSafeInteger(H) && H > 0 && H < 1000 ? H + (t.rand() < 0.05 ? 1 : 0) : 2 },
        () => hostile(() => t.int(40), 0.1),
      );
      const inp = {
        q,
        k,
        S,
        P: Pt,
        heads: H,
        headDim: d,
        budgets,
        queryBlock: qb,
        keyBlock: kb,
        order: t.rand() < 0.05 ? 'sideways' : t.pick(['frames', 'permuted']),
      } as never;
      await t.run('masks', () =>
        agree(
          [() => P.buildMasks(simd, inp), () => P.buildMasks(scalar, inp), () => P.buildMasksJS(inp)],
          (a, b) =>
            a.offsets.length === b.offsets.length &&
            a.offsets.every((x, j) => x === b.offsets[j]) &&
            a.indices.length === b.indices.length &&
            a.indices.every((x, j) => x === b.indices[j]),
          (m) => {
            must(m.offsets[0] === 0 && m.offsets[m.offsets.length - 1] === m.indices.length, 'CSR bounds');
            for (let r = 0; r + 1 < m.offsets.length; r++) {
              must(m.offsets[r + 1] >= m.offsets[r], 'offsets ascending');
              for (let j = m.offsets[r] + 1; j < m.offsets[r + 1]; j++)
                must(m.indices[j] > m.indices[j - 1] && m.indices[j] < m.numKeyBlocks, 'row sorted, in range');
            }
          },
        ),
      );
    }
    report(t);
    expect(t.failures, t.failures.slice(0, 10).join('\n')).toEqual([]);
    expect(t.cases).toBe(1800);
  });
});
