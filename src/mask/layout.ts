import { check } from '../errors.js';

/** Special tokens per frame in VGGT: camera (1) + registers (4), at the start of every frame. */
export const SPECIAL_TOKENS = 5;

/**
 * The token permutation the block-sparse global attention runs in. Frames are concatenated in VGGT
 * (`[camera, 4 registers, patches…]` per frame, P tokens each), which scatters the S·5 special tokens over S·5 /
 * 64 ≈ S key blocks. We gather them to the front so they fill only ⌈5S/keyBlock⌉ key blocks:
 *
 * - permuted position `s·5 + j` (j < 5) ← original `s·P + j` (special token j of frame s);
 * - permuted position `5S + s·(P−5) + p` ← original `s·P + 5 + p` (patch p of frame s).
 *
 * Returns `perm` with `permuted[i] = original[perm[i]]` (a gather). Attention is permutation-equivariant (RoPE
 * positions travel with their tokens), so the runtime gathers Q/K/V with `perm` and scatters O back with
 * {@link inversePermutation} (`out[inv[i]]`… i.e. `O_original[t] = O_permuted[inv[t]]`).
 *
 * @example
 * const perm = tokenPermutation(2, 7); // [0,1,2,3,4, 7,8,9,10,11, 5,6, 12,13]
 */
export function tokenPermutation(S: number, P: number): Uint32Array {
  check(Number.isInteger(S) && S > 0, `tokenPermutation: S must be a positive integer, got ${S}`);
  check(
    Number.isInteger(P) && P >= SPECIAL_TOKENS,
    `tokenPermutation: P must be an integer ≥ ${SPECIAL_TOKENS}, got ${P}`,
    'P = 5 special tokens + patches per frame',
  );
  check(
    S * P <= MAX_TOKENS,
    `tokenPermutation: S·P = ${S * P} tokens is over ${MAX_TOKENS}`,
    'plan fewer frames per call',
  );
  const perm = new Uint32Array(S * P);
  const patches = P - SPECIAL_TOKENS;
  for (let s = 0; s < S; s++) {
    for (let j = 0; j < SPECIAL_TOKENS; j++) perm[s * SPECIAL_TOKENS + j] = s * P + j;
    const base = S * SPECIAL_TOKENS + s * patches;
    for (let p = 0; p < patches; p++) perm[base + p] = s * P + SPECIAL_TOKENS + p;
  }
  return perm;
}

/**
 * Inverse of a permutation: `inv[perm[i]] = i`, so `original[t] = permuted[inv[t]]`.
 *
 * @example
 * const inv = inversePermutation(tokenPermutation(S, P)); // scatter attention output back to frame order
 */
export function inversePermutation(perm: Uint32Array): Uint32Array {
  const inv = new Uint32Array(perm.length).fill(0xffffffff);
  for (let i = 0; i < perm.length; i++) {
    check(perm[i] < perm.length && inv[perm[i]] === 0xffffffff, 'inversePermutation: input is not a permutation');
    inv[perm[i]] = i;
  }
  return inv;
}

/** Block geometry of one layer's mask (see {@link maskLayout}). */
export interface MaskLayout {
  S: number;
  P: number;
  /** Tokens, S·P. */
  N: number;
  queryBlock: number;
  keyBlock: number;
  numQueryBlocks: number;
  numKeyBlocks: number;
  /** Key blocks 0 … specialKeyBlocks−1 hold the 5S special tokens (the last may also hold patches): always kept. */
  specialKeyBlocks: number;
  /** Query blocks 0 … denseQueryBlocks−1 hold at least one special token: they attend densely (all key blocks). */
  denseQueryBlocks: number;
  /**
   * Candidate key blocks = numKeyBlocks − specialKeyBlocks: the only ones ranked. A head budget c_h counts the
   * candidate blocks each sparse query block keeps; special blocks come on top. This is the allocator's cap K.
   */
  candidateKeyBlocks: number;
}

/** The most tokens (S·P) one layer's mask may cover: 2^28 (VGGT-1B: ≈ 195,000 frames at 518²). */
export const MAX_TOKENS = 2 ** 28;

/**
 * Geometry of the block mask for S frames of P tokens (permuted order, see {@link tokenPermutation}).
 *
 * @example
 * const L = maskLayout(32, 1374); // VGGT-1B at 518×392, 32 frames
 * // L.candidateKeyBlocks is the cap K to give allocateBudgets()
 */
export function maskLayout(S: number, P: number, queryBlock = 128, keyBlock = 64): MaskLayout {
  check(Number.isInteger(S) && S > 0, `maskLayout: S must be a positive integer, got ${S}`);
  check(Number.isInteger(P) && P >= SPECIAL_TOKENS, `maskLayout: P must be an integer ≥ 5, got ${P}`);
  for (const [name, v] of [
    ['queryBlock', queryBlock],
    ['keyBlock', keyBlock],
  ] as const) {
    check(Number.isInteger(v) && v > 0 && v <= 65536, `maskLayout: ${name} must be an integer in [1, 65536], got ${v}`);
  }
  const N = S * P;
  check(
    N <= MAX_TOKENS,
    `maskLayout: S·P = ${N} tokens is over the ${MAX_TOKENS} one mask may cover`,
    'plan fewer frames per call',
  );
  const ns = S * SPECIAL_TOKENS;
  const numQueryBlocks = Math.ceil(N / queryBlock);
  const numKeyBlocks = Math.ceil(N / keyBlock);
  const specialKeyBlocks = Math.ceil(ns / keyBlock);
  const denseQueryBlocks = Math.ceil(ns / queryBlock);
  return {
    S,
    P,
    N,
    queryBlock,
    keyBlock,
    numQueryBlocks,
    numKeyBlocks,
    specialKeyBlocks,
    denseQueryBlocks,
    candidateKeyBlocks: numKeyBlocks - specialKeyBlocks,
  };
}

/** The most block indices one layer's mask may hold (2^30 u32 = 4 GiB; offsets are u32). */
export const MAX_MASK_INDICES = 2 ** 30;

/**
 * CSR offsets for per-head budgets: dense rows hold all key blocks, sparse rows the special blocks plus
 * min(c_h, candidates). The same on every backend, so the GPU builder only has to write `indices`.
 */
export function maskOffsets(L: MaskLayout, budgets: ArrayLike<number>): Uint32Array {
  const H = budgets.length;
  check(
    H * (L.numQueryBlocks + 1) <= MAX_MASK_INDICES,
    `heads·(query blocks + 1) = ${H * (L.numQueryBlocks + 1)} CSR rows is over ${MAX_MASK_INDICES}`,
    'plan fewer heads or frames per call',
  );
  const offsets = new Uint32Array(H * (L.numQueryBlocks + 1));
  let o = 0;
  for (let h = 0; h < H; h++) {
    const c = budgets[h];
    check(Number.isInteger(c) && c >= 0, `budget of head ${h} must be a non-negative integer, got ${c}`);
    const sparse = L.specialKeyBlocks + Math.min(c, L.candidateKeyBlocks);
    for (let r = 0; r < L.numQueryBlocks; r++) {
      offsets[h * (L.numQueryBlocks + 1) + r] = o;
      o += r < L.denseQueryBlocks ? L.numKeyBlocks : sparse;
    }
    offsets[h * (L.numQueryBlocks + 1) + L.numQueryBlocks] = o;
  }
  check(
    o <= MAX_MASK_INDICES,
    `the mask would hold ${o} block indices, over the ${MAX_MASK_INDICES} (4 GiB) one call may build`,
    'plan fewer heads or frames per call',
  );
  return offsets;
}
