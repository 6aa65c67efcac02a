/**
 * Image decoding to {@link RgbaImage}: the platform's decoder in browsers (`createImageBitmap` + `OffscreenCanvas`),
 * pure-JS PNG/JPEG decoders in Node/Deno/Bun (`pngjs`, `jpeg-js`, imported at run time only). Every file's header is
 * read first ({@link readImageHeader}), so the pixel cap applies and truncated files fail before a decoder allocates;
 * JPEG EXIF orientation is applied.
 *
 * @example
 * const img = await decodeImageFile('frame0.jpg');
 */
import { HessError, check } from '../../errors.js';
import { isJpeg, isPng, readImageHeader, readPngLayout } from './image-header.js';
import { badImage, type RgbaImage } from './rgba-image.js';

/** Default pixel cap of the decoders (40 MP: a 7300×5475 photo), checked from the header before decoding. */
export const DEFAULT_MAX_PIXELS = 40_000_000;

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
export function fromImageBitmap(
  bitmap: CanvasImageSource & { readonly width: number; readonly height: number },
): RgbaImage {
  if (typeof OffscreenCanvas === 'undefined') {
    throw badImage(
      'OffscreenCanvas is not available in this runtime',
      'use decodeImageFile() in Node/Deno/Bun, or pass RGBA pixels',
    );
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
        premultiplyAlpha: 'none',
        colorSpaceConversion: 'none',
        imageOrientation: opts.exifOrientation === false ? 'none' : 'from-image',
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
    throw new HessError(
      code,
      `${spec} is not available in this runtime`,
      'decode images in the browser with fromBlob(), or pass RGBA pixels',
      {
        cause: e,
      },
    );
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
export async function decodeImageFile(
  input: string | URL | Uint8Array | ArrayBuffer,
  opts: DecodeOptions = {},
): Promise<RgbaImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  check(Number.isSafeInteger(maxPixels) && maxPixels > 0, `maxPixels must be a positive integer, got ${maxPixels}`);
  let bytes: Uint8Array;
  if (typeof input === 'string' || input instanceof URL) {
    const fs = await importNode<typeof import('node:fs/promises')>('node:fs/promises');
    try {
      bytes = new Uint8Array(await fs.readFile(input));
    } catch (e) {
      throw new HessError('IO_ERROR', `cannot read ${String(input)}`, 'check that the file exists and is readable', {
        cause: e,
      });
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
    throw badImage(
      `${what} is ${width}×${height} (${((width * height) / 1e6).toFixed(1)} MP), more than the ${(maxPixels / 1e6).toFixed(1)} MP cap`,
      'downscale it first, or raise the cap with { maxPixels }',
    );
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
  check(
    Number.isInteger(orientation) && orientation >= 1 && orientation <= 8,
    `EXIF orientation must be 1–8, got ${orientation}`,
  );
  if (orientation === 1) return img;
  const { width: W, height: H, data } = img;
  const swap = orientation >= 5;
  const ow = swap ? H : W,
    oh = swap ? W : H;
  const src = new Uint32Array(data.buffer, data.byteOffset, W * H);
  const out = new Uint8Array(ow * oh * 4);
  const dst = new Uint32Array(out.buffer);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      // Source pixel of output (x, y).
      let sx: number, sy: number;
      switch (orientation) {
        case 2:
          sx = W - 1 - x;
          sy = y;
          break;
        case 3:
          sx = W - 1 - x;
          sy = H - 1 - y;
          break;
        case 4:
          sx = x;
          sy = H - 1 - y;
          break;
        case 5:
          sx = y;
          sy = x;
          break;
        case 6:
          sx = y;
          sy = H - 1 - x;
          break;
        case 7:
          sx = W - 1 - y;
          sy = H - 1 - x;
          break;
        default:
          sx = W - 1 - y;
          sy = x;
          break; // 8
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
      key =
        meta.colorType === 0 ? [scale(tc[0]), scale(tc[0]), scale(tc[0])] : [scale(tc[0]), scale(tc[1]), scale(tc[2])];
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
  for (const c of p.idat) {
    stream.set(c, o);
    o += c.length;
  }
  let raw: Uint8Array;
  try {
    raw = zlib.inflateSync(stream, { maxOutputLength: Math.max(p.rawBytes, 1) });
  } catch (e) {
    const big = (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    throw badImage(
      big
        ? `PNG image data inflates past the ${p.rawBytes} bytes a ${p.width}×${p.height} image needs (a zip bomb?)`
        : `PNG image data is not a complete zlib stream (${e instanceof Error ? e.message : String(e)}): truncated or corrupt`,
      'the file may be truncated or corrupt',
      e,
    );
  }
  if (raw.length !== p.rawBytes) {
    throw badImage(
      `PNG image data inflates to ${raw.length} bytes, a ${p.width}×${p.height} image needs ${p.rawBytes} (truncated)`,
      'the file may be truncated or corrupt',
    );
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
    if (!r.width || !r.height || r.data.length !== r.width * r.height * 4)
      throw new Error('decoder returned no pixels');
    return { width: r.width, height: r.height, data: r.data };
  } catch (e) {
    throw badImage(
      `could not decode JPEG: ${e instanceof Error ? e.message : String(e)}`,
      'the file may be corrupt or unsupported',
      e,
    );
  }
}
