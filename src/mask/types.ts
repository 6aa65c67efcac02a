import type { BlockSparseLayout } from '../attention/layout.js';

/**
 * Block-sparse attention masks: the contract between the HeSS planner (producer) and the block-sparse attention
 * kernel (consumer). Keep this type stable.
 *
 * Coordinates are in the *permuted* token order of {@link tokenPermutation} (all S·5 special tokens first, frame by
 * frame, then all patch tokens, frame by frame). Query block r covers permuted tokens [r·queryBlock, (r+1)·queryBlock),
 * key block j covers [j·keyBlock, (j+1)·keyBlock); the last block of each may be partial (N = S·P is not a multiple).
 *
 * The CSR is the attention kernel's own {@link BlockSparseLayout} (the kernel reads a mask as is), one row per
 * (head, query block): head h, query block r keeps key blocks
 * `indices[offsets[h·(numQueryBlocks+1) + r] … offsets[h·(numQueryBlocks+1) + r + 1])`, sorted ascending.
 * Offsets are absolute positions into the one shared `indices` array, so
 * `offsets[h·(numQueryBlocks+1) + numQueryBlocks] === offsets[(h+1)·(numQueryBlocks+1)]`, `offsets[0] === 0` and the
 * last offset is `indices.length`. Every row is non-empty.
 *
 * @example
 * const row = (m: BlockMask, h: number, r: number) => {
 *   const o = h * (m.numQueryBlocks + 1) + r;
 *   return m.indices.subarray(m.offsets[o], m.offsets[o + 1]);
 * };
 */
export interface BlockMask extends BlockSparseLayout {
  /** Tokens per query block (default 128). */
  queryBlock: number;
  /** Tokens per key block (default 64). */
  keyBlock: number;
  /** ⌈N / queryBlock⌉. */
  numQueryBlocks: number;
  /** ⌈N / keyBlock⌉. */
  numKeyBlocks: number;
  /** Attention heads in this mask (one layer). */
  heads: number;
  /** heads·(numQueryBlocks+1) absolute row starts into `indices`. */
  offsets: Uint32Array;
  /** Kept key-block indices, ascending within each row. */
  indices: Uint32Array;
}
