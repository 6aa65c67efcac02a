import { HessError } from '../errors.js';
import type { PlannerWasm } from '../wasm/planner-module.js';
import { prepare, type MaskInput, type PooledBlocks } from './input.js';
import { toMask } from './reference.js';
import type { BlockMask } from './types.js';

/**
 * Mean-pool one layer's Q (sparse query blocks) and K (candidate key blocks) in Wasm. Q and K are copied into the
 * arena one after the other, so the peak is one [N, heads, d] tensor.
 *
 * @example
 * const pooled = poolBlocks(wasm, { q, k, S, P, heads: 16, headDim: 64, budgets });
 */
export function poolBlocks(wasm: PlannerWasm, inp: MaskInput): PooledBlocks {
  const p = prepare(inp);
  const { L, nQ, nK } = p;
  const H = inp.heads,
    d = inp.headDim;
  const e = wasm.exports;
  wasm.reset();
  const pPerm = wasm.put(p.perm);
  const pQ = wasm.alloc(H * nQ * d * 4);
  const pK = wasm.alloc(H * nK * d * 4);
  const acc = wasm.alloc(H * d * 4);
  const x = wasm.alloc(inp.q.byteLength);
  wasm.f32(x, inp.q.length).set(inp.q);
  e.maskPool(x, pPerm, L.N, H, d, L.queryBlock, L.denseQueryBlocks, nQ, pQ, acc);
  wasm.f32(x, inp.k.length).set(inp.k);
  e.maskPool(x, pPerm, L.N, H, d, L.keyBlock, L.specialKeyBlocks, nK, pK, acc);
  const out = {
    layout: L,
    heads: H,
    headDim: d,
    q: wasm.f32(pQ, H * nQ * d).slice(),
    k: wasm.f32(pK, H * nK * d).slice(),
  };
  wasm.reset();
  return out;
}

/**
 * Rank pooled blocks into one layer's {@link BlockMask} in Wasm: each sparse query block keeps the special key
 * blocks plus its top-c_h candidate key blocks by pooled logit (ties: lower block index); dense query blocks keep all.
 * The pooled input can come from {@link poolBlocks}, the plain-JS pooler or the GPU (gpu-mask.ts): all agree bit for bit.
 *
 * @example
 * const mask = selectBlocks(wasm, pooled, budgets.subarray(layer * 16, layer * 16 + 16));
 */
export function selectBlocks(wasm: PlannerWasm, pooled: PooledBlocks, budgets: ArrayLike<number>): BlockMask {
  const L0 = pooled.layout;
  const p = prepare(
    {
      q: pooled.q,
      k: pooled.k,
      S: L0.S,
      P: L0.P,
      heads: pooled.heads,
      headDim: pooled.headDim,
      budgets,
      queryBlock: L0.queryBlock,
      keyBlock: L0.keyBlock,
    },
    false,
  );
  const { L, nQ, nK } = p;
  const H = pooled.heads,
    d = pooled.headDim;
  if (pooled.q.length !== H * nQ * d || pooled.k.length !== H * nK * d) {
    throw new HessError(
      'SHAPE_MISMATCH',
      `pooled q/k must have ${H * nQ * d} / ${H * nK * d} values, got ${pooled.q.length} / ${pooled.k.length}`,
      'pool with poolBlocks() for the same layout',
    );
  }
  const total = p.offsets[p.offsets.length - 1];
  wasm.reset();
  const pQ = wasm.put(pooled.q);
  const pK = wasm.put(pooled.k);
  const pB = wasm.put(p.budgets);
  const keys = wasm.alloc(Math.max(nK, 1) * 8);
  const hist = wasm.alloc(1024);
  const out = wasm.alloc(total * 4);
  const n = wasm.exports.maskSelect(pQ, pK, H, d, nQ, nK, L.denseQueryBlocks, L.specialKeyBlocks, pB, keys, hist, out);
  if (n !== total)
    throw new HessError(
      'INVALID_ARGUMENT',
      `mask builder wrote ${n} indices, expected ${total}`,
      'this is a bug in hess-vggt; please report it',
    );
  const indices = wasm.u32(out, total).slice();
  wasm.reset();
  return toMask(L, H, p.offsets, indices);
}

/**
 * One layer's per-head block masks in Wasm (SIMD build where available): pool, score, top-c_h.
 *
 * @example
 * const wasm = await PlannerWasm.load();
 * const mask = buildMasks(wasm, { q, k, S: 8, P: 1374, heads: 16, headDim: 64, budgets });
 */
export function buildMasks(wasm: PlannerWasm, inp: MaskInput): BlockMask {
  return selectBlocks(wasm, poolBlocks(wasm, inp), inp.budgets);
}
