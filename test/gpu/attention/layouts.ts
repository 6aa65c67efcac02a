// Random block-sparse layouts for the attention tests: every head keeps its own fraction of key blocks, every
// (head, query block) row keeps at least one block, rows are sorted and unique.
import { type AttentionShape, type BlockSparseLayout, blockCounts } from '../../../src/attention/layout.js';

export function randomLayout(
  shape: AttentionShape,
  queryBlock: number,
  keyBlock: number,
  keepPerHead: number[],
  rand: () => number,
): BlockSparseLayout {
  const { nQB, nKB } = blockCounts(shape, { queryBlock, keyBlock });
  const offsets = new Uint32Array(shape.H * (nQB + 1));
  const idx: number[] = [];
  for (let h = 0; h < shape.H; h++) {
    const want = Math.max(1, Math.round(keepPerHead[h % keepPerHead.length] * nKB));
    offsets[h * (nQB + 1)] = idx.length;
    for (let i = 0; i < nQB; i++) {
      const all = Array.from({ length: nKB }, (_, k) => k);
      for (let k = nKB - 1; k > 0; k--) {
        const j = Math.floor(rand() * (k + 1));
        [all[k], all[j]] = [all[j], all[k]];
      }
      idx.push(...all.slice(0, want).sort((a, b) => a - b));
      offsets[h * (nQB + 1) + i + 1] = idx.length;
    }
  }
  return { queryBlock, keyBlock, offsets, indices: Uint32Array.from(idx) };
}
