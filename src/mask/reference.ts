import type { BlockMask } from './types.js';
import { prepare, type MaskInput, type PooledBlocks } from './input.js';

// Plain-JS implementations of mask planning:
//  - buildMasksJS: the exact f32 contract of assembly/mask.ts (same bits, same masks), without Wasm;
//  - buildMasksReference: float64 means, softmax over candidate key blocks, ranked by probability (ties: lower
//    index). The f32 builders agree with it up to the trunc12 rounding of pooled means (see the tests).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fr = Math.fround;

/** Keep the top 12 significand bits of an f32 (zero/denormal → +0), as the Wasm and WGSL builders do. */
export function trunc12(x: number): number {
  f32[0] = x;
  u32[0] = (u32[0] & 0x7f800000) === 0 ? 0 : u32[0] & 0xfffff000;
  return f32[0];
}

/** Order-preserving u32 key of an f32 score (zero/denormal → +0). */
export function sortKey(x: number): number {
  f32[0] = x;
  let b = u32[0];
  if ((b & 0x7f800000) === 0) b = 0;
  return (b >>> 31 ? ~b : b | 0x80000000) >>> 0;
}

/** f32 pooling exactly as maskPool (Wasm) and mask_pool.wgsl: [heads, numBlocks, d]. */
export function poolJS(
  x: Float32Array,
  perm: Uint32Array,
  N: number,
  heads: number,
  d: number,
  blockSize: number,
  firstBlock: number,
  numBlocks: number,
): Float32Array {
  const row = heads * d;
  const out = new Float32Array(heads * numBlocks * d);
  const acc = new Float32Array(row);
  for (let b = 0; b < numBlocks; b++) {
    const t0 = (firstBlock + b) * blockSize;
    const t1 = Math.min(t0 + blockSize, N);
    acc.fill(0);
    for (let t = t0; t < t1; t++) {
      const src = perm[t] * row;
      for (let i = 0; i < row; i++) acc[i] = fr(acc[i] + x[src + i]);
    }
    const inv = fr(1 / (t1 - t0));
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < d; i++) out[(h * numBlocks + b) * d + i] = trunc12(fr(acc[h * d + i] * inv));
    }
  }
  return out;
}

/** Pool one layer's Q and K in plain JS (f32 contract). */
export function poolBlocksJS(inp: MaskInput): PooledBlocks {
  const p = prepare(inp);
  const { L } = p;
  return {
    layout: L,
    heads: inp.heads,
    headDim: inp.headDim,
    q: poolJS(inp.q, p.perm, L.N, inp.heads, inp.headDim, L.queryBlock, L.denseQueryBlocks, p.nQ),
    k: poolJS(inp.k, p.perm, L.N, inp.heads, inp.headDim, L.keyBlock, L.specialKeyBlocks, p.nK),
  };
}

function dot4(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  for (let i = 0; i < d; i += 4) {
    s0 = fr(s0 + fr(a[ao + i] * b[bo + i]));
    s1 = fr(s1 + fr(a[ao + i + 1] * b[bo + i + 1]));
    s2 = fr(s2 + fr(a[ao + i + 2] * b[bo + i + 2]));
    s3 = fr(s3 + fr(a[ao + i + 3] * b[bo + i + 3]));
  }
  return fr(fr(s0 + s1) + fr(s2 + s3));
}

/** Indices of the c largest keys (ties: lower index), ascending, by radix select. */
function selectTop(keys: Uint32Array, n: number, c: number, hist: Uint32Array, emit: (j: number) => void): void {
  let prefix = 0,
    mask = 0,
    remaining = c;
  for (let shift = 24; shift >= 0; shift -= 8) {
    hist.fill(0);
    for (let j = 0; j < n; j++) if ((keys[j] & mask) >>> 0 === prefix) hist[(keys[j] >>> shift) & 255]++;
    for (let b = 255; b >= 0; b--) {
      if (hist[b] >= remaining) {
        prefix = (prefix | (b << shift)) >>> 0;
        break;
      }
      remaining -= hist[b];
    }
    mask = (mask | (255 << shift)) >>> 0;
  }
  let eq = 0;
  for (let j = 0; j < n; j++) if (keys[j] > prefix || (keys[j] === prefix && eq++ < remaining)) emit(j);
}

/** Rank pooled blocks into a mask in plain JS (f32 contract). */
export function selectBlocksJS(pooled: PooledBlocks, budgets: ArrayLike<number>): BlockMask {
  const p = prepare(
    {
      q: pooled.q,
      k: pooled.k,
      S: pooled.layout.S,
      P: pooled.layout.P,
      heads: pooled.heads,
      headDim: pooled.headDim,
      budgets,
      queryBlock: pooled.layout.queryBlock,
      keyBlock: pooled.layout.keyBlock,
    },
    false,
  );
  const { L, nQ, nK } = p;
  const d = pooled.headDim;
  const indices = new Uint32Array(p.offsets[p.offsets.length - 1]);
  const keys = new Uint32Array(nK);
  const hist = new Uint32Array(256);
  let o = 0;
  const emit = (j: number) => {
    indices[o++] = L.specialKeyBlocks + j;
  };
  for (let h = 0; h < pooled.heads; h++) {
    for (let r = 0; r < L.denseQueryBlocks; r++) for (let j = 0; j < L.numKeyBlocks; j++) indices[o++] = j;
    const c = Math.min(p.budgets[h], nK);
    for (let r = 0; r < nQ; r++) {
      for (let j = 0; j < L.specialKeyBlocks; j++) indices[o++] = j;
      if (c >= nK) {
        for (let j = 0; j < nK; j++) emit(j);
        continue;
      }
      if (c <= 0) continue;
      const qo = (h * nQ + r) * d;
      for (let j = 0; j < nK; j++) keys[j] = sortKey(dot4(pooled.q, qo, pooled.k, (h * nK + j) * d, d));
      selectTop(keys, nK, c, hist, emit);
    }
  }
  return toMask(p.L, pooled.heads, p.offsets, indices);
}

/**
 * One layer's block masks in plain JS, bit-identical to the Wasm and WGSL builders.
 *
 * @example
 * const mask = buildMasksJS({ q, k, S: 2, P: 261, heads: 16, headDim: 64, budgets });
 */
export function buildMasksJS(inp: MaskInput): BlockMask {
  return selectBlocksJS(poolBlocksJS(inp), inp.budgets);
}

export function toMask(
  L: { queryBlock: number; keyBlock: number; numQueryBlocks: number; numKeyBlocks: number },
  heads: number,
  offsets: Uint32Array,
  indices: Uint32Array,
): BlockMask {
  return {
    queryBlock: L.queryBlock,
    keyBlock: L.keyBlock,
    numQueryBlocks: L.numQueryBlocks,
    numKeyBlocks: L.numKeyBlocks,
    heads,
    offsets,
    indices,
  };
}

/**
 * Float64 reference: pooled means, p = softmax over candidate key blocks of (q̄·k̄)/√d per sparse query block.
 * Returns the mask and, per (head, sparse query block), the probabilities (for tolerance-aware comparisons).
 *
 * @example
 * const { mask, probs } = buildMasksReference(input);
 */
export function buildMasksReference(inp: MaskInput): { mask: BlockMask; probs: Float64Array[] } {
  const p = prepare(inp);
  const { L, nQ, nK, perm } = p;
  const H = inp.heads,
    d = inp.headDim,
    row = H * d;
  const pool = (x: Float32Array, bs: number, first: number, n: number) => {
    const out = new Float64Array(H * n * d);
    for (let b = 0; b < n; b++) {
      const t0 = (first + b) * bs,
        t1 = Math.min(t0 + bs, L.N);
      for (let t = t0; t < t1; t++)
        for (let i = 0; i < row; i++) out[(Math.floor(i / d) * n + b) * d + (i % d)] += x[perm[t] * row + i];
      for (let h = 0; h < H; h++) for (let i = 0; i < d; i++) out[(h * n + b) * d + i] /= t1 - t0;
    }
    return out;
  };
  const pq = pool(inp.q, L.queryBlock, L.denseQueryBlocks, nQ);
  const pk = pool(inp.k, L.keyBlock, L.specialKeyBlocks, nK);
  const indices: number[] = [];
  const probs: Float64Array[] = [];
  for (let h = 0; h < H; h++) {
    for (let r = 0; r < L.denseQueryBlocks; r++) for (let j = 0; j < L.numKeyBlocks; j++) indices.push(j);
    const c = Math.min(p.budgets[h], nK);
    for (let r = 0; r < nQ; r++) {
      const logits = new Float64Array(nK);
      for (let j = 0; j < nK; j++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += pq[(h * nQ + r) * d + i] * pk[(h * nK + j) * d + i];
        logits[j] = s / Math.sqrt(d);
      }
      const m = Math.max(...logits);
      const e = logits.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      const pr = e.map((x) => x / z);
      probs.push(pr);
      const order = Array.from(pr.keys())
        .sort((a, b) => pr[b] - pr[a] || a - b)
        .slice(0, c)
        .sort((a, b) => a - b);
      for (let j = 0; j < L.specialKeyBlocks; j++) indices.push(j);
      for (const j of order) indices.push(L.specialKeyBlocks + j);
    }
  }
  return { mask: toMask(L, H, p.offsets, Uint32Array.from(indices)), probs };
}
