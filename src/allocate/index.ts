import { check, HessError } from '../errors.js';
import type { PlannerWasm } from '../wasm/planner-module.js';

/**
 * How head budgets follow the scores:
 * - `hess`: c_h ∝ the layer's HeSS scores (water-filled between floor and cap);
 * - `uniform`: every head gets the uniform budget (the dense-equivalent baseline);
 * - `reverse`: rank-reversed HeSS (an ablation): the head with the i-th largest score receives the i-th smallest
 *   score of that layer, so the score distribution is kept but the most sensitive heads get the least. Ties in
 *   the ranking are broken by lower head index.
 */
export type BudgetPolicy = 'hess' | 'uniform' | 'reverse';

/** Options of {@link allocateBudgets} / {@link allocateReference}. */
export interface AllocateOptions {
  /** Candidate key blocks per query block: the cap K (see maskLayout().candidateKeyBlocks). */
  keyBlocks: number;
  /** Target sparsity ρ ∈ [0, 1]: uniform budget = round((1−ρ)·K) clamped to [floor, K]. Ignored with `total`. */
  sparsity?: number;
  /** Explicit per-layer total C_total (integer in [heads·floor, heads·K]); overrides `sparsity`. */
  total?: number;
  /** Minimum blocks per head (default min(2, K)). */
  floor?: number;
  /** Default 'hess'. */
  policy?: BudgetPolicy;
}

interface Resolved {
  K: number;
  floor: number;
  total: number;
  policy: BudgetPolicy;
}

/**
 * Documented maxima of the allocator (Wasm and JS alike), checked with INVALID_ARGUMENT before any work:
 * - heads per layer ≤ 2^22 (remainder ranking packs the head index into 22 bits of an exact f64 key);
 * - keyBlocks ≤ 2^31 − 1 and the per-layer total (heads·budget) ≤ 2^31 − 1 (the Wasm side is i32);
 * - layers·heads ≤ 2^26 (scores, budgets and scratch must fit in the 4 GiB Wasm address space with room to spare).
 * VGGT-1B needs heads = 16, layers = 24 and keyBlocks ≈ 21.5·S.
 */
export const ALLOCATE_LIMITS = {
  maxHeads: 2 ** 22,
  maxKeyBlocks: 2 ** 31 - 1,
  maxTotal: 2 ** 31 - 1,
  maxEntries: 2 ** 26,
} as const;
const MAX_HEADS = ALLOCATE_LIMITS.maxHeads;

/** round((1−ρ)·K) clamped to [floor, K]: what every head would get under uniform sparsity ρ. */
export function uniformBudget(K: number, sparsity: number, floor = Math.min(2, K)): number {
  check(Number.isInteger(K) && K >= 0, `keyBlocks must be a non-negative integer, got ${K}`);
  check(Number.isFinite(sparsity) && sparsity >= 0 && sparsity <= 1, `sparsity must be in [0, 1], got ${sparsity}`);
  return Math.min(K, Math.max(floor, Math.round((1 - sparsity) * K)));
}

function resolve(heads: number, o: AllocateOptions): Resolved {
  const K = o.keyBlocks;
  check(
    Number.isInteger(K) && K >= 0 && K <= ALLOCATE_LIMITS.maxKeyBlocks,
    `keyBlocks must be an integer in [0, 2^31 − 1], got ${K}`,
    'pass maskLayout(S, P).candidateKeyBlocks',
  );
  const floor = o.floor ?? Math.min(2, K);
  check(Number.isInteger(floor) && floor >= 0 && floor <= K, `floor must be an integer in [0, ${K}], got ${floor}`);
  let total: number;
  if (o.total !== undefined) {
    total = o.total;
    check(
      Number.isInteger(total) && total >= heads * floor && total <= heads * K,
      `total must be an integer in [${heads * floor}, ${heads * K}] (heads·floor … heads·K), got ${total}`,
      'pass `sparsity` instead, or a total between the floor and the cap',
    );
  } else {
    check(o.sparsity !== undefined, 'give either `sparsity` or `total`', 'e.g. { keyBlocks: K, sparsity: 0.9 }');
    total = uniformBudget(K, o.sparsity, floor) * heads;
  }
  check(
    total <= ALLOCATE_LIMITS.maxTotal,
    `the per-layer total ${total} (heads·budget) is over the 2^31 − 1 the allocator supports`,
    'plan with fewer key blocks (fewer frames per call) or a higher sparsity',
  );
  const policy = o.policy ?? 'hess';
  check(
    policy === 'hess' || policy === 'uniform' || policy === 'reverse',
    `unknown policy '${String(policy)}'`,
    "use 'hess', 'uniform' or 'reverse'",
  );
  return { K, floor, total, policy };
}

function checkScores(scores: ArrayLike<number>, heads: number): void {
  check(
    Number.isInteger(heads) && heads > 0 && heads <= MAX_HEADS,
    `heads must be an integer in [1, 2^22], got ${heads}`,
  );
  check(
    scores.length <= ALLOCATE_LIMITS.maxEntries,
    `scores has ${scores.length} values, over the 2^26 the allocator takes per call`,
    'allocate fewer layers per call',
  );
  check(
    scores.length > 0 && scores.length % heads === 0,
    `scores has ${scores.length} values, not a multiple of ${heads} heads`,
  );
  for (let l = 0; l < scores.length / heads; l++) {
    let s = 0;
    for (let h = 0; h < heads; h++) {
      const x = scores[l * heads + h];
      if (!(Number.isFinite(x) && x >= 0)) {
        throw new HessError(
          'INVALID_ARGUMENT',
          `score of layer ${l} head ${h} is ${x}`,
          'scores must be finite and ≥ 0 (HeSS scores are normalised per layer)',
        );
      }
      s += x;
    }
    check(s > 0, `all scores of layer ${l} are 0`, 'use policy "uniform" or recompute the HeSS file');
  }
}

/** The scores a policy allocates by, per layer (see {@link BudgetPolicy}). */
export function policyScores(scores: ArrayLike<number>, heads: number, policy: BudgetPolicy): Float64Array {
  const out = Float64Array.from(scores);
  for (let l = 0; l < out.length / heads; l++) {
    const row = out.subarray(l * heads, (l + 1) * heads);
    if (policy === 'uniform') row.fill(1 / heads);
    else if (policy === 'reverse') {
      const orig = Float64Array.from(row);
      const order = Array.from(row.keys()).sort((a, b) => orig[b] - orig[a] || a - b); // descending, stable
      const values = Array.from(orig).sort((a, b) => a - b); // ascending
      order.forEach((h, i) => {
        row[h] = values[i];
      });
    }
  }
  return out;
}

/**
 * Condition each layer's scores for f64 water-filling, in place: scale by a power of two so the largest is in
 * [1, 2) (exact, so the allocation is unchanged), then count scores under 2^-64 (about 5e-20) of the largest as 0. Without it,
 * a score like 5e-324 puts breakpoints floor/w at infinity, where t·0 is NaN and heads fell below the floor.
 */
function conditionScores(w: Float64Array, heads: number): Float64Array {
  for (let l = 0; l < w.length / heads; l++) {
    const row = w.subarray(l * heads, (l + 1) * heads);
    let m = 0;
    for (const x of row) if (x > m) m = x;
    if (m === 0) continue;
    const k = -Math.floor(Math.log2(m));
    // two steps: 2^k alone may overflow (k up to 1074) although the product does not
    const a = 2 ** Math.trunc(k / 2),
      b = 2 ** (k - Math.trunc(k / 2));
    for (let h = 0; h < heads; h++) {
      const x = row[h] * a * b;
      row[h] = x < 2 ** -64 ? 0 : x;
    }
  }
  return w;
}

/**
 * Per-head integer budgets (candidate key blocks kept per sparse query block) for every layer, in Wasm.
 * `scores` is layers×heads, each layer's heads normalised to sum 1 (only ratios within a layer matter).
 * Each layer's budgets sum exactly to C_total, lie in [floor, K], and are monotone in the score.
 *
 * @example
 * const K = maskLayout(32, 1374).candidateKeyBlocks;
 * const budgets = allocateBudgets(wasm, hess.scores.flat(), 16, { keyBlocks: K, sparsity: 0.9 }); // Int32Array(24·16)
 */
export function allocateBudgets(
  wasm: PlannerWasm,
  scores: ArrayLike<number>,
  heads: number,
  opts: AllocateOptions,
): Int32Array {
  checkScores(scores, heads);
  const r = resolve(heads, opts);
  const w = conditionScores(policyScores(scores, heads, r.policy), heads);
  const layers = w.length / heads;
  wasm.reset();
  const ps = wasm.put(w);
  const po = wasm.alloc(layers * heads * 4);
  const scratch = wasm.alloc(heads * 32);
  wasm.exports.allocateBudgets(ps, layers, heads, r.K, r.total, r.floor, po, scratch);
  const out = Int32Array.from(wasm.i32(po, layers * heads));
  wasm.reset();
  return out;
}

/**
 * Plain proportional budgets, the ablation *without* the iterative caps: c_h = clamp(round(C_total·w_h), floor, K)
 * with w_h the policy's scores normalised within the layer. Budget a cap cuts off is not handed to the other heads
 * (that is water-filling's job, {@link allocateBudgets}), so a layer with capped heads keeps fewer than C_total
 * blocks; floors may add a few.
 *
 * @example
 * allocateProportional([0.7, 0.1, 0.1, 0.1], 4, { keyBlocks: 10, sparsity: 0.5 }); // Int32Array [10, 2, 2, 2]
 */
export function allocateProportional(scores: ArrayLike<number>, heads: number, opts: AllocateOptions): Int32Array {
  checkScores(scores, heads);
  const r = resolve(heads, opts);
  const w = policyScores(scores, heads, r.policy);
  const out = new Int32Array(w.length);
  for (let l = 0; l < w.length / heads; l++) {
    const row = w.subarray(l * heads, (l + 1) * heads);
    const sum = row.reduce((a, b) => a + b, 0);
    row.forEach((x, h) => {
      out[l * heads + h] = Math.min(r.K, Math.max(r.floor, Math.round((r.total * x) / sum)));
    });
  }
  return out;
}

/**
 * Plain-JS twin of the Wasm allocator (same operations in the same order; used by the benchmark and to check the
 * builds against each other).
 */
export function allocateJS(scores: ArrayLike<number>, heads: number, opts: AllocateOptions): Int32Array {
  checkScores(scores, heads);
  const r = resolve(heads, opts);
  const w = conditionScores(policyScores(scores, heads, r.policy), heads);
  const out = new Int32Array(w.length);
  const c = new Float64Array(heads);
  const bp = new Float64Array(2 * heads);
  for (let l = 0; l < w.length / heads; l++) {
    const sc = w.subarray(l * heads, (l + 1) * heads);
    const lo = r.floor,
      hi = r.K,
      C = r.total;
    let nb = 0,
      maxReach = 0,
      zeros = 0;
    for (let h = 0; h < heads; h++) {
      if (sc[h] > 0) {
        bp[nb++] = lo / sc[h];
        bp[nb++] = hi / sc[h];
        maxReach += hi;
      } else {
        maxReach += lo;
        zeros++;
      }
    }
    if (maxReach <= C) {
      const share = zeros > 0 ? (C - (maxReach - zeros * lo)) / zeros : 0;
      for (let h = 0; h < heads; h++) c[h] = sc[h] > 0 ? hi : Math.min(Math.max(share, lo), hi);
    } else {
      // Sort, then binary-search the first breakpoint where the (monotone) clamped sum reaches C: see alloc.ts.
      const b = bp.subarray(0, nb).sort();
      const g = (t: number) => {
        let s = 0;
        for (let h = 0; h < heads; h++) s += Math.min(Math.max(t * sc[h], lo), hi);
        return s;
      };
      let i0 = 0,
        i1 = nb;
      while (i0 < i1) {
        const m = (i0 + i1) >>> 1;
        if (g(b[m]) >= C) i1 = m;
        else i0 = m + 1;
      }
      const tHi = b[Math.min(i0, nb - 1)],
        tLo = i0 > 0 ? b[i0 - 1] : 0;
      const tm = 0.5 * (tLo + tHi);
      let A = 0,
        B = 0;
      for (let h = 0; h < heads; h++) {
        const v = tm * sc[h];
        if (v <= lo) A += lo;
        else if (v >= hi) A += hi;
        else B += sc[h];
      }
      const t = B > 0 ? (C - A) / B : tLo;
      for (let h = 0; h < heads; h++) {
        const v = tm * sc[h];
        c[h] = v <= lo ? lo : v >= hi ? hi : Math.min(Math.max(t * sc[h], lo), hi);
      }
    }
    roundLargestRemainder(c, r.total, r.K, out.subarray(l * heads, (l + 1) * heads), bp);
  }
  return out;
}

/**
 * Floors, then +1 to the largest remainders (quantised to 2^-30; ties: lower head index), in O(H log H): each head
 * gets at most one +1, so it is one sort of the eligible heads, packed into exact keys r·2^22 + (2^22−1−h) as in
 * assembly/alloc.ts. A remainder-free shortfall (inconsistent inputs only) fills the first non-capped heads.
 */
function roundLargestRemainder(
  c: Float64Array,
  total: number,
  cap: number,
  out: Int32Array,
  keys = new Float64Array(c.length),
): void {
  let assigned = 0;
  for (let h = 0; h < c.length; h++) {
    out[h] = Math.floor(c[h]);
    assigned += out[h];
  }
  let deficit = total - assigned;
  if (deficit <= 0) return;
  let n = 0;
  for (let h = 0; h < c.length; h++) {
    const r = Math.floor((c[h] - Math.floor(c[h])) * 1073741824 + 0.5); // quantised: see assembly/alloc.ts
    if (out[h] < cap && out[h] <= c[h]) keys[n++] = r * MAX_HEADS + (MAX_HEADS - 1 - h);
  }
  const sorted = keys.subarray(0, n).sort();
  for (let i = n - 1; i >= 0 && deficit > 0; i--, deficit--) out[MAX_HEADS - 1 - (sorted[i] % MAX_HEADS)]++;
  for (let p = 0; deficit > 0; deficit--) {
    while (p < c.length && out[p] >= cap) p++;
    if (p >= c.length) break;
    out[p]++;
  }
}

/**
 * Float64 reference by a different route: bisection on the water level t of Σ clamp(t·w_h, floor, K) = C_total
 * (what iterative water-filling converges to), then largest-remainder rounding.
 *
 * @example
 * allocateReference([0.7, 0.1, 0.1, 0.1], 4, { keyBlocks: 10, sparsity: 0.5 }); // Int32Array [10, 4, 3, 3]
 */
export function allocateReference(scores: ArrayLike<number>, heads: number, opts: AllocateOptions): Int32Array {
  checkScores(scores, heads);
  const r = resolve(heads, opts);
  const w = conditionScores(policyScores(scores, heads, r.policy), heads);
  const out = new Int32Array(w.length);
  for (let l = 0; l < w.length / heads; l++) {
    const sc = w.subarray(l * heads, (l + 1) * heads);
    const g = (t: number) => sc.reduce((s, x) => s + Math.min(Math.max(t * x, r.floor), r.K), 0);
    const c = new Float64Array(heads);
    const positive = sc.filter((x) => x > 0).length;
    if (positive * r.K + (heads - positive) * r.floor <= r.total) {
      const share = (r.total - positive * r.K) / (heads - positive || 1);
      sc.forEach((x, h) => {
        c[h] = x > 0 ? r.K : Math.min(Math.max(share, r.floor), r.K);
      });
    } else {
      let lo = 0,
        hi = 1;
      while (g(hi) < r.total) hi *= 2;
      for (let i = 0; i < 2000 && lo < hi; i++) {
        const mid = 0.5 * (lo + hi);
        if (mid === lo || mid === hi) break;
        if (g(mid) < r.total) lo = mid;
        else hi = mid;
      }
      // hi: the smallest representable level reaching the total; snap near-integers that bisection leaves ±1 ulp off.
      sc.forEach((x, h) => {
        const v = Math.min(Math.max(hi * x, r.floor), r.K);
        const n = Math.round(v);
        c[h] = Math.abs(v - n) < 1e-9 ? n : v;
      });
    }
    roundLargestRemainder(c, r.total, r.K, out.subarray(l * heads, (l + 1) * heads));
  }
  return out;
}
