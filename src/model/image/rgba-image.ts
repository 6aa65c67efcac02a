/**
 * The SDK's image currency: 8-bit RGBA pixels (what `ImageData` holds), with the check every consumer runs and the
 * BAD_IMAGE error they throw. Decoders produce it, the preprocessing consumes it.
 */
import { HessError } from '../../errors.js';

/** An 8-bit RGBA image (compatible with `ImageData`). */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  /** width × height × 4 bytes, row-major RGBA, not premultiplied. */
  readonly data: Uint8Array | Uint8ClampedArray;
}

/** A `BAD_IMAGE` error (the code of every malformed or refused image). */
export function badImage(message: string, fix = '', cause?: unknown): HessError {
  return new HessError('BAD_IMAGE', message, fix, cause === undefined ? undefined : { cause });
}

/** Throw BAD_IMAGE unless `img` is an {@link RgbaImage} whose buffer matches its size (`i` names it in messages). */
export function checkRgbaImage(img: RgbaImage, i: number): void {
  if (!img || typeof img !== 'object') throw badImage(`image ${i} is not an RGBA image`);
  const { width, height, data } = img;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) {
    throw badImage(`image ${i} has invalid size ${width}×${height}`);
  }
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray) || data.length !== width * height * 4) {
    throw badImage(
      `image ${i}: data must be a Uint8Array/Uint8ClampedArray of width×height×4 = ${width * height * 4} bytes`,
    );
  }
}
