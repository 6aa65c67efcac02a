/**
 * VGGT's 2D rotary position embedding (`RotaryPositionEmbedding2D`, base 100), precomputed as tables so the ONNX
 * graph is two multiplies and a Gather: `rope(q) = q·COS + q[perm]·SIN_SIGNED`.
 *
 * Per head (width d): dims [0, d/2) rotate by the row (y) position, dims [d/2, d) by the column (x) position.
 * Within each half of width h = d/2: `inv_freq[j] = base^(−2j/h)` (j < h/2), the angle table is
 * `cat(pos·inv_freq, pos·inv_freq)` and `rotate_half(x) = cat(−x[h/2:], x[:h/2])` (NeoX style, not interleaved).
 */
import { check } from '../../errors.js';

/**
 * RoPE positions of one frame's tokens, `[P, 2]` as (y, x): `numSpecial` special tokens at (0, 0), then patches
 * row-major at (r+1, c+1).
 *
 * @example
 * const pos = ropePositions(5, 7, 5); // 40 tokens
 */
export function ropePositions(gridH: number, gridW: number, numSpecial: number): Int32Array {
  check(gridH > 0 && gridW > 0 && numSpecial >= 0, `bad RoPE grid ${gridH}×${gridW} (+${numSpecial})`);
  const P = numSpecial + gridH * gridW;
  const pos = new Int32Array(P * 2);
  for (let r = 0; r < gridH; r++) {
    for (let c = 0; c < gridW; c++) {
      const t = numSpecial + r * gridW + c;
      pos[2 * t] = r + 1;
      pos[2 * t + 1] = c + 1;
    }
  }
  return pos;
}

/** Tables for `rope(q) = q·cos + q[perm]·sinSigned`, each `[T, d]` row-major (T = number of positions). */
export interface RopeTables {
  readonly cos: Float32Array;
  readonly sinSigned: Float32Array;
  /** For output dim i, the input dim rotate_half reads (`sinSigned` carries its sign). */
  readonly perm: Int32Array;
  readonly T: number;
  readonly d: number;
}

/**
 * Precompute (in float64, rounded once to float32) the RoPE tables for positions `pos` (`[T, 2]`, (y, x)).
 * `repeat` tiles the tables that many times (global attention over S frames reuses the per-frame positions).
 *
 * @example
 * const t = ropeTables(ropePositions(5, 7, 5), 16, 100, 3); // [3·40, 16]
 */
export function ropeTables(pos: Int32Array, d: number, base = 100, repeat = 1): RopeTables {
  check(
    d > 0 && d % 4 === 0,
    `RoPE 2D needs a head width divisible by 4, got ${d}`,
    'VGGT splits each head into a y half and an x half, each rotated in pairs',
  );
  check(pos.length % 2 === 0, 'positions must be (y, x) pairs');
  const P = pos.length / 2;
  const h = d / 2;
  const q = h / 2;
  const invFreq = new Float64Array(q);
  for (let j = 0; j < q; j++) invFreq[j] = base ** (-(2 * j) / h);
  const perm = new Int32Array(d);
  const sign = new Float64Array(d);
  for (let half = 0; half < 2; half++) {
    const o = half * h;
    for (let i = 0; i < q; i++) {
      perm[o + i] = o + i + q; // rotate_half: first quarter takes −x[second quarter]
      sign[o + i] = -1;
      perm[o + q + i] = o + i; // second quarter takes +x[first quarter]
      sign[o + q + i] = 1;
    }
  }
  const T = P * repeat;
  const cos = new Float32Array(T * d);
  const sinSigned = new Float32Array(T * d);
  for (let p = 0; p < P; p++) {
    for (let half = 0; half < 2; half++) {
      const coord = pos[2 * p + half]; // half 0 → y, half 1 → x
      for (let i = 0; i < h; i++) {
        const a = coord * invFreq[i % q];
        const k = p * d + half * h + i;
        cos[k] = Math.cos(a);
        sinSigned[k] = sign[half * h + i] * Math.sin(a);
      }
    }
  }
  for (let r = 1; r < repeat; r++) {
    cos.copyWithin(r * P * d, 0, P * d);
    sinSigned.copyWithin(r * P * d, 0, P * d);
  }
  return { cos, sinSigned, perm, T, d };
}
