// Hostile PNG/JPEG bytes through the built package: decodeImageFile must return an image of exactly the size its
// header declares (and, for untouched files, the original pixels), or fail with a HessError — fast, and without
// decoding declared sizes the data cannot hold.
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  encodeJpeg,
  exifSegment,
  pngChunk,
  pngWithStream,
  rgbPng,
  sofSizeOffset,
  withSegment,
} from '../helpers/images.js';
import { BUILT, Tally, report, loadSdk, must, sameBytes } from './cases.js';

describe.skipIf(!BUILT)('hostile image headers (built package)', () => {
  it('mutated PNG/JPEG headers, declared huge sizes, truncation, bombs: a correct image or a HessError', async () => {
    const sdk = await loadSdk();
    const t = new Tally('images', sdk.HessError as never);
    const rgba = (w: number, h: number) =>
      Uint8Array.from({ length: w * h * 4 }, (_, i) => ((i & 3) === 3 ? 255 : t.int(256)));
    // jpeg-js builds its tables per encode (~0.4 s): encode a pool of base JPEGs once, mutate copies.
    const jpegs = Array.from({ length: 12 }, () => {
      const w = 1 + t.int(24),
        h = 1 + t.int(24),
        px = rgba(w, h);
      return { w, h, px, file: encodeJpeg(w, h, px, 50 + t.int(50)) };
    });
    const streams = [1, 100, 20_000_000].map((n) => deflateSync(new Uint8Array(n)));
    for (let i = 0; i < 1500; i++) {
      const jpeg = t.rand() < 0.5;
      const base = jpeg
        ? t.pick(jpegs)
        : (() => {
            const w = 1 + t.int(24),
              h = 1 + t.int(24);
            return { w, h, px: rgba(w, h), file: new Uint8Array(0) };
          })();
      const { w, h, px } = base;
      let file: Uint8Array = jpeg ? base.file : rgbPng(w, h, px);
      if (jpeg && t.rand() < 0.3) file = withSegment(file, exifSegment(1 + t.int(8), t.rand() < 0.5));
      const original = file;
      const dv = () => new DataView(file.buffer, file.byteOffset, file.byteLength);
      const kind = t.int(10);
      file = file.slice();
      switch (kind) {
        case 0: {
          // declared size: huge, zero, off by a little
          const W = t.pick([0, 1, w + 1, 65535, 10000, 2 ** 31 - 1, 2 ** 32 - 1, t.int(70000)]);
          const H = t.pick([0, 1, h - 1, 65535, 10000, 2 ** 31 - 1, t.int(70000)]);
          if (jpeg) {
            const o = sofSizeOffset(file);
            dv().setUint16(o, H & 0xffff);
            dv().setUint16(o + 2, W & 0xffff);
          } else {
            dv().setUint32(16, W >>> 0);
            dv().setUint32(20, H >>> 0);
          }
          break;
        }
        case 1:
          file = file.subarray(0, t.int(file.length));
          break; // truncation anywhere
        case 2:
          for (let f = 1 + t.int(6); f > 0; f--) file[t.int(Math.min(file.length, 80))] ^= 1 << t.int(8);
          break; // header bit flips
        case 3:
          for (let f = 1 + t.int(6); f > 0; f--) file[t.int(file.length)] = t.int(256);
          break; // bytes anywhere
        case 4: // a segment/chunk length field that lies
          if (jpeg) {
            const o = 4 + (t.int(2) ? 0 : 2);
            dv().setUint16(o, t.pick([0, 1, 2, 0xffff, t.int(0x10000)]));
          } else dv().setUint32(33, t.pick([0, 2 ** 31, 2 ** 32 - 1, t.int(1000)]));
          break;
        case 5: // PNG: a small IDAT inflating far past the declared size (bomb), or a short one; JPEG: no EOI
          if (jpeg) file = file.subarray(0, file.length - 2);
          else file = pngWithStream(t.pick([w, 3000]), t.pick([h, 3000]), t.pick(streams), { interlace: t.int(2) });
          break;
        case 6: // PNG: invalid depth/colour type/interlace; JPEG: bad sampling factors or component count
          if (jpeg) file[sofSizeOffset(file) + 4 + t.int(5)] = t.pick([0, 0x55, 0xff, 0x11, 0x44]);
          else file[24 + t.int(5)] = t.int(256);
          break;
        case 7: // junk or duplicated structures after the signature
          if (jpeg)
            file = withSegment(
              file,
              t.pick([
                new Uint8Array([0xff, 0xc0, 0, 11, 8, 0xff, 0xff, 0xff, 0xff, 1, 1, 0x11, 0]),
                new Uint8Array([0xff, 0xe1, 0, 8, 0x45, 0x78, 0x69, 0x66, 0, 0]),
                new Uint8Array([0xff, 0xd9]),
              ]),
            );
          else
            file = Uint8Array.from([
              ...file.subarray(0, 33),
              ...pngChunk(
                t.pick(['IDAT', 'IEND', 'PLTE', 'tRNS', 'zzzz']),
                Array.from({ length: t.int(20) }, () => t.int(256)),
              ),
              ...file.subarray(33),
            ]);
          break;
        default:
          break; // untouched: must decode to the original
      }
      const bytes = file;
      await t.run(`${jpeg ? 'jpeg' : 'png'} kind ${kind}`, async () => {
        const img = await sdk.decodeImageFile(bytes);
        must(
          img.width > 0 && img.height > 0 && img.data.length === img.width * img.height * 4,
          'image buffer matches its size',
        );
        must(img.width * img.height <= sdk.DEFAULT_MAX_PIXELS, 'within the default pixel cap');
        const hd = sdk.readImageHeader(bytes);
        const swap = hd.orientation >= 5;
        must(
          (swap ? hd.height : hd.width) === img.width && (swap ? hd.width : hd.height) === img.height,
          'size is the header size',
        );
        if (kind >= 8) {
          const ref = jpeg ? await sdk.decodeImageFile(original) : { data: px };
          must(sameBytes(img.data, ref.data), 'untouched file decodes to its pixels');
        }
      });
    }
    report(t);
    expect(t.failures, t.failures.slice(0, 10).join('\n')).toEqual([]);
    expect(t.cases).toBe(1500);
  });
});
