/**
 * VGGT's reference image preprocessing (`vggt/utils/load_fn.py: load_and_preprocess_images`), reproduced
 * bit-for-bit where the decoded pixels are identical:
 *
 * - RGBA is alpha-composited onto white exactly like PIL's `Image.alpha_composite` (integer math), then RGB;
 * - `crop` mode: width → 518, height → `round(h·518/w/14)·14` (Python round: halves to even), then a centred
 *   crop of the height to 518 when taller; `pad` mode: longest side → 518, other side rounded the same way,
 *   then centred white padding to 518×518;
 * - resize with PIL's antialiased `BICUBIC` (a = −0.5, separable, horizontal pass first, 22-bit fixed-point
 *   coefficients, uint8 rounding/clamping after each pass, passes skipped when a side keeps its size);
 * - `ToTensor` (`u8 / 255` in float32), CHW; frames of different sizes are padded with white (1.0), centred,
 *   to the largest H and W.
 *
 * The output is in [0, 1]; ImageNet mean/std normalisation happens inside the model.
 *
 * @example
 * const img = await decodeImageFile('frame0.jpg');
 * const { data, shape } = preprocessImages([img]); // shape [1, 3, 350, 518] for a 779×520 photo
 */
import { HessError, check, throwIfAborted } from '../errors';
import { isJpeg, isPng, readImageHeader, readPngLayout } from './image-header';

export { readImageHeader, type ImageHeader } from './image-header';

/** An 8-bit RGBA image (compatible with `ImageData`). */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  /** width × height × 4 bytes, row-major RGBA, not premultiplied. */
  readonly data: Uint8Array | Uint8ClampedArray;
}

/** `crop` (the reference default) or `pad`. */
export type PreprocessMode = 'crop' | 'pad';

/** Options of {@link preprocessImages}. */
export interface PreprocessOptions {
  /** Default `'crop'`. */
  mode?: PreprocessMode;
  /** Target side (518 in the reference); a positive multiple of 14, at most {@link MAX_TARGET_SIZE}. */
  targetSize?: number;
  /** Checked between frames. */
  signal?: AbortSignal;
}

/** Where a source frame ended up in the output tensor. */
export interface PreprocessedFrame {
  readonly srcWidth: number;
  readonly srcHeight: number;
  /** Size after the bicubic resize (before crop/pad). */
  readonly resizedWidth: number;
  readonly resizedHeight: number;
  /** Rows of the resized image removed at the top by the crop (crop mode, portrait frames). */
  readonly cropTop: number;
  /** Offset of the (cropped) resized image inside the output frame. */
  readonly padTop: number;
  readonly padLeft: number;
}

/** Result of {@link preprocessImages}: `data` is `[S, 3, H, W]` float32 in [0, 1]. */
export interface PreprocessResult {
  readonly data: Float32Array;
  readonly shape: readonly [number, number, number, number];
  readonly frames: number;
  readonly height: number;
  readonly width: number;
  readonly items: readonly PreprocessedFrame[];
}

const PATCH = 14;

/** The largest `targetSize` accepted: 4088 = 14·292, the last multiple of 14 under 4096 (VGGT is trained at 518). */
export const MAX_TARGET_SIZE = 4088;

/**
 * The most pixels a frame may have after the aspect-preserving resize (before the crop): a 1×10⁶ strip would
 * otherwise resize to 518×5·10⁸. 2^26 ≈ 67 MP covers aspect ratios up to 1:250 at 518.
 */
export const MAX_RESIZED_PIXELS = 2 ** 26;

/** Default pixel cap of the decoders (40 MP: a 7300×5475 photo), checked from the header before decoding. */
export const DEFAULT_MAX_PIXELS = 40_000_000;

function badImage(message: string, fix = '', cause?: unknown): HessError {
  return new HessError('BAD_IMAGE', message, fix, cause === undefined ? undefined : { cause });
}

// ---------------------------------------------------------------------------------------------------------------
// Sizes
// ---------------------------------------------------------------------------------------------------------------

/**
 * Python's `round(x)` for floats: nearest integer, exact halves to the even neighbour.
 *
 * @example
 * roundHalfEven(2.5); // 2
 * roundHalfEven(3.5); // 4
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f; // exact for |x| < 2^52
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Size the reference resizes a `width × height` image to (before any crop or pad), with the same float
 * operation order as `load_fn.py` (`round(h * (518 / w) / 14) * 14`).
 *
 * @example
 * resizedSize(779, 520, 'crop'); // { width: 518, height: 350 }
 */
export function resizedSize(
  width: number,
  height: number,
  mode: PreprocessMode = 'crop',
  targetSize = 518,
): { width: number; height: number } {
  check(Number.isSafeInteger(width) && width > 0 && Number.isSafeInteger(height) && height > 0, `bad image size ${width}×${height}`);
  if (mode === 'pad' && width < height) {
    return { width: roundHalfEven((width * (targetSize / height)) / PATCH) * PATCH, height: targetSize };
  }
  return { width: targetSize, height: roundHalfEven((height * (targetSize / width)) / PATCH) * PATCH };
}

// ---------------------------------------------------------------------------------------------------------------
// Antialiased bicubic weights (PIL / torch `antialias=True`)
// ---------------------------------------------------------------------------------------------------------------

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
  check(Number.isSafeInteger(inSize) && inSize > 0 && Number.isSafeInteger(outSize) && outSize > 0, `bad resize ${inSize} → ${outSize}`);
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

// ---------------------------------------------------------------------------------------------------------------
// PIL-exact 8-bit resize
// ---------------------------------------------------------------------------------------------------------------

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
export function resizeRgbBicubic(rgb: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  check(rgb.length === width * height * 3, `RGB buffer has ${rgb.length} bytes, expected ${width}×${height}×3`);
  check(Number.isSafeInteger(outWidth) && outWidth > 0 && Number.isSafeInteger(outHeight) && outHeight > 0, `bad output size ${outWidth}×${outHeight}`);
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

// ---------------------------------------------------------------------------------------------------------------
// Compositing and the full pipeline
// ---------------------------------------------------------------------------------------------------------------

function checkImage(img: RgbaImage, i: number): void {
  if (!img || typeof img !== 'object') throw badImage(`image ${i} is not an RGBA image`);
  const { width, height, data } = img;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) {
    throw badImage(`image ${i} has invalid size ${width}×${height}`);
  }
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray) || data.length !== width * height * 4) {
    throw badImage(`image ${i}: data must be a Uint8Array/Uint8ClampedArray of width×height×4 = ${width * height * 4} bytes`);
  }
}

/**
 * Composite RGBA onto opaque white exactly like `Image.alpha_composite(white, img).convert('RGB')`
 * (PIL's integer blend with 7 extra precision bits), giving packed RGB.
 *
 * @example
 * const rgb = compositeOnWhite({ width: 1, height: 1, data: new Uint8Array([0, 0, 0, 128]) }); // [127, 127, 127]
 */
export function compositeOnWhite(img: RgbaImage): Uint8Array {
  checkImage(img, 0);
  const { data } = img;
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0, p = 0, o = 0; i < n; i++, p += 4, o += 3) {
    const a = data[p + 3];
    if (a === 255) {
      out[o] = data[p];
      out[o + 1] = data[p + 1];
      out[o + 2] = data[p + 2];
    } else if (a === 0) {
      out[o] = out[o + 1] = out[o + 2] = 255;
    } else {
      // dst = opaque white: outa255 = 255·255, coef1 = a·128, coef2 = (255 − a)·128 (exact integer divisions).
      const c1 = a << 7;
      const white = 255 * ((255 - a) << 7) + (0x80 << 7);
      for (let c = 0; c < 3; c++) {
        const t = data[p + c] * c1 + white;
        out[o + c] = (((t >> 8) + t) >> 8) >> 7;
      }
    }
  }
  return out;
}

const U8_TO_F32 = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = i / 255;
  return t;
})();

/**
 * Run the reference preprocessing on RGBA frames and stack them into `[S, 3, H, W]` float32 in [0, 1].
 *
 * @example
 * const { data, shape, items } = preprocessImages(frames, { mode: 'pad' }); // shape [S, 3, 518, 518]
 */
export function preprocessImages(images: readonly RgbaImage[], opts: PreprocessOptions = {}): PreprocessResult {
  const mode = opts.mode ?? 'crop';
  const target = opts.targetSize ?? 518;
  check(Array.isArray(images) && images.length > 0, 'at least 1 image is required');
  check(mode === 'crop' || mode === 'pad', `mode must be 'crop' or 'pad' (got ${String(mode)})`);
  check(Number.isSafeInteger(target) && target > 0 && target % PATCH === 0 && target <= MAX_TARGET_SIZE,
    `targetSize must be a positive multiple of ${PATCH} up to ${MAX_TARGET_SIZE}, got ${target}`, 'use 518, the size VGGT was trained at');

  /** `rgb` is w×h content placed at (top, left) inside a frameW×frameH frame (after the per-frame crop/pad). */
  type Frame = {
    rgb: Uint8Array;
    w: number;
    h: number;
    frameW: number;
    frameH: number;
    top: number;
    left: number;
    item: Omit<PreprocessedFrame, 'padTop' | 'padLeft'>;
  };
  const frames: Frame[] = [];
  for (let i = 0; i < images.length; i++) {
    throwIfAborted(opts.signal);
    const img = images[i];
    checkImage(img, i);
    const size = resizedSize(img.width, img.height, mode, target);
    if (size.width <= 0 || size.height <= 0 || size.width * size.height > MAX_RESIZED_PIXELS) {
      throw badImage(`image ${i} (${img.width}×${img.height}) is too elongated: it would resize to ${size.width}×${size.height}`,
        'crop it to a less extreme aspect ratio');
    }
    let rgb = resizeRgbBicubic(compositeOnWhite(img), img.width, img.height, size.width, size.height);
    const w = size.width;
    let h = size.height;
    let cropTop = 0;
    if (mode === 'crop' && h > target) {
      cropTop = (h - target) >> 1;
      rgb = rgb.subarray(cropTop * w * 3, (cropTop + target) * w * 3);
      h = target;
    }
    // pad mode: the reference pads every frame to target×target (centred) first
    const frameW = mode === 'pad' ? target : w;
    const frameH = mode === 'pad' ? target : h;
    frames.push({
      rgb,
      w,
      h,
      frameW,
      frameH,
      top: (frameH - h) >> 1,
      left: (frameW - w) >> 1,
      item: { srcWidth: img.width, srcHeight: img.height, resizedWidth: size.width, resizedHeight: size.height, cropTop },
    });
  }

  // Mixed sizes: centred white padding of every frame to the max H and W.
  const H = Math.max(...frames.map((f) => f.frameH));
  const W = Math.max(...frames.map((f) => f.frameW));
  const S = frames.length;
  const plane = H * W;
  check(S * 3 * plane <= 2 ** 31 - 1, `${S} frames of 3×${H}×${W} are over the 2^31 − 1 values one Float32Array holds`,
    'preprocess fewer frames at a time');
  const data = new Float32Array(S * 3 * plane);
  const items: PreprocessedFrame[] = [];
  for (let s = 0; s < S; s++) {
    const f = frames[s];
    const top = f.top + ((H - f.frameH) >> 1);
    const left = f.left + ((W - f.frameW) >> 1);
    items.push({ ...f.item, padTop: top, padLeft: left });
    const base = s * 3 * plane;
    data.fill(1, base, base + 3 * plane);
    for (let y = 0; y < f.h; y++) {
      const rowIn = y * f.w * 3;
      const rowOut = (top + y) * W + left;
      for (let x = 0; x < f.w; x++) {
        const p = rowIn + x * 3;
        const o = base + rowOut + x;
        data[o] = U8_TO_F32[f.rgb[p]];
        data[o + plane] = U8_TO_F32[f.rgb[p + 1]];
        data[o + 2 * plane] = U8_TO_F32[f.rgb[p + 2]];
      }
    }
  }
  return { data, shape: [S, 3, H, W], frames: S, height: H, width: W, items };
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding: browsers
// ---------------------------------------------------------------------------------------------------------------

/**
 * Read the pixels of an `ImageBitmap` (or any drawable with width/height) through an `OffscreenCanvas`.
 * Browsers store canvases premultiplied, so semi-transparent pixels may differ by ±1 from the file.
 *
 * @example
 * const img = fromImageBitmap(await createImageBitmap(file));
 */
export function fromImageBitmap(bitmap: CanvasImageSource & { readonly width: number; readonly height: number }): RgbaImage {
  if (typeof OffscreenCanvas === 'undefined') {
    throw badImage('OffscreenCanvas is not available in this runtime', 'use decodeImageFile() in Node/Deno/Bun, or pass RGBA pixels');
  }
  const { width, height } = bitmap;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) {
    throw badImage(`bitmap has invalid size ${width}×${height}`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw badImage('could not get a 2D context from OffscreenCanvas');
  try {
    ctx.drawImage(bitmap, 0, 0);
    const id = ctx.getImageData(0, 0, width, height);
    return { width: id.width, height: id.height, data: id.data };
  } catch (e) {
    throw badImage('could not read the bitmap pixels', 'the image may be tainted (cross-origin) or too large', e);
  }
}

/**
 * Decode an image `Blob`/`File`: with `createImageBitmap` + `OffscreenCanvas` in browsers, otherwise with the
 * pure-JS PNG/JPEG decoders of {@link decodeImageFile}.
 *
 * @example
 * const frames = await Promise.all([...input.files!].map(fromBlob));
 */
export async function fromBlob(blob: Blob, opts: DecodeOptions = {}): Promise<RgbaImage> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await blob.arrayBuffer());
  } catch (e) {
    throw new HessError('IO_ERROR', 'could not read the blob', '', { cause: e });
  }
  if (typeof createImageBitmap === 'function' && typeof OffscreenCanvas !== 'undefined') {
    // The pixel cap applies from the header before the browser decodes (formats we cannot parse are checked after).
    const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
    if (isPng(bytes) || isJpeg(bytes)) {
      const h = readImageHeader(bytes);
      checkPixels(h.width, h.height, maxPixels, h.format.toUpperCase());
    }
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(blob, {
        premultiplyAlpha: 'none', colorSpaceConversion: 'none', imageOrientation: opts.exifOrientation === false ? 'none' : 'from-image',
      });
    } catch (e) {
      throw badImage(`could not decode the image blob (${blob.type || 'unknown type'})`, 'use a PNG or JPEG file', e);
    }
    try {
      checkPixels(bitmap.width, bitmap.height, maxPixels, 'the image');
      return fromImageBitmap(bitmap);
    } finally {
      bitmap.close();
    }
  }
  return decodeImageFile(bytes, opts);
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding: Node / Deno / Bun (pngjs, jpeg-js)
// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link decodeImageFile}. */
export interface DecodeOptions {
  /**
   * Refuse images with more pixels than this, read from the file header before decoding (default
   * {@link DEFAULT_MAX_PIXELS} = 40 MP; decoding costs ~8 bytes per pixel on top of the file).
   */
  maxPixels?: number;
  /**
   * Apply a JPEG's EXIF orientation (tag 0x0112) so phone photos come in upright (default true). VGGT's Python
   * loader ignores EXIF; pass false to get its exact pixels for rotated files.
   */
  exifOrientation?: boolean;
}

/**
 * Import a module by a non-literal specifier, so browser bundles do not try to pull in node builtins or the
 * Node-only decoders (pngjs needs zlib/stream); in Node/Deno/Bun it resolves at run time.
 */
async function importNode<T>(spec: string, code: 'IO_ERROR' | 'BAD_IMAGE' = 'IO_ERROR'): Promise<T> {
  try {
    return (await import(/* @vite-ignore */ spec)) as T;
  } catch (e) {
    throw new HessError(code, `${spec} is not available in this runtime`, 'decode images in the browser with fromBlob(), or pass RGBA pixels', {
      cause: e,
    });
  }
}

/**
 * Decode a PNG or JPEG file (path, or its bytes) to RGBA with pure-JS decoders (`pngjs`, `jpeg-js`), matching
 * what VGGT's loader gets from PIL: only true RGBA PNGs keep their alpha (PIL composites only mode `RGBA`;
 * palette/grey transparency is dropped by `convert('RGB')`), 16-bit PNG samples keep their high byte.
 *
 * @example
 * const img = await decodeImageFile('examples/kitchen/images/00.png');
 */
export async function decodeImageFile(input: string | URL | Uint8Array | ArrayBuffer, opts: DecodeOptions = {}): Promise<RgbaImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  check(Number.isSafeInteger(maxPixels) && maxPixels > 0, `maxPixels must be a positive integer, got ${maxPixels}`);
  let bytes: Uint8Array;
  if (typeof input === 'string' || input instanceof URL) {
    const fs = await importNode<typeof import('node:fs/promises')>('node:fs/promises');
    try {
      bytes = new Uint8Array(await fs.readFile(input));
    } catch (e) {
      throw new HessError('IO_ERROR', `cannot read ${String(input)}`, 'check that the file exists and is readable', { cause: e });
    }
  } else if (input instanceof Uint8Array) {
    bytes = input;
  } else if (input instanceof ArrayBuffer) {
    bytes = new Uint8Array(input);
  } else {
    throw badImage('decodeImageFile expects a path, a Uint8Array or an ArrayBuffer');
  }
  // Header first: the size is checked before any decoder allocates, truncated files fail here.
  const header = readImageHeader(bytes);
  checkPixels(header.width, header.height, maxPixels, header.format.toUpperCase());
  if (header.format === 'png') return decodePng(bytes);
  const img = await decodeJpeg(bytes, maxPixels);
  return opts.exifOrientation === false ? img : orientImage(img, header.orientation);
}

function checkPixels(width: number, height: number, maxPixels: number, what: string): void {
  if (width * height > maxPixels) {
    throw badImage(`${what} is ${width}×${height} (${((width * height) / 1e6).toFixed(1)} MP), more than the ${(maxPixels / 1e6).toFixed(1)} MP cap`,
      'downscale it first, or raise the cap with { maxPixels }');
  }
}

/**
 * Transform stored pixels to display orientation (EXIF tag 0x0112, as PIL's `ImageOps.exif_transpose`):
 * 2 mirror, 3 rotate 180°, 4 flip, 5 transpose, 6 rotate 90° clockwise, 7 transverse, 8 rotate 90° anticlockwise.
 *
 * @example
 * const upright = orientImage(img, 6); // a portrait phone photo stored landscape
 */
export function orientImage(img: RgbaImage, orientation: number): RgbaImage {
  check(Number.isInteger(orientation) && orientation >= 1 && orientation <= 8, `EXIF orientation must be 1–8, got ${orientation}`);
  if (orientation === 1) return img;
  const { width: W, height: H, data } = img;
  const swap = orientation >= 5;
  const ow = swap ? H : W, oh = swap ? W : H;
  const src = new Uint32Array(data.buffer, data.byteOffset, W * H);
  const out = new Uint8Array(ow * oh * 4);
  const dst = new Uint32Array(out.buffer);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      // Source pixel of output (x, y).
      let sx: number, sy: number;
      switch (orientation) {
        case 2: sx = W - 1 - x; sy = y; break;
        case 3: sx = W - 1 - x; sy = H - 1 - y; break;
        case 4: sx = x; sy = H - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = H - 1 - x; break;
        case 7: sx = W - 1 - y; sy = H - 1 - x; break;
        default: sx = W - 1 - y; sy = x; break; // 8
      }
      dst[y * ow + x] = src[sy * W + sx];
    }
  }
  return { width: ow, height: oh, data: out };
}

type PngMeta = {
  width: number;
  height: number;
  data: Uint8Array | Uint16Array;
  colorType: number;
  depth: number;
  transColor?: number[];
};

async function decodePng(bytes: Uint8Array): Promise<RgbaImage> {
  const layout = readPngLayout(bytes);
  const depth = layout.depth;
  await checkPngStream(layout);

  type PngModule = typeof import('pngjs');
  const mod = await importNode<PngModule & { default?: PngModule }>('pngjs', 'BAD_IMAGE');
  const PNG = mod.PNG ?? mod.default?.PNG;
  const { Buffer } = await importNode<typeof import('node:buffer')>('node:buffer');
  let meta: PngMeta;
  try {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    meta = PNG.sync.read(buf, { skipRescale: depth === 16 }) as unknown as PngMeta;
  } catch (e) {
    throw badImage(`could not decode PNG: ${e instanceof Error ? e.message : String(e)}`, 'the file may be corrupt', e);
  }
  const n = meta.width * meta.height;
  const src = meta.data;
  if (src.length !== n * 4) throw badImage('PNG decoder returned an unexpected buffer size');
  const out = new Uint8Array(n * 4);
  if (meta.depth === 16) for (let i = 0; i < out.length; i++) out[i] = src[i] >> 8;
  else out.set(src);
  if (meta.colorType !== 6) {
    // Not RGBA: PIL's convert('RGB') drops any transparency. pngjs zeroes tRNS-keyed grey/RGB pixels; put the
    // key colour back (palette pixels keep their palette colour already).
    let key: number[] | null = null;
    const tc = meta.transColor;
    if (tc && (meta.colorType === 0 || meta.colorType === 2)) {
      const scale = (v: number) =>
        meta.depth === 16 ? v >> 8 : meta.depth === 8 ? v : Math.floor((v * 255) / (2 ** meta.depth - 1) + 0.5);
      key = meta.colorType === 0 ? [scale(tc[0]), scale(tc[0]), scale(tc[0])] : [scale(tc[0]), scale(tc[1]), scale(tc[2])];
    }
    for (let p = 0; p < out.length; p += 4) {
      if (key && out[p + 3] === 0) {
        out[p] = key[0];
        out[p + 1] = key[1];
        out[p + 2] = key[2];
      }
      out[p + 3] = 255;
    }
  }
  return { width: meta.width, height: meta.height, data: out };
}

/**
 * Inflate the IDAT stream once with its exact expected size as the output limit: a zip bomb stops at that limit
 * (pngjs inflates interlaced images without one), and truncated or short data is BAD_IMAGE (pngjs would decode
 * the missing rows as black).
 */
async function checkPngStream(p: ReturnType<typeof readPngLayout>): Promise<void> {
  const zlib = await importNode<typeof import('node:zlib')>('node:zlib', 'BAD_IMAGE');
  const total = p.idat.reduce((s, c) => s + c.length, 0);
  const stream = new Uint8Array(total);
  let o = 0;
  for (const c of p.idat) { stream.set(c, o); o += c.length; }
  let raw: Uint8Array;
  try {
    raw = zlib.inflateSync(stream, { maxOutputLength: Math.max(p.rawBytes, 1) });
  } catch (e) {
    const big = (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    throw badImage(big ? `PNG image data inflates past the ${p.rawBytes} bytes a ${p.width}×${p.height} image needs (a zip bomb?)`
      : `PNG image data is not a complete zlib stream (${e instanceof Error ? e.message : String(e)}): truncated or corrupt`, 'the file may be truncated or corrupt', e);
  }
  if (raw.length !== p.rawBytes) {
    throw badImage(`PNG image data inflates to ${raw.length} bytes, a ${p.width}×${p.height} image needs ${p.rawBytes} (truncated)`, 'the file may be truncated or corrupt');
  }
}

async function decodeJpeg(bytes: Uint8Array, maxPixels: number): Promise<RgbaImage> {
  type JpegModule = typeof import('jpeg-js');
  const mod = await importNode<JpegModule & { default?: JpegModule }>('jpeg-js', 'BAD_IMAGE');
  const decode = mod.decode ?? mod.default?.decode;
  try {
    const r = decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: maxPixels / 1e6,
      maxMemoryUsageInMB: Math.max(512, Math.ceil((maxPixels * 8) / 2 ** 20)),
    });
    if (!r.width || !r.height || r.data.length !== r.width * r.height * 4) throw new Error('decoder returned no pixels');
    return { width: r.width, height: r.height, data: r.data };
  } catch (e) {
    throw badImage(`could not decode JPEG: ${e instanceof Error ? e.message : String(e)}`, 'the file may be corrupt or unsupported', e);
  }
}
