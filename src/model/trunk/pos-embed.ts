/**
 * DINOv2's position-embedding interpolation, precomputed in TS (float64, rounded once to float32): the 37×37 grid
 * is resized to the actual patch grid with PyTorch's antialiased bicubic (`F.interpolate(mode='bicubic',
 * antialias=True, size=…)`, a = −0.5, align_corners=False); the cls row is kept unchanged.
 */
import { check } from '../../errors.js';

/** Keys cubic convolution kernel with a = −0.5 (PyTorch's antialiased bicubic / PIL's BICUBIC). */
export function cubicAA(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

/**
 * The `[outSize, inSize]` resampling matrix of 1-D antialiased bicubic (rows sum to 1). Equal sizes give the
 * identity (PyTorch skips the resize then).
 *
 * @example
 * const m = aaBicubicResizeMatrix(37, 5); // 5 rows of 37 weights
 */
export function aaBicubicResizeMatrix(inSize: number, outSize: number): Float64Array {
  check(
    Number.isInteger(inSize) && Number.isInteger(outSize) && inSize > 0 && outSize > 0,
    `resize sizes must be positive integers, got ${inSize} → ${outSize}`,
  );
  const m = new Float64Array(outSize * inSize);
  if (inSize === outSize) {
    for (let i = 0; i < outSize; i++) m[i * inSize + i] = 1;
    return m;
  }
  const scale = inSize / outSize;
  // Downsampling widens the kernel by `scale` (that is the antialiasing); upsampling uses the plain kernel.
  const support = scale >= 1 ? 2 * scale : 2;
  const invScale = scale >= 1 ? 1 / scale : 1;
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let sum = 0;
    for (let j = lo; j < hi; j++) sum += m[i * inSize + j] = cubicAA((j - center + 0.5) * invScale);
    for (let j = lo; j < hi; j++) m[i * inSize + j] /= sum;
  }
  return m;
}

/**
 * Interpolate a DINO `pos_embed` (`[1 + G·G, C]`, cls row first) to a `gridH × gridW` patch grid.
 * Returns `[1 + gridH·gridW, C]` (cls row unchanged, patches row-major).
 *
 * @example
 * const pe = interpolatePosEmbed(posEmbed, 37, 64, 5, 7); // [36, 64]
 */
export function interpolatePosEmbed(
  posEmbed: Float32Array,
  G: number,
  C: number,
  gridH: number,
  gridW: number,
): Float32Array {
  check(
    posEmbed.length === (1 + G * G) * C,
    `pos_embed has ${posEmbed.length} values, expected (1 + ${G}²)·${C}`,
    'pass the checkpoint pos_embed with its grid side and width',
  );
  const my = aaBicubicResizeMatrix(G, gridH);
  const mx = aaBicubicResizeMatrix(G, gridW);
  // Separable: first along x (G rows × gridW), then along y; all in float64.
  const tmp = new Float64Array(G * gridW * C);
  for (let r = 0; r < G; r++) {
    for (let c = 0; c < gridW; c++) {
      const o = (r * gridW + c) * C;
      for (let j = 0; j < G; j++) {
        const w = mx[c * G + j];
        if (w === 0) continue;
        const src = (1 + r * G + j) * C;
        for (let k = 0; k < C; k++) tmp[o + k] += w * posEmbed[src + k];
      }
    }
  }
  const out = new Float32Array((1 + gridH * gridW) * C);
  out.set(posEmbed.subarray(0, C));
  const acc = new Float64Array(C);
  for (let r = 0; r < gridH; r++) {
    for (let c = 0; c < gridW; c++) {
      acc.fill(0);
      for (let j = 0; j < G; j++) {
        const w = my[r * G + j];
        if (w === 0) continue;
        const src = (j * gridW + c) * C;
        for (let k = 0; k < C; k++) acc[k] += w * tmp[src + k];
      }
      out.set(acc, (1 + r * gridW + c) * C);
    }
  }
  return out;
}
