// HeSS budget allocation per layer: c_h = clamp(t·w_h, floor, cap) with t chosen so that Σ c_h = total (the fixed
// point of iterative water-filling: heads over the cap are clamped and their excess goes to the others in
// proportion to their scores; heads under the floor are raised to it), then largest-remainder rounding to integers.
// Scores are never compared across layers. H is small (16), so this is scalar f64 code: SIMD does not help here.
// Mirrored op for op by allocateJS in src/allocate/index.ts.

/** Integer budgets for `layers` rows of `heads` scores (f64 at `scores`) into i32 at `out`. `scratch`: 4·heads f64. */
export function allocateBudgets(scores: usize, layers: i32, heads: i32, cap: i32, total: i32, floor: i32, out: usize, scratch: usize): void {
  for (let l = 0; l < layers; l++) {
    allocateLayer(scores + ((<usize>l * <usize>heads) << 3), heads, cap, total, floor, out + ((<usize>l * <usize>heads) << 2), scratch);
  }
}

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
    // Insertion sort of the breakpoints (2·heads values), then find the segment where Σ clamp(t·w) crosses C.
    for (let i = 1; i < nb; i++) {
      const v = load<f64>(bp + (<usize>i << 3));
      let j = i - 1;
      while (j >= 0 && load<f64>(bp + (<usize>j << 3)) > v) {
        store<f64>(bp + (<usize>(j + 1) << 3), load<f64>(bp + (<usize>j << 3)));
        j--;
      }
      store<f64>(bp + (<usize>(j + 1) << 3), v);
    }
    let tLo: f64 = 0;
    let tHi: f64 = 0;
    for (let i = 0; i < nb; i++) {
      tHi = load<f64>(bp + (<usize>i << 3));
      if (sumClamped(sc, heads, tHi, lo, hi) >= C) break;
      tLo = tHi;
    }
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
  // Largest-remainder rounding: floors first, then +1 to the largest remainders (ties: lower head index).
  let assigned = 0;
  for (let h = 0; h < heads; h++) {
    const f = <i32>Math.floor(load<f64>(c + (<usize>h << 3)));
    store<i32>(out + (<usize>h << 2), f);
    assigned += f;
  }
  let deficit = total - assigned;
  while (deficit > 0) {
    let best = -1;
    let bestR: f64 = -1;
    for (let h = 0; h < heads; h++) {
      const b = load<i32>(out + (<usize>h << 2));
      const v = load<f64>(c + (<usize>h << 3));
      // Remainders quantised to 2^-30 so that ties in exact arithmetic (e.g. 94.5 vs 31.5) stay ties whatever
      // the last-bit rounding of t·w, and go to the lower head index in every implementation.
      const r = Math.floor((v - Math.floor(v)) * 1073741824.0 + 0.5);
      if (b < cap && <f64>b <= v && r > bestR) { bestR = r; best = h; }
    }
    if (best < 0) {
      // Rounding left a remainder-free shortfall (only with inconsistent inputs): give it to the first non-capped head.
      for (let h = 0; h < heads; h++) if (load<i32>(out + (<usize>h << 2)) < cap) { best = h; break; }
      if (best < 0) break;
    }
    store<i32>(out + (<usize>best << 2), load<i32>(out + (<usize>best << 2)) + 1);
    deficit--;
  }
}
