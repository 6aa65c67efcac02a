import { check } from '../errors.js';
import { type AttentionShape, type BlockSparseLayout, layoutRow, validateLayout, validateShape } from './layout.js';

/**
 * Float64 CPU reference of softmax(Q·Kᵀ·scale + mask)·V on token-major `[N, H, D]` arrays. `mask`, when given, is
 * an additive `[H, N, N]` mask (row = query, column = key; use −Infinity to drop a key). A row whose keys are all
 * −Infinity gives NaN, as the formula does. O(H·N²·D): for tests and small shapes only.
 *
 * @example
 * const ref = attentionReference(q, k, v, { N: 64, H: 2, D: 16 }); // Float64Array [N·H·D]
 */
export function attentionReference(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  shape: AttentionShape,
  mask?: ArrayLike<number>,
): Float64Array {
  const scale = validateShape(shape, 'attentionReference');
  const { N, H, D } = shape;
  check(
    q.length === N * H * D && k.length === N * H * D && v.length === N * H * D,
    `attentionReference: q, k, v must have N·H·D = ${N * H * D} elements`,
  );
  check(!mask || mask.length === H * N * N, `attentionReference: mask must have H·N·N = ${H * N * N} elements`);
  const out = new Float64Array(N * H * D);
  const s = new Float64Array(N);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < N; i++) {
      const qo = (i * H + h) * D;
      let mx = -Infinity;
      for (let j = 0; j < N; j++) {
        const ko = (j * H + h) * D;
        let d = 0;
        for (let c = 0; c < D; c++) d += q[qo + c] * k[ko + c];
        s[j] = d * scale + (mask ? mask[(h * N + i) * N + j] : 0);
        if (s[j] > mx) mx = s[j];
      }
      let z = 0;
      for (let j = 0; j < N; j++) z += s[j] = s[j] === -Infinity ? 0 : Math.exp(s[j] - mx);
      for (let j = 0; j < N; j++) {
        const p = s[j] / z;
        if (p === 0) continue;
        const vo = (j * H + h) * D;
        for (let c = 0; c < D; c++) out[qo + c] += p * v[vo + c];
      }
      if (z === 0 || !Number.isFinite(mx)) for (let c = 0; c < D; c++) out[qo + c] = NaN;
    }
  }
  return out;
}

/**
 * The additive `[H, N, N]` mask equivalent to a block-sparse layout: 0 where the key's block is listed for the
 * query's (head, query block), −Infinity elsewhere. `attentionReference(q, k, v, shape, layoutToMask(...))` is the
 * mask-equivalent reference of block-sparse attention.
 *
 * @example
 * const mask = layoutToMask(shape, layout);
 */
export function layoutToMask(shape: AttentionShape, layout: BlockSparseLayout): Float64Array {
  const { nQB } = validateLayout(shape, layout);
  const { N, H } = shape;
  const mask = new Float64Array(H * N * N).fill(-Infinity);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < N; i++) {
      const r = layoutRow(nQB, h, Math.floor(i / layout.queryBlock));
      for (let e = layout.offsets[r]; e < layout.offsets[r + 1]; e++) {
        const k0 = layout.indices[e] * layout.keyBlock;
        const k1 = Math.min(k0 + layout.keyBlock, N);
        mask.fill(0, (h * N + i) * N + k0, (h * N + i) * N + k1);
      }
    }
  }
  return mask;
}

/**
 * Float64 reference of block-sparse attention computed directly from the lists (only listed keys are visited).
 *
 * @example
 * const ref = blockSparseReference(q, k, v, shape, layout);
 */
export function blockSparseReference(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  shape: AttentionShape,
  layout: BlockSparseLayout,
): Float64Array {
  const { nQB } = validateLayout(shape, layout);
  const scale = shape.scale ?? 1 / Math.sqrt(shape.D);
  const { N, H, D } = shape;
  check(
    q.length === N * H * D && k.length === N * H * D && v.length === N * H * D,
    `blockSparseReference: q, k, v must have N·H·D = ${N * H * D} elements`,
  );
  const out = new Float64Array(N * H * D);
  const keys: number[] = [];
  const s: number[] = [];
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < N; i++) {
      const r = layoutRow(nQB, h, Math.floor(i / layout.queryBlock));
      keys.length = 0;
      for (let e = layout.offsets[r]; e < layout.offsets[r + 1]; e++) {
        const k0 = layout.indices[e] * layout.keyBlock;
        for (let j = k0; j < Math.min(k0 + layout.keyBlock, N); j++) keys.push(j);
      }
      const qo = (i * H + h) * D;
      let mx = -Infinity;
      s.length = keys.length;
      for (let t = 0; t < keys.length; t++) {
        const ko = (keys[t] * H + h) * D;
        let d = 0;
        for (let c = 0; c < D; c++) d += q[qo + c] * k[ko + c];
        s[t] = d * scale;
        if (s[t] > mx) mx = s[t];
      }
      let z = 0;
      for (let t = 0; t < keys.length; t++) z += s[t] = Math.exp(s[t] - mx);
      for (let t = 0; t < keys.length; t++) {
        const p = s[t] / z;
        const vo = (keys[t] * H + h) * D;
        for (let c = 0; c < D; c++) out[qo + c] += p * v[vo + c];
      }
    }
  }
  return out;
}
