// Hand-built PNG and JPEG bytes for decoder tests: valid files, files whose headers lie, EXIF-tagged JPEGs.
import { deflateSync } from 'node:zlib';
import * as jpegJs from 'jpeg-js';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const v of b) c = CRC_TABLE[(c ^ v) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk (length, type, data, CRC). */
export function pngChunk(type: string, data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(Array.from(data), 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A PNG with the given IHDR fields and `zstream` as its (single) IDAT payload: the header may lie about the data. */
export function pngWithStream(
  w: number,
  h: number,
  zstream: Uint8Array,
  o: { colorType?: number; depth?: number; interlace?: number } = {},
): Uint8Array<ArrayBuffer> {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  ihdr.set([o.depth ?? 8, o.colorType ?? 2, 0, 0, o.interlace ?? 0], 8);
  return concat([
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zstream),
    pngChunk('IEND', []),
  ]);
}

/** A valid 8-bit RGB PNG of filter-0 rows from RGBA pixels. */
export function rgbPng(w: number, h: number, rgba: Uint8Array): Uint8Array<ArrayBuffer> {
  const raw = new Uint8Array(h * (1 + 3 * w));
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) raw[y * (1 + 3 * w) + 1 + 3 * x + c] = rgba[4 * (y * w + x) + c];
  return pngWithStream(w, h, deflateSync(raw));
}

export function encodeJpeg(w: number, h: number, rgba: Uint8Array, quality = 90): Uint8Array<ArrayBuffer> {
  const enc = jpegJs.encode ?? (jpegJs as unknown as { default: typeof jpegJs }).default.encode;
  return new Uint8Array(enc({ width: w, height: h, data: rgba }, quality).data);
}

/** An APP1 EXIF segment whose IFD0 holds one Orientation (0x0112) SHORT entry (and a filler tag before it). */
export function exifSegment(orientation: number, bigEndian = false): Uint8Array {
  const tiff = new Uint8Array(8 + 2 + 24 + 4);
  const dv = new DataView(tiff.buffer);
  const le = !bigEndian;
  tiff.set(bigEndian ? [0x4d, 0x4d] : [0x49, 0x49], 0);
  dv.setUint16(2, 42, le);
  dv.setUint32(4, 8, le);
  dv.setUint16(8, 2, le);
  // 0x010f Make, ASCII, 4 bytes "abc\0" inline
  dv.setUint16(10, 0x010f, le);
  dv.setUint16(12, 2, le);
  dv.setUint32(14, 4, le);
  tiff.set([97, 98, 99, 0], 18);
  dv.setUint16(22, 0x0112, le);
  dv.setUint16(24, 3, le);
  dv.setUint32(26, 1, le);
  dv.setUint16(30, orientation, le);
  const payload = concat([new Uint8Array([0x45, 0x78, 0x69, 0x66, 0, 0]), tiff]);
  const seg = new Uint8Array(4 + payload.length);
  seg.set([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 255]);
  seg.set(payload, 4);
  return seg;
}

/** Insert a segment right after SOI. */
export function withSegment(jpeg: Uint8Array, seg: Uint8Array): Uint8Array<ArrayBuffer> {
  return concat([jpeg.subarray(0, 2), seg, jpeg.subarray(2)]);
}

/** Byte offset of the SOF0 marker's height field in a jpeg-js file (FF C0 len(2) precision(1) → height). */
export function sofSizeOffset(jpeg: Uint8Array): number {
  for (let i = 2; i + 1 < jpeg.length; i++) if (jpeg[i] === 0xff && jpeg[i + 1] === 0xc0) return i + 5;
  throw new Error('no SOF0');
}
