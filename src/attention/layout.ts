import { HessError, check } from '../errors.js';

/**
 * Shape of one attention call. Q, K, V and O are token-major `[N, H, D]` (= `[N, H·D]`, element
 * `(n, h, k)` at `(n·H + h)·D + k`), exactly what a Linear followed by Reshape produces, with no Transpose.
 */
export interface AttentionShape {
  /** Tokens (query and key count; global attention is self-attention over all S·P tokens). Per sequence when batched. */
  N: number;
  /** Heads. */
  H: number;
  /** Head dim (a multiple of 4, at most 128; VGGT uses 64, the tiny fixture 16). */
  D: number;
  /** Softmax scale (default 1/√D). */
  scale?: number;
  /**
   * Independent sequences of N tokens each (default 1), stacked token-major: the buffers are `[batch·N, H, D]` and
   * sequence b attends only to its own tokens (VGGT's frame attention: batch = frames, N = tokens per frame).
   * Dense attention only.
   */
  batch?: number;
}

/**
 * Per-head block-sparse key lists, CSR-style: the one layout of the project, produced by the mask planners (Wasm,
 * JS and WGSL; their `BlockMask` adds the block counts) and read as is by the attention kernel and its
 * references. Query tokens are cut into blocks of `queryBlock` tokens (nQB = ⌈N / queryBlock⌉ per head, the last one
 * may be short) and key tokens into blocks of `keyBlock` (nKB = ⌈N / keyBlock⌉).
 *
 * Each head has its own nQB + 1 offsets, heads one after another: head h, query block i attends to key blocks
 * `indices[offsets[h·(nQB+1) + i] .. offsets[h·(nQB+1) + i + 1])` (see {@link layoutRow}). Offsets are absolute
 * positions in the one shared `indices` array, so a head's last offset equals the next head's first, and any one
 * head's `offsets.subarray(h·(nQB+1), (h+1)·(nQB+1))` is a CSR of its own.
 *
 * Rules (checked on the host by {@link validateLayout}): `offsets.length = H·(nQB + 1)`, `offsets[0] = 0`,
 * offsets non-decreasing and continuous across heads, last offset `= indices.length`; every row non-empty (else
 * `EMPTY_ROW`: an empty row would be 0/0 = NaN); each row's indices strictly increasing (sorted, no duplicates: a
 * duplicate would count its keys twice) and `< nKB`. Different heads may keep different numbers of blocks. Special
 * tokens are the caller's business: the kernel attends to exactly the blocks listed.
 *
 * @example
 * const { nQB } = validateLayout(shape, layout);
 * const start = layout.offsets[layoutRow(nQB, h, i)], end = layout.offsets[layoutRow(nQB, h, i) + 1];
 */
export interface BlockSparseLayout {
  /** Query block size in tokens (the planner's default is 128). */
  queryBlock: number;
  /** Key block size in tokens (the planner's default is 64). */
  keyBlock: number;
  offsets: ArrayLike<number>;
  indices: ArrayLike<number>;
}

export const DEFAULT_QUERY_BLOCK = 128;
export const DEFAULT_KEY_BLOCK = 64;

const isPosInt = (v: number) => Number.isInteger(v) && v > 0;

/** Validate an {@link AttentionShape}; returns the effective scale. */
export function validateShape(s: AttentionShape, what = 'attention'): number {
  for (const k of ['N', 'H', 'D'] as const) {
    check(
      isPosInt(s[k]),
      `${what}: ${k} must be a positive integer, got ${s[k]}`,
      'pass the token count N, heads H and head dim D',
    );
  }
  const batch = s.batch ?? 1;
  check(
    isPosInt(batch),
    `${what}: batch must be a positive integer, got ${s.batch}`,
    'pass the number of independent sequences',
  );
  check(
    s.D % 4 === 0 && s.D <= 128,
    `${what}: head dim D must be a multiple of 4 and at most 128, got ${s.D}`,
    'VGGT uses D = 64; pad the head dim to a multiple of 4 otherwise',
  );
  const scale = s.scale ?? 1 / Math.sqrt(s.D);
  check(Number.isFinite(scale) && scale > 0, `${what}: scale must be a positive finite number, got ${s.scale}`);
  return scale;
}

/** Index into `offsets` of head h, query block i (its key blocks end at the next offset). */
export function layoutRow(nQB: number, h: number, i: number): number {
  return h * (nQB + 1) + i;
}

/** Block counts of a layout for a shape. */
export function blockCounts(
  shape: AttentionShape,
  layout: Pick<BlockSparseLayout, 'queryBlock' | 'keyBlock'>,
): { nQB: number; nKB: number } {
  return { nQB: Math.ceil(shape.N / layout.queryBlock), nKB: Math.ceil(shape.N / layout.keyBlock) };
}

/**
 * Check a block-sparse layout against a shape, with typed errors: INVALID_ARGUMENT for malformed lists,
 * EMPTY_ROW for a (head, query block) with no key block.
 *
 * @example
 * validateLayout({ N: 300, H: 2, D: 64 }, denseLayout({ N: 300, H: 2, D: 64 }));
 */
export function validateLayout(shape: AttentionShape, layout: BlockSparseLayout): { nQB: number; nKB: number } {
  validateShape(shape, 'block-sparse attention');
  check(
    (shape.batch ?? 1) === 1,
    `block-sparse attention: batch must be 1, got ${shape.batch}`,
    'run block-sparse attention on one sequence (dense attention takes a batch)',
  );
  const { queryBlock, keyBlock, offsets, indices } = layout;
  check(
    isPosInt(queryBlock) && isPosInt(keyBlock),
    `block-sparse attention: queryBlock and keyBlock must be positive integers, got ${queryBlock} and ${keyBlock}`,
    `use the planner's defaults (${DEFAULT_QUERY_BLOCK} and ${DEFAULT_KEY_BLOCK})`,
  );
  const { nQB, nKB } = blockCounts(shape, layout);
  const H = shape.H;
  const count = H * (nQB + 1);
  check(
    offsets?.length === count,
    `block-sparse attention: offsets has ${offsets?.length} entries, expected H·(nQB + 1) = ${H}·${nQB + 1} = ${count}`,
    'give each head nQB + 1 offsets, heads one after another (a head ends where the next begins)',
  );
  check(offsets[0] === 0, `block-sparse attention: offsets[0] must be 0, got ${offsets[0]}`);
  check(
    offsets[count - 1] === indices.length,
    `block-sparse attention: offsets[last] = ${offsets[count - 1]} but indices has ${indices.length} entries`,
    'the last offset is the total number of listed blocks',
  );
  for (let h = 0; h < H; h++) {
    if (h > 0) {
      const end = offsets[layoutRow(nQB, h - 1, nQB)];
      check(
        offsets[layoutRow(nQB, h, 0)] === end,
        `block-sparse attention: head ${h} starts at ${offsets[layoutRow(nQB, h, 0)]} but head ${h - 1} ends at ${end}`,
        "offsets are absolute positions in indices: repeat each head's end offset as the next head's start",
      );
    }
    for (let i = 0; i < nQB; i++) {
      const r = layoutRow(nQB, h, i);
      const a = offsets[r];
      const b = offsets[r + 1];
      check(
        Number.isInteger(b) && b >= a,
        `block-sparse attention: offsets must be non-decreasing integers, offsets[${r + 1}] = ${b} after ${a}`,
      );
      if (b === a) {
        throw new HessError(
          'EMPTY_ROW',
          `block-sparse attention: head ${h}, query block ${i} lists no key block (its softmax would be 0/0)`,
          'keep at least one key block per (head, query block), e.g. the diagonal block or the special-token block',
        );
      }
      let prev = -1;
      for (let e = a; e < b; e++) {
        const k = indices[e];
        check(
          Number.isInteger(k) && k >= 0 && k < nKB,
          `block-sparse attention: indices[${e}] = ${k} is not a key block in [0, ${nKB}) (head ${h}, query block ${i})`,
          `key blocks are ⌈N / keyBlock⌉ = ${nKB} here`,
        );
        check(
          k > prev,
          `block-sparse attention: key blocks of head ${h}, query block ${i} must be strictly increasing, got ${prev} then ${k}`,
          'sort each row and drop duplicates (a duplicate would count its keys twice)',
        );
        prev = k;
      }
    }
  }
  return { nQB, nKB };
}

/**
 * The layout that keeps every key block (block-sparse attention with it equals dense attention).
 *
 * @example
 * const all = denseLayout({ N: 2748, H: 16, D: 64 }); // 128-token query blocks, 64-token key blocks
 */
export function denseLayout(
  shape: AttentionShape,
  queryBlock = DEFAULT_QUERY_BLOCK,
  keyBlock = DEFAULT_KEY_BLOCK,
): BlockSparseLayout {
  const { nQB, nKB } = blockCounts(shape, { queryBlock, keyBlock });
  const rows = shape.H * nQB;
  const offsets = new Uint32Array(shape.H * (nQB + 1));
  const indices = new Uint32Array(rows * nKB);
  for (let h = 0; h < shape.H; h++) {
    for (let i = 0; i <= nQB; i++) offsets[layoutRow(nQB, h, i)] = (h * nQB + i) * nKB;
  }
  for (let r = 0; r < rows; r++) for (let k = 0; k < nKB; k++) indices[r * nKB + k] = k;
  return { queryBlock, keyBlock, offsets, indices };
}

/**
 * Build a layout from a per-row predicate `keep(head, queryBlock, keyBlock)`.
 *
 * @example
 * const diag = layoutFromPredicate(shape, 128, 64, (h, i, k) => Math.abs(k * 64 - i * 128) < 256);
 */
export function layoutFromPredicate(
  shape: AttentionShape,
  queryBlock: number,
  keyBlock: number,
  keep: (head: number, qBlock: number, kBlock: number) => boolean,
): BlockSparseLayout {
  const { nQB, nKB } = blockCounts(shape, { queryBlock, keyBlock });
  const offsets = new Uint32Array(shape.H * (nQB + 1));
  const idx: number[] = [];
  for (let h = 0; h < shape.H; h++) {
    offsets[layoutRow(nQB, h, 0)] = idx.length;
    for (let i = 0; i < nQB; i++) {
      for (let k = 0; k < nKB; k++) if (keep(h, i, k)) idx.push(k);
      offsets[layoutRow(nQB, h, i + 1)] = idx.length;
    }
  }
  return { queryBlock, keyBlock, offsets, indices: Uint32Array.from(idx) };
}
