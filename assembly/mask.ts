// HeSS block-mask planning: mean-pool Q/K per block, score pooled q·k, keep the top-c_h key blocks per query block.
// Bit-exact contract shared with src/mask/reference.ts (plain JS) and shaders/mask_*.wgsl (GPU):
//  - a block's channel sums run over its tokens in ascending permuted order, in f32;
//  - mean = sum · f32(1/n), then "trunc12": keep the top 12 significand bits (bits & 0xFFFFF000; zero/denormal → +0),
//    so every product of two pooled values is exact in f32 and fused multiply-add (which GPU compilers may use)
//    gives the same bits as mul-then-add;
//  - dot = four interleaved f32 partial sums (lane l takes channels l, l+4, …) combined as (s0+s1)+(s2+s3);
//  - scores map to order-preserving u32 keys (zero/denormal → +0); rank by key, ties by lower block index.
// Ranking by the logit q·k rather than softmax(q·k/√d) gives the same order (both are monotone).

const EXP: u32 = 0x7f800000;
const TRUNC: u32 = 0xfffff000;

/**
 * Mean-pool `numBlocks` blocks of `blockSize` permuted tokens, starting at block `firstBlock`, from a token-major
 * [N, heads·d] f32 tensor at `x` (permuted token i is row perm[i]). Writes f32 [heads, numBlocks, d] at `out`.
 * `acc`: heads·d f32 scratch.
 */
export function maskPool(x: usize, perm: usize, N: i32, heads: i32, d: i32, blockSize: i32, firstBlock: i32, numBlocks: i32, out: usize, acc: usize): void {
  const row = heads * d;
  for (let b = 0; b < numBlocks; b++) {
    const t0 = (firstBlock + b) * blockSize;
    const t1 = min(t0 + blockSize, N);
    memory.fill(acc, 0, <usize>row << 2);
    for (let t = t0; t < t1; t++) {
      const src = x + ((<usize>load<u32>(perm + (<usize>t << 2)) * <usize>row) << 2);
      let i = 0;
      if (ASC_FEATURE_SIMD) {
        for (; i + 4 <= row; i += 4) {
          const a = acc + (<usize>i << 2);
          v128.store(a, f32x4.add(v128.load(a), v128.load(src + (<usize>i << 2))));
        }
      }
      for (; i < row; i++) {
        const a = acc + (<usize>i << 2);
        store<f32>(a, load<f32>(a) + load<f32>(src + (<usize>i << 2)));
      }
    }
    const inv = <f32>(1.0 / <f64>(t1 - t0));
    for (let h = 0; h < heads; h++) {
      const dst = out + ((<usize>(h * numBlocks + b) * <usize>d) << 2);
      const srcA = acc + ((<usize>h * <usize>d) << 2);
      let i = 0;
      if (ASC_FEATURE_SIMD) {
        const vinv = f32x4.splat(inv);
        const vtr = i32x4.splat(<i32>TRUNC);
        const vexp = i32x4.splat(<i32>EXP);
        const zero = i32x4.splat(0);
        for (; i + 4 <= d; i += 4) {
          const m = f32x4.mul(v128.load(srcA + (<usize>i << 2)), vinv);
          const isSub = i32x4.eq(v128.and(m, vexp), zero);
          v128.store(dst + (<usize>i << 2), v128.bitselect(zero, v128.and(m, vtr), isSub));
        }
      }
      for (; i < d; i++) {
        const m = load<f32>(srcA + (<usize>i << 2)) * inv;
        store<u32>(dst + (<usize>i << 2), trunc12(reinterpret<u32>(m)));
      }
    }
  }
}

// @ts-ignore: decorator
@inline function trunc12(bits: u32): u32 {
  return (bits & EXP) == 0 ? 0 : bits & TRUNC;
}

// @ts-ignore: decorator
@inline function sortKey(s: f32): u32 {
  let bits = reinterpret<u32>(s);
  if ((bits & EXP) == 0) bits = 0;
  return (bits >> 31) != 0 ? ~bits : bits | 0x80000000;
}

/** The canonical pooled dot product (see header); `d` must be a multiple of 4. */
// @ts-ignore: decorator
@inline function dot4(a: usize, b: usize, d: i32): f32 {
  if (ASC_FEATURE_SIMD) {
    let acc = f32x4.splat(0);
    for (let i = 0; i < d; i += 4) {
      acc = f32x4.add(acc, f32x4.mul(v128.load(a + (<usize>i << 2)), v128.load(b + (<usize>i << 2))));
    }
    return (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  } else {
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (let i = 0; i < d; i += 4) {
      const p = a + (<usize>i << 2);
      const q = b + (<usize>i << 2);
      s0 += load<f32>(p) * load<f32>(q);
      s1 += load<f32>(p, 4) * load<f32>(q, 4);
      s2 += load<f32>(p, 8) * load<f32>(q, 8);
      s3 += load<f32>(p, 12) * load<f32>(q, 12);
    }
    return (s0 + s1) + (s2 + s3);
  }
}

/**
 * Write every CSR row of one layer's mask into u32 `out`, rows in (head, query block) order; returns the count.
 * Pooled queries `pq`: f32 [heads, nQ, d] for query blocks denseQ…; pooled keys `pk`: f32 [heads, nK, d] for the
 * candidate key blocks specialK…; `budgets`: i32[heads]. `keys`: 2·nK u32 scratch; `hist`: 256 u32 scratch.
 */
export function maskSelect(pq: usize, pk: usize, heads: i32, d: i32, nQ: i32, nK: i32, denseQ: i32, specialK: i32, budgets: usize, keys: usize, hist: usize, out: usize): i32 {
  const numKeyBlocks = nK + specialK;
  let o = out;
  for (let h = 0; h < heads; h++) {
    for (let r = 0; r < denseQ; r++) {
      for (let j = 0; j < numKeyBlocks; j++) { store<u32>(o, j); o += 4; }
    }
    const c = min(load<i32>(budgets + (<usize>h << 2)), nK);
    const kb = pk + ((<usize>h * <usize>nK * <usize>d) << 2);
    const keys1 = keys + (<usize>nK << 2);
    for (let r = 0; r < nQ; r += 2) {
      // Two query rows at a time (SIMD: a 2×4 register tile); the second row's keys go to keys1.
      const two = r + 1 < nQ;
      const scored = c > 0 && c < nK;
      if (scored) {
        const q0 = pq + ((<usize>(h * nQ + r) * <usize>d) << 2);
        scoreRows(q0, two ? q0 + (<usize>d << 2) : q0, kb, nK, d, keys, two ? keys1 : keys);
      }
      const nr = two ? 2 : 1;
      for (let rr = 0; rr < nr; rr++) {
        for (let j = 0; j < specialK; j++) { store<u32>(o, j); o += 4; }
        if (c >= nK) {
          for (let j = 0; j < nK; j++) { store<u32>(o, specialK + j); o += 4; }
        } else if (scored) {
          o = selectTop(rr == 0 ? keys : keys1, nK, c, specialK, hist, o);
        }
      }
    }
  }
  return <i32>((o - out) >> 2);
}

/** Keys of two query rows q0, q1 against all nK pooled key blocks (canonical dot4 order per pair). */
function scoreRows(q0: usize, q1: usize, kb: usize, nK: i32, d: i32, keys0: usize, keys1: usize): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const stride = <usize>d << 2;
    for (; j + 4 <= nK; j += 4) {
      const k0 = kb + <usize>j * stride;
      const k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
      for (let i: usize = 0; i < stride; i += 16) {
        const x = v128.load(q0 + i), y = v128.load(q1 + i);
        const v0 = v128.load(k0 + i), v1 = v128.load(k1 + i), v2 = v128.load(k2 + i), v3 = v128.load(k3 + i);
        a0 = f32x4.add(a0, f32x4.mul(x, v0)); b0 = f32x4.add(b0, f32x4.mul(y, v0));
        a1 = f32x4.add(a1, f32x4.mul(x, v1)); b1 = f32x4.add(b1, f32x4.mul(y, v1));
        a2 = f32x4.add(a2, f32x4.mul(x, v2)); b2 = f32x4.add(b2, f32x4.mul(y, v2));
        a3 = f32x4.add(a3, f32x4.mul(x, v3)); b3 = f32x4.add(b3, f32x4.mul(y, v3));
      }
      v128.store(keys0 + (<usize>j << 2), keys4(a0, a1, a2, a3));
      v128.store(keys1 + (<usize>j << 2), keys4(b0, b1, b2, b3));
    }
  }
  for (; j < nK; j++) {
    const k = kb + ((<usize>j * <usize>d) << 2);
    store<u32>(keys0 + (<usize>j << 2), sortKey(dot4(q0, k, d)));
    store<u32>(keys1 + (<usize>j << 2), sortKey(dot4(q1, k, d)));
  }
}

/** (l0+l1)+(l2+l3) of four accumulators, as order-preserving u32 keys (the canonical order, by shuffles). */
// @ts-ignore: decorator
@inline function keys4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const s01 = f32x4.add(i32x4.shuffle(a0, a1, 0, 4, 2, 6), i32x4.shuffle(a0, a1, 1, 5, 3, 7)); // [a0 01, a1 01, a0 23, a1 23]
  const s23 = f32x4.add(i32x4.shuffle(a2, a3, 0, 4, 2, 6), i32x4.shuffle(a2, a3, 1, 5, 3, 7));
  const s = f32x4.add(i32x4.shuffle(s01, s23, 0, 1, 4, 5), i32x4.shuffle(s01, s23, 2, 3, 6, 7));
  const zero = i32x4.splat(0);
  const bits = v128.bitselect(zero, s, i32x4.eq(v128.and(s, i32x4.splat(<i32>EXP)), zero));
  return v128.xor(bits, v128.or(i32x4.shr_s(bits, 31), i32x4.splat(0x80000000)));
}

/** Radix select of the c largest keys (ties: lower index), written as specialK + j in ascending j. */
function selectTop(keys: usize, n: i32, c: i32, base: i32, hist: usize, o: usize): usize {
  let prefix: u32 = 0;
  let mask: u32 = 0;
  let remaining = <u32>c;
  for (let shift: u32 = 24; ; shift -= 8) {
    memory.fill(hist, 0, 1024);
    for (let j = 0; j < n; j++) {
      const k = load<u32>(keys + (<usize>j << 2));
      if ((k & mask) == prefix) {
        const p = hist + (<usize>((k >> shift) & 255) << 2);
        store<u32>(p, load<u32>(p) + 1);
      }
    }
    for (let b = 255; b >= 0; b--) {
      const cnt = load<u32>(hist + (<usize>b << 2));
      if (cnt >= remaining) { prefix |= (<u32>b) << shift; break; }
      remaining -= cnt;
    }
    mask |= (<u32>255) << shift;
    if (shift == 0) break;
  }
  // prefix is now the c-th largest key; take every larger key and the first `remaining` equal ones.
  let eq: u32 = 0;
  for (let j = 0; j < n; j++) {
    const k = load<u32>(keys + (<usize>j << 2));
    if (k > prefix || (k == prefix && eq++ < remaining)) { store<u32>(o, base + j); o += 4; }
  }
  return o;
}
