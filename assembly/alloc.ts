// HeSS budget allocation per layer: c_h = clamp(t·w_h, floor, cap) with t chosen so that Σ c_h = total (the fixed
// point of iterative water-filling: heads over the cap are clamped and their excess goes to the others in
// proportion to their scores; heads under the floor are raised to it), then largest-remainder rounding to integers.
// Scores are never compared across layers. H is small (16) in VGGT, so this is scalar f64 code (SIMD does not
// help), but every step is O(H log H) so that any H up to MAX_HEADS = 2^22 runs. Mirrored op for op by allocateJS
// in src/allocate/index.ts, which also checks the limits (total ≤ 2^31−1, heads ≤ 2^22) before calling in here.

const HEAD_SLOTS: f64 = 4194304.0; // 2^22 = MAX_HEADS
const HEAD_SLOTS_I: i32 = 4194304;

/** Integer budgets for `layers` rows of `heads` scores (f64 at `scores`) into i32 at `out`. `scratch`: 4·heads f64. */
export function allocateBudgets(scores: usize, layers: i32, heads: i32, cap: i32, total: i32, floor: i32, out: usize, scratch: usize): void {
  for (let l = 0; l < layers; l++) {
    allocateLayer(scores + ((<usize>l * <usize>heads) << 3), heads, cap, total, floor, out + ((<usize>l * <usize>heads) << 2), scratch);
  }
}

// @ts-ignore: decorator
@inline function w(p: usize, h: i32): f64 { return load<f64>(p + (<usize>h << 3)); }

function sumClamped(sc: usize, heads: i32, t: f64, lo: f64, hi: f64): f64 {
  let s: f64 = 0;
  for (let h = 0; h < heads; h++) s += min(max(t * w(sc, h), lo), hi);
  return s;
}

function allocateLayer(sc: usize, heads: i32, cap: i32, total: i32, floor: i32, out: usize, scratch: usize): void {
  const c = scratch;                                   // continuous budgets, f64[heads]
  const bp = scratch + (<usize>heads << 3);            // breakpoints, f64[2·heads]
  const lo = <f64>floor;
  const hi = <f64>cap;
  const C = <f64>total;
  let nb = 0;
  let maxReach: f64 = 0;
  let zeros = 0;
  for (let h = 0; h < heads; h++) {
    const x = w(sc, h);
    if (x > 0) {
      store<f64>(bp + (<usize>nb << 3), lo / x); nb++;
      store<f64>(bp + (<usize>nb << 3), hi / x); nb++;
      maxReach += hi;
    } else {
      maxReach += lo;
      zeros++;
    }
  }
  if (maxReach <= C) {
    // Even t → ∞ cannot reach the total: positive heads saturate, zero-score heads share the rest equally.
    const share = zeros > 0 ? (C - (maxReach - <f64>zeros * lo)) / <f64>zeros : 0;
    for (let h = 0; h < heads; h++) store<f64>(c + (<usize>h << 3), w(sc, h) > 0 ? hi : min(max(share, lo), hi));
  } else {
    // Sort the breakpoints (2·heads values; heapsort: O(n log n), in place), then binary-search the first one
    // where Σ clamp(t·w) reaches C. The computed sum is monotone in t (each term is, and so is f64 addition in a
    // fixed order), so this finds the same breakpoint as a linear scan.
    heapSortF64(bp, nb);
    let a = 0;
    let b = nb;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (sumClamped(sc, heads, load<f64>(bp + (<usize>m << 3)), lo, hi) >= C) b = m;
      else a = m + 1;
    }
    const tHi: f64 = load<f64>(bp + (<usize>(a < nb ? a : nb - 1) << 3));
    const tLo: f64 = a > 0 ? load<f64>(bp + (<usize>(a - 1) << 3)) : 0;
    // Inside (tLo, tHi] every head is either fixed (at floor or cap) or free (t·w): solve A + t·B = C.
    const tm = 0.5 * (tLo + tHi);
    let A: f64 = 0;
    let B: f64 = 0;
    for (let h = 0; h < heads; h++) {
      const x = w(sc, h);
      const v = tm * x;
      if (v <= lo) A += lo;
      else if (v >= hi) A += hi;
      else B += x;
    }
    const t = B > 0 ? (C - A) / B : tLo;
    for (let h = 0; h < heads; h++) {
      const x = w(sc, h);
      const v = tm * x;
      store<f64>(c + (<usize>h << 3), v <= lo ? lo : v >= hi ? hi : min(max(t * x, lo), hi));
    }
  }
  // Largest-remainder rounding: floors first, then +1 to the largest remainders (ties: lower head index). Each
  // head gets at most one +1 (after it, b > v), so this is one sort of the eligible heads by (remainder desc, head
  // asc), packed into exact f64 keys r·2^22 + (2^22−1−h) (r ≤ 2^30, h < 2^22 = MAX_HEADS, so keys < 2^53).
  let assigned: i64 = 0;
  for (let h = 0; h < heads; h++) {
    const f = <i32>Math.floor(load<f64>(c + (<usize>h << 3)));
    store<i32>(out + (<usize>h << 2), f);
    assigned += f;
  }
  let deficit: i64 = <i64>total - assigned;
  if (deficit <= 0) return;
  const keys = bp; // the breakpoints are no longer needed
  let n = 0;
  for (let h = 0; h < heads; h++) {
    const b = load<i32>(out + (<usize>h << 2));
    const v = load<f64>(c + (<usize>h << 3));
    // Remainders quantised to 2^-30 so that ties in exact arithmetic (e.g. 94.5 vs 31.5) stay ties whatever
    // the last-bit rounding of t·w, and go to the lower head index in every implementation.
    const r = Math.floor((v - Math.floor(v)) * 1073741824.0 + 0.5);
    if (b < cap && <f64>b <= v) { store<f64>(keys + (<usize>n << 3), r * HEAD_SLOTS + <f64>(HEAD_SLOTS_I - 1 - h)); n++; }
  }
  heapSortF64(keys, n);
  for (let i = n - 1; i >= 0 && deficit > 0; i--) {
    const h = HEAD_SLOTS_I - 1 - <i32>(<i64>load<f64>(keys + (<usize>i << 3)) & <i64>(HEAD_SLOTS_I - 1));
    store<i32>(out + (<usize>h << 2), load<i32>(out + (<usize>h << 2)) + 1);
    deficit--;
  }
  // Rounding left a remainder-free shortfall (only with inconsistent inputs): fill the first non-capped heads.
  let p = 0;
  while (deficit > 0) {
    while (p < heads && load<i32>(out + (<usize>p << 2)) >= cap) p++;
    if (p >= heads) break;
    store<i32>(out + (<usize>p << 2), load<i32>(out + (<usize>p << 2)) + 1);
    deficit--;
  }
}

/** Ascending in-place heapsort of n f64 at p (no NaN). O(n log n), no extra memory. */
function heapSortF64(p: usize, n: i32): void {
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(p, i, n);
  for (let end = n - 1; end > 0; end--) {
    const top = load<f64>(p);
    store<f64>(p, load<f64>(p + (<usize>end << 3)));
    store<f64>(p + (<usize>end << 3), top);
    siftDown(p, 0, end);
  }
}

function siftDown(p: usize, i: i32, n: i32): void {
  const v = load<f64>(p + (<usize>i << 3));
  while (true) {
    let ch = 2 * i + 1;
    if (ch >= n) break;
    if (ch + 1 < n && load<f64>(p + (<usize>(ch + 1) << 3)) > load<f64>(p + (<usize>ch << 3))) ch++;
    const x = load<f64>(p + (<usize>ch << 3));
    if (x <= v) break;
    store<f64>(p + (<usize>i << 3), x);
    i = ch;
  }
  store<f64>(p + (<usize>i << 3), v);
}
