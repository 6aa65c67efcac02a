// Fisher-trace accumulation: Σ g² of a head's query-weight gradient rows, into float64 buckets per head.
// The gradient of one layer's W_Q is [heads·headDim, dim] row-major float32; head h owns rows h·headDim … +headDim−1.

/** out[h] += Σ over head h's rows of g², for a [heads·rowsPerHead, cols] float32 gradient at `grad`. */
export function fisherAccumulate(grad: usize, heads: i32, rowsPerHead: i32, cols: i32, out: usize): void {
  const perHead = <usize>rowsPerHead * <usize>cols;
  for (let h = 0; h < heads; h++) {
    const p = grad + <usize>h * perHead * 4;
    const s = sumSquares(p, perHead);
    store<f64>(out + (<usize>h << 3), load<f64>(out + (<usize>h << 3)) + s);
  }
}

/** Σ x² over n float32 values at `ptr`, accumulated in float64 (SIMD: two f64x2 lanes pairs per f32x4). */
export function sumSquares(ptr: usize, n: usize): f64 {
  let i: usize = 0;
  let s: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f64x2.splat(0);
    let a1 = f64x2.splat(0);
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(ptr + (i << 2));
      const lo = f64x2.promote_low_f32x4(v);
      const hi = f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
      a0 = f64x2.add(a0, f64x2.mul(lo, lo));
      a1 = f64x2.add(a1, f64x2.mul(hi, hi));
    }
    const a = f64x2.add(a0, a1);
    s = f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
  }
  for (; i < n; i++) {
    const x = <f64>load<f32>(ptr + (i << 2));
    s += x * x;
  }
  return s;
}
