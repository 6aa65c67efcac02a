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
import { check, throwIfAborted } from '../../errors.js';
import { resizeRgbBicubic } from './pil-resize.js';
import { badImage, checkRgbaImage, type RgbaImage } from './rgba-image.js';

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
  check(
    Number.isSafeInteger(width) && width > 0 && Number.isSafeInteger(height) && height > 0,
    `bad image size ${width}×${height}`,
  );
  if (mode === 'pad' && width < height) {
    return { width: roundHalfEven((width * (targetSize / height)) / PATCH) * PATCH, height: targetSize };
  }
  return { width: targetSize, height: roundHalfEven((height * (targetSize / width)) / PATCH) * PATCH };
}

// ---------------------------------------------------------------------------------------------------------------
// Compositing and the full pipeline
// ---------------------------------------------------------------------------------------------------------------

/**
 * Composite RGBA onto opaque white exactly like `Image.alpha_composite(white, img).convert('RGB')`
 * (PIL's integer blend with 7 extra precision bits), giving packed RGB.
 *
 * @example
 * const rgb = compositeOnWhite({ width: 1, height: 1, data: new Uint8Array([0, 0, 0, 128]) }); // [127, 127, 127]
 */
export function compositeOnWhite(img: RgbaImage): Uint8Array {
  checkRgbaImage(img, 0);
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
  check(
    Number.isSafeInteger(target) && target > 0 && target % PATCH === 0 && target <= MAX_TARGET_SIZE,
    `targetSize must be a positive multiple of ${PATCH} up to ${MAX_TARGET_SIZE}, got ${target}`,
    'use 518, the size VGGT was trained at',
  );

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
    checkRgbaImage(img, i);
    const size = resizedSize(img.width, img.height, mode, target);
    if (size.width <= 0 || size.height <= 0 || size.width * size.height > MAX_RESIZED_PIXELS) {
      throw badImage(
        `image ${i} (${img.width}×${img.height}) is too elongated: it would resize to ${size.width}×${size.height}`,
        'crop it to a less extreme aspect ratio',
      );
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
      item: {
        srcWidth: img.width,
        srcHeight: img.height,
        resizedWidth: size.width,
        resizedHeight: size.height,
        cropTop,
      },
    });
  }

  // Mixed sizes: centred white padding of every frame to the max H and W.
  const H = Math.max(...frames.map((f) => f.frameH));
  const W = Math.max(...frames.map((f) => f.frameW));
  const S = frames.length;
  const plane = H * W;
  check(
    S * 3 * plane <= 2 ** 31 - 1,
    `${S} frames of 3×${H}×${W} are over the 2^31 − 1 values one Float32Array holds`,
    'preprocess fewer frames at a time',
  );
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
