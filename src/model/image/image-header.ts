/**
 * PNG and JPEG headers read without decoding: dimensions (so a pixel cap applies before any decoder allocates),
 * the checks that catch truncated or inflated files cheaply, and JPEG EXIF orientation. Pure byte parsing, no
 * dependencies; every malformed structure is BAD_IMAGE.
 */
import { HessError } from '../../errors.js';

/** What {@link readImageHeader} learns from a file's first structures. */
export interface ImageHeader {
  format: 'png' | 'jpeg';
  width: number;
  height: number;
  /**
   * EXIF orientation (TIFF tag 0x0112) of a JPEG, 1–8: how the stored pixels must be transformed to display
   * upright (1 = as stored). 1 for PNGs, for JPEGs without EXIF and for unreadable or out-of-range values.
   */
  orientation: number;
}

/** PNG-specific header fields (IHDR) and the IDAT stream. */
export interface PngLayout {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlaced: boolean;
  /** Bytes the zlib stream must inflate to: filter byte + packed samples per row, per Adam7 pass if interlaced. */
  rawBytes: number;
  /** The IDAT chunks' payloads, in order. */
  idat: Uint8Array[];
}

function bad(message: string, fix = 'the file may be truncated or corrupt'): HessError {
  return new HessError('BAD_IMAGE', message, fix);
}

export function isPng(b: Uint8Array): boolean {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  return b.length >= 8 && sig.every((v, i) => b[i] === v);
}

export function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

/**
 * Format, size and orientation of a PNG or JPEG from its header structures (whole-file structure is checked too:
 * PNG chunk lengths and IEND; JPEG segments, a scan and EOI, and enough entropy-coded bytes for the declared size).
 *
 * @example
 * const { width, height } = readImageHeader(bytes); // before decoding
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  if (isPng(bytes)) {
    const p = readPngLayout(bytes);
    return { format: 'png', width: p.width, height: p.height, orientation: 1 };
  }
  if (isJpeg(bytes)) return readJpegHeader(bytes);
  throw bad('unsupported image format (only PNG and JPEG are decoded here)', 'decode it yourself and pass RGBA pixels');
}

/** Bytes of a file's start that are enough for {@link readImageSize} (JPEG EXIF/ICC segments come first). */
export const IMAGE_HEADER_BYTES = 1 << 18;

/**
 * `{ width, height }` from the PNG IHDR chunk or the first JPEG frame header in `head`, the file's first bytes
 * (e.g. {@link IMAGE_HEADER_BYTES} of them), or `undefined` when `head` is not a PNG/JPEG, is malformed or ends
 * before the size. Unlike {@link readImageHeader} it checks nothing past the size: the rest of the file is unread.
 *
 * @example
 * const size = readImageSize(firstBytes); // { width: 779, height: 520 }
 */
export function readImageSize(head: Uint8Array): { width: number; height: number } | undefined {
  if (isPng(head)) {
    if (head.length < 24 || String.fromCharCode(...head.subarray(12, 16)) !== 'IHDR') return undefined;
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  if (!isJpeg(head)) return undefined;
  try {
    for (const { marker, at, end } of jpegSegments(head)) {
      if (isSof(marker) && end - at >= 7)
        return { width: (head[at + 5] << 8) | head[at + 6], height: (head[at + 3] << 8) | head[at + 4] };
    }
  } catch (e) {
    if (!(e instanceof HessError)) throw e; // a malformed or cut segment: no size
  }
  return undefined;
}

const PNG_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** Walk a PNG's chunks: IHDR fields, valid depth/colour type, every chunk inside the file, IDAT present, IEND last. */
export function readPngLayout(bytes: Uint8Array): PngLayout {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = (o: number) => String.fromCharCode(bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]);
  if (bytes.length < 33 || type(12) !== 'IHDR' || dv.getUint32(8) !== 13) throw bad('PNG has no valid IHDR chunk');
  const width = dv.getUint32(16),
    height = dv.getUint32(20),
    depth = bytes[24],
    colorType = bytes[25],
    interlace = bytes[28];
  if (width === 0 || height === 0 || width > 2 ** 31 - 1 || height > 2 ** 31 - 1)
    throw bad(`PNG has invalid size ${width}×${height}`);
  if (!PNG_DEPTHS[colorType]?.includes(depth))
    throw bad(`PNG has an invalid colour type ${colorType} / bit depth ${depth}`);
  if (bytes[26] !== 0 || bytes[27] !== 0 || interlace > 1)
    throw bad('PNG uses an unknown compression, filter or interlace method');
  const idat: Uint8Array[] = [];
  let o = 33,
    ended = false,
    palette = false;
  while (o + 12 <= bytes.length) {
    const len = dv.getUint32(o),
      t = type(o + 4);
    if (len > bytes.length - o - 12)
      throw bad(`PNG chunk ${JSON.stringify(t)} runs past the end of the file (truncated)`);
    if (t === 'IDAT') idat.push(bytes.subarray(o + 8, o + 8 + len));
    else if (t === 'PLTE') palette = true;
    else if (t === 'IEND') {
      ended = true;
      break;
    }
    o += 12 + len;
  }
  if (!ended) throw bad('PNG has no IEND chunk (truncated)');
  if (idat.length === 0) throw bad('PNG has no image data (IDAT)');
  if (colorType === 3 && !palette) throw bad('palette PNG has no PLTE chunk');
  const bpp = PNG_CHANNELS[colorType] * depth;
  const row = (w: number) => 1 + Math.ceil((w * bpp) / 8);
  let rawBytes = 0;
  if (interlace === 0) rawBytes = height * row(width);
  else {
    for (const [x0, y0, dx, dy] of ADAM7) {
      const pw = width > x0 ? Math.ceil((width - x0) / dx) : 0;
      const ph = height > y0 ? Math.ceil((height - y0) / dy) : 0;
      if (pw > 0 && ph > 0) rawBytes += ph * row(pw);
    }
  }
  return { width, height, depth, colorType, interlaced: interlace === 1, rawBytes, idat };
}

/** SOFn markers that carry frame dimensions (C4 = DHT, C8 = JPG, CC = DAC are not frames). */
function isSof(m: number): boolean {
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

/** One JPEG marker segment: its marker, where its length field starts and where the segment ends. */
interface JpegSegment {
  marker: number;
  at: number;
  end: number;
}

/**
 * The marker segments of a JPEG from SOI up to the first scan (SOS, included) or EOI; standalone markers and fill
 * bytes are skipped. A segment that is malformed or runs past the end of `bytes` is BAD_IMAGE.
 */
function* jpegSegments(bytes: Uint8Array): Generator<JpegSegment> {
  const n = bytes.length;
  const u16 = (o: number) => (bytes[o] << 8) | bytes[o + 1];
  let o = 2;
  while (o < n) {
    if (bytes[o] !== 0xff) throw bad(`JPEG: expected a marker at byte ${o}`);
    while (o < n && bytes[o] === 0xff) o++; // fill bytes
    if (o >= n) return;
    const m = bytes[o++];
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) continue; // standalone markers
    if (m === 0xd9) return;
    if (o + 2 > n) throw bad('JPEG segment header runs past the end of the file (truncated)');
    const len = u16(o);
    if (len < 2 || o + len > n) throw bad(`JPEG segment 0x${m.toString(16)} runs past the end of the file (truncated)`);
    yield { marker: m, at: o, end: o + len };
    o += len;
    if (m === 0xda) return;
  }
}

function readJpegHeader(bytes: Uint8Array): ImageHeader {
  const n = bytes.length;
  const u16 = (o: number) => (bytes[o] << 8) | bytes[o + 1];
  let width = 0,
    height = 0,
    orientation = 1,
    sos = -1;
  let comps: { h: number; v: number }[] = [];
  for (const { marker: m, at: o, end } of jpegSegments(bytes)) {
    const seg = bytes.subarray(o + 2, end);
    if (m === 0xe1 && orientation === 1) orientation = exifOrientation(seg);
    if (isSof(m)) {
      if (width) throw bad('JPEG has more than one frame header');
      if (seg.length < 6) throw bad('JPEG frame header is too short');
      height = u16(o + 3);
      width = u16(o + 5);
      const nc = seg[5];
      if (nc === 0 || seg.length < 6 + 3 * nc) throw bad('JPEG frame header is too short for its components');
      comps = Array.from({ length: nc }, (_, i) => ({ h: seg[7 + 3 * i] >> 4, v: seg[7 + 3 * i] & 15 }));
      if (comps.some((c) => c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4)) throw bad('JPEG has invalid sampling factors');
      if (width === 0 || height === 0)
        throw bad(`JPEG has invalid size ${width}×${height}`, 'a JPEG with a DNL-defined height is not supported');
    }
    if (m === 0xda) sos = end;
  }
  if (!width) throw bad('JPEG has no frame header (SOF)');
  if (sos < 0) throw bad('JPEG has no scan (truncated)');
  // Entropy-coded data never contains FF D9 (FF is stuffed with 00), so a missing EOI means the file was cut short.
  let eoi = -1;
  for (let i = sos; i + 1 < n; i++)
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) {
      eoi = i;
      break;
    }
  if (eoi < 0) throw bad(`JPEG has no end-of-image marker (truncated at ${n} bytes)`);
  // Every 8×8 block of every component costs at least one Huffman bit (its DC code), in baseline and progressive
  // files alike: a file too short for its declared size is truncated, and is refused before any decoder allocates.
  const hmax = Math.max(...comps.map((c) => c.h)),
    vmax = Math.max(...comps.map((c) => c.v));
  let blocks = 0;
  for (const c of comps)
    blocks += Math.ceil(Math.ceil((width * c.h) / hmax) / 8) * Math.ceil(Math.ceil((height * c.v) / vmax) / 8);
  if ((eoi - sos) * 8 < blocks) {
    throw bad(
      `JPEG declares ${width}×${height} (${blocks} blocks) but has only ${eoi - sos} bytes of image data (truncated)`,
    );
  }
  return { format: 'jpeg', width, height, orientation };
}

/** Orientation from an APP1 payload ("Exif\0\0" + TIFF); 1 when absent, malformed or out of range. */
export function exifOrientation(seg: Uint8Array): number {
  if (seg.length < 14 || String.fromCharCode(...seg.subarray(0, 6)) !== 'Exif\0\0') return 1;
  const t = seg.subarray(6);
  const le = t[0] === 0x49 && t[1] === 0x49;
  if (!le && !(t[0] === 0x4d && t[1] === 0x4d)) return 1;
  const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
  if (dv.getUint16(2, le) !== 42) return 1;
  const ifd = dv.getUint32(4, le);
  if (ifd + 2 > t.length) return 1;
  const count = dv.getUint16(ifd, le);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > t.length) return 1;
    if (dv.getUint16(e, le) === 0x0112) {
      if (dv.getUint16(e + 2, le) !== 3 || dv.getUint32(e + 4, le) < 1) return 1; // SHORT, at least 1 value
      const v = dv.getUint16(e + 8, le);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}
