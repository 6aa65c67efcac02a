import { check, HessError } from '../errors.js';
import { maskLayout, maskOffsets, tokenPermutation, type MaskLayout } from './layout.js';

/** One layer's planning input: Q and K after q/k-norm and RoPE, token-major [N, heads, headDim] f32. */
export interface MaskInput {
  q: Float32Array;
  k: Float32Array;
  /** Frames. */
  S: number;
  /** Tokens per frame: 5 special + patches. */
  P: number;
  heads: number;
  /** Multiple of 4 (VGGT: 64). */
  headDim: number;
  /** Candidate key blocks kept per sparse query block, per head (from allocateBudgets, one layer's row). */
  budgets: ArrayLike<number>;
  queryBlock?: number;
  keyBlock?: number;
  /** 'frames' (default): VGGT's frame-concatenated order; 'permuted': already gathered with tokenPermutation. */
  order?: 'frames' | 'permuted';
}

/** Pooled blocks of one layer: what the ranking step needs (can be computed on the GPU). */
export interface PooledBlocks {
  layout: MaskLayout;
  heads: number;
  headDim: number;
  /** f32 [heads, numQueryBlocks − denseQueryBlocks, headDim]: sparse query blocks only, trunc12-rounded means. */
  q: Float32Array;
  /** f32 [heads, candidateKeyBlocks, headDim]: candidate key blocks only, trunc12-rounded means. */
  k: Float32Array;
}

export interface Prepared {
  L: MaskLayout;
  perm: Uint32Array;
  budgets: Int32Array;
  offsets: Uint32Array;
  nQ: number;
  nK: number;
}

/** Validate a {@link MaskInput} and derive layout, permutation, budgets and CSR offsets. */
export function prepare(inp: MaskInput, needTensors = true): Prepared {
  const L = maskLayout(inp.S, inp.P, inp.queryBlock ?? 128, inp.keyBlock ?? 64);
  check(Number.isInteger(inp.heads) && inp.heads > 0, `heads must be a positive integer, got ${inp.heads}`);
  check(
    Number.isInteger(inp.headDim) && inp.headDim > 0 && inp.headDim % 4 === 0,
    `headDim must be a positive multiple of 4, got ${inp.headDim}`,
    'pad the head dimension with zeros to a multiple of 4',
  );
  check(
    inp.budgets.length === inp.heads,
    `budgets has ${inp.budgets.length} entries, expected ${inp.heads} (one per head)`,
  );
  if (needTensors) {
    const n = L.N * inp.heads * inp.headDim;
    for (const [name, t] of [
      ['q', inp.q],
      ['k', inp.k],
    ] as const) {
      if (!(t instanceof Float32Array) || t.length !== n) {
        throw new HessError(
          'SHAPE_MISMATCH',
          `${name} must be a Float32Array of [N=${L.N}, ${inp.heads}, ${inp.headDim}] = ${n} values, got ${t?.length}`,
          'pass one layer’s Q/K after q/k-norm and RoPE, token-major',
        );
      }
    }
  }
  const order = inp.order ?? 'frames';
  check(order === 'frames' || order === 'permuted', `order must be 'frames' or 'permuted', got '${String(order)}'`);
  const perm = order === 'frames' ? tokenPermutation(inp.S, inp.P) : Uint32Array.from({ length: L.N }, (_, i) => i);
  // Checked before the Int32Array conversion, which would silently turn 1.5 into 1 and NaN into 0.
  for (let h = 0; h < inp.heads; h++) {
    const c = inp.budgets[h];
    check(
      Number.isInteger(c) && c >= 0 && c <= 2 ** 31 - 1,
      `budget of head ${h} must be a non-negative integer ≤ 2^31 − 1, got ${c}`,
      'use the integer budgets allocateBudgets() returns',
    );
  }
  const budgets = Int32Array.from(inp.budgets);
  return {
    L,
    perm,
    budgets,
    offsets: maskOffsets(L, budgets),
    nQ: L.numQueryBlocks - L.denseQueryBlocks,
    nK: L.candidateKeyBlocks,
  };
}
