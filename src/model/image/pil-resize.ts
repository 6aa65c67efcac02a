/**
 * PIL's antialiased `BICUBIC` resize, reproduced bit-for-bit on 8-bit RGB (a = −0.5, separable, horizontal pass
 * first, 22-bit fixed-point coefficients, uint8 rounding/clamping after each pass, passes skipped when a side keeps
 * its size), and the float64 weights it is built from (the same as PyTorch's `interpolate(mode='bicubic',
 * antialias=True)`).
 *
 * @example
 * const small = resizeRgbBicubic(rgb, 779, 520, 518, 350);
 */
import { check } from '../../errors.js';

/** Separable resampling weights: output `i` reads inputs `start[i] .. start[i] + count[i] - 1`. */
export interface AaWeights {
  readonly inSize: number;
  readonly outSize: number;
  /** Row stride of `weights` (max taps). */
  readonly ksize: number;
  readonly start: Int32Array;
  readonly count: Int32Array;
  /** `weights[i * ksize + t]` multiplies input `start[i] + t`; each row sums to 1; unused taps are 0. */
  readonly weights: Float64Array;
}

/** Keys cubic convolution kernel with a = −0.5 (PIL's `bicubic_filter`). */
function cubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/**
 * Antialiased bicubic (a = −0.5) 1-D weights exactly as PIL's `precompute_coeffs` and PyTorch's
 * `interpolate(mode='bicubic', antialias=True, align_corners=False)`: `scale = in/out`,
 * `support = 2·max(scale, 1)`, `center = scale·(i + 0.5)`, taps `j ∈ [int(center − support + 0.5),
 * int(center + support + 0.5))` clipped to the input, `w = cubic((j − center + 0.5) / max(scale, 1))`,
 * normalised to sum 1. Float64 math, no fixed-point rounding (reuse it for the DINO pos-embed interpolation).
 *
 * @example
 * const w = aaBicubicWeights(37, 5); // 37 → 5 (downsampling: kernel stretched by 7.4)
 */
export function aaBicubicWeights(inSize: number, outSize: number): AaWeights {
  check(
    Number.isSafeInteger(inSize) && inSize > 0 && Number.isSafeInteger(outSize) && outSize > 0,
    `bad resize ${inSize} → ${outSize}`,
  );
  const scale = inSize / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = 2 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  const ss = 1 / filterScale;
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    const n = xmax - xmin;
    let ww = 0;
    const row = i * ksize;
    for (let t = 0; t < n; t++) {
      const w = cubic((t + xmin - center + 0.5) * ss);
      weights[row + t] = w;
      ww += w;
    }
    if (ww !== 0) for (let t = 0; t < n; t++) weights[row + t] /= ww;
    start[i] = xmin;
    count[i] = n;
  }
  return { inSize, outSize, ksize, start, count, weights };
}

/**
 * Dense `[outSize, inSize]` matrix form of {@link aaBicubicWeights} (row i = weights of output i).
 *
 * @example
 * const M = aaBicubicMatrix(37, 5); // out[i] = Σ_j M[i * 37 + j] · in[j]
 */
export function aaBicubicMatrix(inSize: number, outSize: number): Float64Array {
  const w = aaBicubicWeights(inSize, outSize);
  const m = new Float64Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    for (let t = 0; t < w.count[i]; t++) m[i * inSize + w.start[i] + t] = w.weights[i * w.ksize + t];
  }
  return m;
}

const PRECISION_BITS = 32 - 8 - 2;

/** PIL's `normalize_coeffs_8bpc`: round-half-away-from-zero to 22-bit fixed point. */
function fixedPoint(w: AaWeights): Int32Array {
  const kk = new Int32Array(w.weights.length);
  const one = 1 << PRECISION_BITS;
  for (let i = 0; i < kk.length; i++) {
    const v = w.weights[i];
    kk[i] = v < 0 ? Math.trunc(-0.5 + v * one) : Math.trunc(0.5 + v * one);
  }
  return kk;
}

/** PIL's `clip8`: `in >> 22` clamped to [0, 255]. */
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resize packed 8-bit RGB like PIL's `Image.resize(size, BICUBIC)` on an `RGB` image (bit-exact with Pillow's
 * C code path: horizontal pass first over the rows the vertical pass needs, uint8 between passes).
 *
 * @example
 * const small = resizeRgbBicubic(rgb, 779, 520, 518, 350);
 */
export function resizeRgbBicubic(
  rgb: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Uint8Array {
  check(rgb.length === width * height * 3, `RGB buffer has ${rgb.length} bytes, expected ${width}×${height}×3`);
  check(
    Number.isSafeInteger(outWidth) && outWidth > 0 && Number.isSafeInteger(outHeight) && outHeight > 0,
    `bad output size ${outWidth}×${outHeight}`,
  );
  const needH = outWidth !== width;
  const needV = outHeight !== height;
  if (!needH && !needV) return rgb.slice();

  const vw = aaBicubicWeights(height, outHeight);
  let src = rgb;
  let srcW = width;
  let rowBase = 0; // first source row held in `src`
  const half = 1 << (PRECISION_BITS - 1);

  if (needH) {
    const hw = aaBicubicWeights(width, outWidth);
    const kk = fixedPoint(hw);
    const ks = hw.ksize;
    const yFirst = needV ? vw.start[0] : 0;
    const yLast = needV ? vw.start[outHeight - 1] + vw.count[outHeight - 1] : height;
    const rows = yLast - yFirst;
    const tmp = new Uint8Array(outWidth * rows * 3);
    for (let y = 0; y < rows; y++) {
      const inRow = (y + yFirst) * width * 3;
      const outRow = y * outWidth * 3;
      for (let x = 0; x < outWidth; x++) {
        const xmin = hw.start[x];
        const n = hw.count[x];
        const k = x * ks;
        let s0 = half;
        let s1 = half;
        let s2 = half;
        let p = inRow + xmin * 3;
        for (let t = 0; t < n; t++, p += 3) {
          const c = kk[k + t];
          s0 += rgb[p] * c;
          s1 += rgb[p + 1] * c;
          s2 += rgb[p + 2] * c;
        }
        const o = outRow + x * 3;
        tmp[o] = clip8(s0);
        tmp[o + 1] = clip8(s1);
        tmp[o + 2] = clip8(s2);
      }
    }
    src = tmp;
    srcW = outWidth;
    rowBase = yFirst;
  }
  if (!needV) return src;

  const kk = fixedPoint(vw);
  const ks = vw.ksize;
  const out = new Uint8Array(srcW * outHeight * 3);
  const stride = srcW * 3;
  for (let y = 0; y < outHeight; y++) {
    const ymin = vw.start[y] - rowBase;
    const n = vw.count[y];
    const k = y * ks;
    const outRow = y * stride;
    for (let x = 0; x < srcW; x++) {
      let s0 = half;
      let s1 = half;
      let s2 = half;
      let p = ymin * stride + x * 3;
      for (let t = 0; t < n; t++, p += stride) {
        const c = kk[k + t];
        s0 += src[p] * c;
        s1 += src[p + 1] * c;
        s2 += src[p + 2] * c;
      }
      const o = outRow + x * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return out;
}
