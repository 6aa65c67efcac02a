import { expectCode } from '../../helpers/errors.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { encodeJpeg, exifSegment, pngWithStream, rgbPng, sofSizeOffset, withSegment } from '../../helpers/images.js';
import { deflateSync } from 'node:zlib';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aaBicubicMatrix, aaBicubicWeights, resizeRgbBicubic } from '../../../src/model/image/pil-resize.js';
import {
  decodeImageFile,
  DEFAULT_MAX_PIXELS,
  fromBlob,
  fromImageBitmap,
} from '../../../src/model/image/image-decode.js';
import { readImageHeader } from '../../../src/model/image/image-header.js';
import {
  compositeOnWhite,
  MAX_TARGET_SIZE,
  preprocessImages,
  resizedSize,
  roundHalfEven,
} from '../../../src/model/image/preprocess.js';
import type { RgbaImage } from '../../../src/model/image/rgba-image.js';

function solid(width: number, height: number, rgba: [number, number, number, number]): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i += 4) data.set(rgba, i);
  return { width, height, data };
}

function noise(width: number, height: number, seed: number, alpha = false): RgbaImage {
  const r = rng(seed);
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i & 3) === 3 && !alpha ? 255 : Math.floor(r() * 256);
  return { width, height, data };
}

/** Pixel (c, y, x) of frame s in a preprocess result. */
const px = (r: { data: Float32Array; height: number; width: number }, s: number, c: number, y: number, x: number) =>
  r.data[((s * 3 + c) * r.height + y) * r.width + x];

describe('sizes', () => {
  it('reproduces the reference table (crop mode)', () => {
    const table: [number, number, number, number][] = [
      [779, 520, 518, 350], // kitchen
      [706, 529, 518, 392], // LLFF
      [1280, 960, 518, 392], // room
      [512, 384, 518, 392],
      [1024, 1024, 518, 518], // cartoon
      [912, 596, 518, 336], // oil painting
    ];
    for (const [w, h, W, H] of table) {
      expect(resizedSize(w, h, 'crop')).toEqual({ width: W, height: H });
      const r = preprocessImages([solid(w, h, [9, 9, 9, 255])]);
      expect(r.shape).toEqual([1, 3, H, W]);
    }
  });

  it('portrait frames become 518×518 centre crops', () => {
    expect(resizedSize(3024, 4032, 'crop')).toEqual({ width: 518, height: 686 });
    const r = preprocessImages([solid(600, 900, [1, 2, 3, 255])]);
    expect(r.shape).toEqual([1, 3, 518, 518]);
    // 900·518/600/14 = 55.5 → 56 (even) → 784; crop start (784 − 518) // 2 = 133
    expect(r.items[0]).toMatchObject({ resizedWidth: 518, resizedHeight: 784, cropTop: 133, padTop: 0, padLeft: 0 });
  });

  it('uses Python round-half-even', () => {
    expect([0.5, 1.5, 2.5, 3.5, 4.5, -0.5, -1.5, 2.4999999, 2.5000001].map(roundHalfEven)).toEqual([
      0, 2, 2, 4, 4, 0, -2, 2, 3,
    ]);
    // w = 518: new_h = round(h / 14) · 14
    expect(resizedSize(518, 35).height).toBe(28); // 2.5 → 2 (naive rounding: 42)
    expect(resizedSize(518, 49).height).toBe(56); // 3.5 → 4
    expect(resizedSize(518, 63).height).toBe(56); // 4.5 → 4 (naive: 70)
    expect(resizedSize(518, 77).height).toBe(84); // 5.5 → 6
    expect(resizedSize(1036, 70).height).toBe(28); // 70 · 0.5 / 14 = 2.5 → 2
    expect(resizedSize(1036, 126).height).toBe(56); // 4.5 → 4
    expect(resizedSize(70, 1036, 'pad')).toEqual({ width: 28, height: 518 });
  });

  it('pad mode: longest side 518, centred white padding', () => {
    const r = preprocessImages([solid(779, 520, [0, 0, 0, 255])], { mode: 'pad' });
    expect(r.shape).toEqual([1, 3, 518, 518]);
    expect(r.items[0]).toMatchObject({ resizedWidth: 518, resizedHeight: 350, padTop: 84, padLeft: 0 });
    for (let c = 0; c < 3; c++) {
      expect(px(r, 0, c, 0, 0)).toBe(1);
      expect(px(r, 0, c, 83, 300)).toBe(1);
      expect(px(r, 0, c, 84, 300)).toBe(0);
      expect(px(r, 0, c, 84 + 349, 517)).toBe(0);
      expect(px(r, 0, c, 84 + 350, 517)).toBe(1);
      expect(px(r, 0, c, 517, 517)).toBe(1);
    }
    const p = preprocessImages([solid(3024, 4032, [0, 0, 0, 255])], { mode: 'pad' });
    expect(p.items[0]).toMatchObject({ resizedWidth: 392, resizedHeight: 518, padTop: 0, padLeft: 63 });
    expect(px(p, 0, 1, 200, 62)).toBe(1);
    expect(px(p, 0, 1, 200, 63)).toBe(0);
    expect(px(p, 0, 1, 200, 63 + 391)).toBe(0);
    expect(px(p, 0, 1, 200, 63 + 392)).toBe(1);
  });

  it('mixed sizes are padded white, centred, to the max H and W', () => {
    const r = preprocessImages([
      solid(779, 520, [0, 0, 0, 255]),
      solid(706, 529, [0, 0, 0, 255]),
      solid(1024, 1024, [0, 0, 0, 255]),
    ]);
    expect(r.shape).toEqual([3, 3, 518, 518]);
    expect(r.items.map((i) => [i.padTop, i.padLeft])).toEqual([
      [84, 0],
      [63, 0],
      [0, 0],
    ]);
    const s = preprocessImages([solid(779, 520, [0, 0, 0, 255]), solid(706, 529, [0, 0, 0, 255])]);
    expect(s.shape).toEqual([2, 3, 392, 518]);
    expect(s.items[0]).toMatchObject({ padTop: 21, padLeft: 0 }); // (392 − 350) // 2
    expect(px(s, 0, 0, 20, 10)).toBe(1);
    expect(px(s, 0, 0, 21, 10)).toBe(0);
    expect(px(s, 0, 0, 21 + 349, 10)).toBe(0);
    expect(px(s, 0, 0, 21 + 350, 10)).toBe(1);
    expect(px(s, 1, 0, 0, 10)).toBe(0);
    // odd padding: pad_top = dh // 2, the extra row goes to the bottom
    const o = preprocessImages([solid(518, 28, [0, 0, 0, 255]), solid(518, 56, [0, 0, 0, 255])]);
    expect(o.items[0].padTop).toBe(14);
    const q = preprocessImages([solid(80, 518, [0, 0, 0, 255]), solid(518, 518, [0, 0, 0, 255])], { mode: 'pad' });
    expect(q.items[0]).toMatchObject({ resizedWidth: 84, padLeft: 217 });
  });

  it('rejects bad inputs with typed errors', async () => {
    await expectCode(() => preprocessImages([]), 'INVALID_ARGUMENT');
    await expectCode(
      () => preprocessImages([solid(4, 4, [0, 0, 0, 255])], { mode: 'zoom' as 'crop' }),
      'INVALID_ARGUMENT',
    );
    await expectCode(() => preprocessImages([solid(4, 4, [0, 0, 0, 255])], { targetSize: 500 }), 'INVALID_ARGUMENT');
    await expectCode(() => preprocessImages([{ width: 4, height: 4, data: new Uint8Array(10) }]), 'BAD_IMAGE');
    await expectCode(() => preprocessImages([{ width: 0, height: 4, data: new Uint8Array(0) }]), 'BAD_IMAGE');
    await expectCode(() => preprocessImages([solid(2000, 5, [0, 0, 0, 255])]), 'BAD_IMAGE', /elongated/);
    const ac = new AbortController();
    ac.abort();
    await expectCode(() => preprocessImages([solid(4, 4, [0, 0, 0, 255])], { signal: ac.signal }), 'ABORTED');
  });
});

describe('pixels', () => {
  it('identity resize (518 wide, height a multiple of 14) is an exact copy / 255', () => {
    const img = noise(518, 392, 1);
    const r = preprocessImages([img]);
    expect(r.shape).toEqual([1, 3, 392, 518]);
    for (let i = 0; i < 518 * 392; i++) {
      for (let c = 0; c < 3; c++) {
        if (r.data[c * 518 * 392 + i] !== Math.fround(img.data[i * 4 + c] / 255))
          throw new Error(`pixel ${i} channel ${c} differs`);
      }
    }
    const rgb = compositeOnWhite(img);
    const same = resizeRgbBicubic(rgb, 518, 392, 518, 392);
    expect(same).not.toBe(rgb);
    expect(same.length === rgb.length && same.every((v, i) => v === rgb[i])).toBe(true);
  });

  it('a constant image stays exactly constant (down- and upsampling, both modes)', () => {
    for (const [w, h] of [
      [779, 520],
      [100, 60],
      [37, 300],
      [1500, 1400],
    ]) {
      for (const mode of ['crop', 'pad'] as const) {
        const r = preprocessImages([solid(w, h, [37, 150, 220, 255])], { mode });
        const k = r.items[0];
        const expected = [37, 150, 220].map((v) => Math.fround(v / 255));
        const H = Math.min(k.resizedHeight, r.height);
        for (let c = 0; c < 3; c++) {
          for (let y = 0; y < H; y++) {
            for (let x = 0; x < k.resizedWidth; x++) {
              const v = px(r, 0, c, y + k.padTop, x + k.padLeft);
              if (v !== expected[c]) throw new Error(`${w}×${h} ${mode}: (${c},${y},${x}) = ${v}`);
            }
          }
        }
      }
    }
  });

  it('composites RGBA on white like PIL alpha_composite', () => {
    const img: RgbaImage = {
      width: 6,
      height: 1,
      data: new Uint8Array([
        ...[0, 0, 0, 128], // → 127
        ...[200, 200, 200, 100], // → 233 (float: 233.43)
        ...[12, 34, 56, 0], // fully transparent → white
        ...[12, 34, 56, 255], // opaque → unchanged
        ...[0, 0, 0, 1], // → 254
        ...[10, 10, 10, 200], // → 63
      ]),
    };
    expect([...compositeOnWhite(img)]).toEqual([
      127, 127, 127, 233, 233, 233, 255, 255, 255, 12, 34, 56, 254, 254, 254, 63, 63, 63,
    ]);
    // every alpha stays within 1 of the float blend
    for (let a = 0; a < 256; a++) {
      for (const c of [0, 77, 255]) {
        const v = compositeOnWhite({ width: 1, height: 1, data: new Uint8Array([c, c, c, a]) })[0];
        expect(Math.abs(v - (c * a + 255 * (255 - a)) / 255)).toBeLessThanOrEqual(1);
      }
    }
    const r = preprocessImages([solid(518, 28, [0, 0, 0, 0])]);
    expect(r.data.every((v) => v === 1)).toBe(true);
  });
});

describe('antialiased bicubic weights', () => {
  // Keys cubic, a = −0.5, at the points used below (derived by hand):
  // k(0.25) = (1.5·0.25 − 2.5)·0.0625 + 1 = 0.8671875; k(0.75) = (1.125 − 2.5)·0.5625 + 1 = 0.2265625;
  // k(1.25) = ((1.25 − 5)·1.25 + 8)·1.25 − 4)·(−0.5) = −0.0703125.
  const k025 = 0.8671875;
  const k075 = 0.2265625;
  const k125 = -0.0703125;

  it('downsampling 4 → 2: kernel stretched by scale 2, support 4', () => {
    // out 0: center 1, taps j = 0..3, argument (j − 1 + 0.5)/2 = −0.25, 0.25, 0.75, 1.25
    const s = 2 * k025 + k075 + k125; // 1.890625
    const w = aaBicubicWeights(4, 2);
    expect(w.ksize).toBe(9); // ceil(4)·2 + 1
    expect([...w.start]).toEqual([0, 0]);
    expect([...w.count]).toEqual([4, 4]);
    const row0 = [k025, k025, k075, k125].map((v) => v / s);
    const row1 = [k125, k075, k025, k025].map((v) => v / s);
    for (let t = 0; t < 4; t++) {
      expect(w.weights[t]).toBeCloseTo(row0[t], 15);
      expect(w.weights[9 + t]).toBeCloseTo(row1[t], 15);
    }
    expect(w.weights[4]).toBe(0);
  });

  it('upsampling 2 → 4: support 2, kernel not stretched', () => {
    // centers 0.25, 0.75, 1.25, 1.75; out 0 taps j = 0, 1 at arguments 0.25, 1.25; out 1 at −0.25, 0.75
    const w = aaBicubicWeights(2, 4);
    expect(w.ksize).toBe(5);
    expect([...w.start]).toEqual([0, 0, 0, 0]);
    expect([...w.count]).toEqual([2, 2, 2, 2]);
    const r0 = [k025, k125].map((v) => v / (k025 + k125)); // [1.0882.., −0.0882..]
    const r1 = [k025, k075].map((v) => v / (k025 + k075)); // [0.7928.., 0.2071..]
    const expected = [r0, r1, [...r1].reverse(), [...r0].reverse()];
    for (let i = 0; i < 4; i++)
      for (let t = 0; t < 2; t++) expect(w.weights[i * 5 + t]).toBeCloseTo(expected[i][t], 15);
  });

  it('same size is the identity; rows sum to 1; dense matrix agrees', () => {
    const id = aaBicubicMatrix(37, 37);
    for (let i = 0; i < 37; i++) for (let j = 0; j < 37; j++) expect(id[i * 37 + j] === (i === j ? 1 : 0)).toBe(true);
    for (const [a, b] of [
      [37, 5],
      [37, 7],
      [37, 25],
      [37, 28],
      [37, 24],
      [37, 21],
      [5, 37],
      [779, 518],
    ]) {
      const m = aaBicubicMatrix(a, b);
      for (let i = 0; i < b; i++) {
        let s = 0;
        for (let j = 0; j < a; j++) s += m[i * a + j];
        expect(s).toBeCloseTo(1, 12);
      }
    }
    // 37 → 5: scale 7.4, support 14.8; output 0 centre 3.7 → taps [int(−10.6), int(19)) clipped = [0, 19)
    const w = aaBicubicWeights(37, 5);
    expect(w.start[0]).toBe(0);
    expect(w.count[0]).toBe(19);
    expect(w.ksize).toBe(31);
  });

  it('a hand-computed 1-D resize with PIL fixed-point rounding', () => {
    // 4×1 → 2×1: only the horizontal pass runs (height unchanged).
    const s = 2 * k025 + k075 + k125;
    const fixed = (v: number) => Math.trunc(v < 0 ? -0.5 + v * 2 ** 22 : 0.5 + v * 2 ** 22);
    const k0 = [k025, k025, k075, k125].map((v) => fixed(v / s));
    const k1 = [k125, k075, k025, k025].map((v) => fixed(v / s));
    const vals = [10, 50, 200, 30];
    const rgb = new Uint8Array(vals.flatMap((v) => [v, 255 - v, v >> 1]));
    const out = resizeRgbBicubic(rgb, 4, 1, 2, 1);
    const expectPix = (k: number[], ch: (v: number) => number) => {
      const ss = 2 ** 21 + k.reduce((a, c, t) => a + c * ch(vals[t]), 0);
      return Math.min(255, Math.max(0, Math.floor(ss / 2 ** 22)));
    };
    const chans = [(v: number) => v, (v: number) => 255 - v, (v: number) => v >> 1];
    expect([...out]).toEqual([...chans.map((c) => expectPix(k0, c)), ...chans.map((c) => expectPix(k1, c))]);
    // and it is the rounded float result: out0 = (10·0.8672 + 50·0.8672 + 200·0.2266 − 30·0.0703)/1.8906 = 50.37
    expect(out[0]).toBe(50);
    expect(out[3]).toBe(111); // (−10·0.0703 + 50·0.2266 + 200·0.8672 + 30·0.8672)/1.8906 = 111.12
    // clamping: an overshooting edge clips to [0, 255]
    const edge = resizeRgbBicubic(new Uint8Array([0, 0, 0, 255, 255, 255]), 2, 1, 4, 1);
    expect([...edge].filter((_, i) => i % 3 === 0)).toEqual([0, 53, 202, 255]); // 255·(−0.088)→0, 255·0.2071=52.8, 255·0.7929=202.2, 255·1.088→255
  });

  it('2-D resize = horizontal pass, uint8 rounding, vertical pass (naive reference)', () => {
    const fixed = (v: number) => Math.trunc(v < 0 ? -0.5 + v * 2 ** 22 : 0.5 + v * 2 ** 22);
    const pass = (
      _src: Uint8Array,
      n: number,
      inLen: number,
      outLen: number,
      get: (line: number, i: number) => number,
    ) => {
      const w = aaBicubicWeights(inLen, outLen);
      const out = new Uint8Array(n * outLen);
      for (let line = 0; line < n; line++) {
        for (let o = 0; o < outLen; o++) {
          let ss = 2 ** 21;
          for (let t = 0; t < w.count[o]; t++) ss += get(line, w.start[o] + t) * fixed(w.weights[o * w.ksize + t]);
          out[line * outLen + o] = Math.min(255, Math.max(0, Math.floor(ss / 2 ** 22)));
        }
      }
      return out;
    };
    for (const [w, h, W, H, seed] of [
      [23, 17, 9, 31, 1],
      [40, 40, 14, 28, 2],
      [7, 50, 30, 12, 3],
      [64, 9, 64, 20, 4],
      [33, 21, 11, 21, 5],
    ]) {
      const img = noise(w, h, seed);
      const rgb = compositeOnWhite(img);
      const got = resizeRgbBicubic(rgb, w, h, W, H);
      for (let c = 0; c < 3; c++) {
        const horiz =
          w === W
            ? Uint8Array.from({ length: h * w }, (_, i) => rgb[i * 3 + c])
            : pass(rgb, h, w, W, (y, x) => rgb[(y * w + x) * 3 + c]);
        const full = h === H ? horiz : pass(horiz, W, h, H, (x, y) => horiz[y * W + x]); // indexed [x][y]
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            const want = h === H ? full[y * W + x] : full[x * H + y];
            if (got[(y * W + x) * 3 + c] !== want)
              throw new Error(`${w}×${h}→${W}×${H} (${c},${y},${x}): ${got[(y * W + x) * 3 + c]} ≠ ${want}`);
          }
        }
      }
    }
  });
});

describe('decoding', () => {
  async function png(img: RgbaImage, colorType: 0 | 2 | 4 | 6, bitDepth: 8 | 16 = 8): Promise<Uint8Array<ArrayBuffer>> {
    const { PNG } = await import('pngjs');
    const p = new PNG({ width: img.width, height: img.height });
    if (bitDepth === 16) {
      // pngjs packs 16-bit from a 16-bit RGBA buffer: value v → v·256 + low bits (so the high byte is v)
      const d16 = new Uint16Array(img.data.length);
      for (let i = 0; i < d16.length; i++) d16[i] = img.data[i] * 256 + ((i * 37) & 255);
      p.data = d16 as unknown as Buffer;
    } else {
      p.data = Buffer.from(img.data);
    }
    return new Uint8Array(PNG.sync.write(p, { colorType, bitDepth, inputHasAlpha: true }));
  }

  it('decodes RGBA PNGs keeping alpha, and drops alpha for other PNG colour types (like PIL convert)', async () => {
    const img = noise(13, 7, 9, true);
    const rgba = await decodeImageFile(await png(img, 6));
    expect(rgba.width).toBe(13);
    expect(rgba.height).toBe(7);
    expect([...rgba.data]).toEqual([...img.data]);
    const opaque = noise(13, 7, 10);
    const rgb = await decodeImageFile(await png(opaque, 2));
    expect([...rgb.data]).toEqual([...opaque.data]);
    const la = await decodeImageFile(await png(img, 4));
    expect(la.data.filter((_, i) => (i & 3) === 3).every((a) => a === 255)).toBe(true);
    const d16 = await decodeImageFile(await png(img, 6, 16));
    expect([...d16.data]).toEqual([...img.data]); // PIL keeps the high byte (pngjs alone would round v·255/65535)
  });

  it('PNG tRNS / palette transparency is dropped like PIL convert("RGB") (key colour kept, alpha 255)', async () => {
    const { deflateSync } = await import('node:zlib');
    const crcTable = Array.from({ length: 256 }, (_, n) => {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      return c >>> 0;
    });
    const crc32 = (b: Uint8Array) => {
      let c = 0xffffffff;
      for (const v of b) c = crcTable[(c ^ v) & 255] ^ (c >>> 8);
      return (c ^ 0xffffffff) >>> 0;
    };
    const chunk = (type: string, data: number[] | Uint8Array) => {
      const body = new Uint8Array([...type].map((c) => c.charCodeAt(0)).concat([...data]));
      const out = new Uint8Array(12 + data.length);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, data.length);
      out.set(body, 4);
      dv.setUint32(8 + data.length, crc32(body));
      return out;
    };
    const makePng = (w: number, h: number, colorType: number, rows: number[][], extra: Uint8Array[]) => {
      const ihdr = new Uint8Array(13);
      const dv = new DataView(ihdr.buffer);
      dv.setUint32(0, w);
      dv.setUint32(4, h);
      ihdr.set([8, colorType, 0, 0, 0], 8);
      const raw = new Uint8Array(rows.flatMap((r) => [0, ...r]));
      const parts = [
        new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        chunk('IHDR', ihdr),
        ...extra,
        chunk('IDAT', deflateSync(raw)),
        chunk('IEND', []),
      ];
      return new Uint8Array(parts.flatMap((p) => [...p]));
    };
    // RGB with tRNS key (10, 20, 30): pngjs zeroes keyed pixels; we restore the key colour, opaque.
    const rgbPng = makePng(2, 1, 2, [[10, 20, 30, 40, 50, 60]], [chunk('tRNS', [0, 10, 0, 20, 0, 30])]);
    expect([...(await decodeImageFile(rgbPng)).data]).toEqual([10, 20, 30, 255, 40, 50, 60, 255]);
    // grey with tRNS key 77
    const greyPng = makePng(2, 1, 0, [[77, 5]], [chunk('tRNS', [0, 77])]);
    expect([...(await decodeImageFile(greyPng)).data]).toEqual([77, 77, 77, 255, 5, 5, 5, 255]);
    // palette with a fully transparent entry: palette colour, opaque
    const palPng = makePng(2, 1, 3, [[0, 1]], [chunk('PLTE', [200, 10, 10, 0, 0, 250]), chunk('tRNS', [0, 128])]);
    expect([...(await decodeImageFile(palPng)).data]).toEqual([200, 10, 10, 255, 0, 0, 250, 255]);
  });

  it('decodes JPEGs', async () => {
    const jpeg = await import('jpeg-js');
    const enc = (jpeg.encode ?? (jpeg as unknown as { default: typeof jpeg }).default.encode)(
      { width: 32, height: 16, data: solid(32, 16, [200, 100, 50, 255]).data },
      100,
    );
    const img = await decodeImageFile(new Uint8Array(enc.data));
    expect([img.width, img.height]).toEqual([32, 16]);
    for (let i = 0; i < img.data.length; i += 4) {
      expect(Math.abs(img.data[i] - 200)).toBeLessThanOrEqual(3);
      expect(Math.abs(img.data[i + 1] - 100)).toBeLessThanOrEqual(3);
      expect(Math.abs(img.data[i + 2] - 50)).toBeLessThanOrEqual(3);
      expect(img.data[i + 3]).toBe(255);
    }
  });

  it('reads from a path; typed errors for missing, unknown, corrupt and oversized files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hess-img-'));
    try {
      const bytes = await png(solid(5, 3, [1, 2, 3, 255]), 2);
      const p = join(dir, 'a.png');
      await writeFile(p, bytes);
      const img = await decodeImageFile(p);
      expect([img.width, img.height, img.data[0], img.data[1], img.data[2], img.data[3]]).toEqual([5, 3, 1, 2, 3, 255]);
      await expectCode(decodeImageFile(join(dir, 'missing.png')), 'IO_ERROR');
      await expectCode(decodeImageFile(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), 'BAD_IMAGE', /unsupported/);
      await expectCode(decodeImageFile(bytes.slice(0, 40)), 'BAD_IMAGE');
      const corrupt = bytes.slice();
      for (let i = 40; i < corrupt.length - 12; i++) corrupt[i] ^= 0x5a;
      await expectCode(decodeImageFile(corrupt), 'BAD_IMAGE');
      const huge = bytes.slice();
      new DataView(huge.buffer).setUint32(16, 1_000_000); // IHDR width
      new DataView(huge.buffer).setUint32(20, 1_000_000);
      await expectCode(decodeImageFile(huge), 'BAD_IMAGE', /more than/);
      await expectCode(decodeImageFile(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3])), 'BAD_IMAGE', /JPEG/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fromBlob falls back to the pure-JS decoders without OffscreenCanvas; fromImageBitmap says why it cannot run', async () => {
    const bytes = await png(solid(4, 2, [9, 8, 7, 255]), 6);
    const img = await fromBlob(new Blob([bytes], { type: 'image/png' }));
    expect([img.width, img.height, img.data[0]]).toEqual([4, 2, 9]);
    await expectCode(
      () => fromImageBitmap({ width: 4, height: 2 } as unknown as ImageBitmap),
      'BAD_IMAGE',
      /OffscreenCanvas/,
    );
  });

  it('decoded PNG → preprocess end to end', async () => {
    const bytes = await png(noise(98, 70, 3), 2);
    const r = preprocessImages([await decodeImageFile(bytes)]);
    expect(r.shape).toEqual([1, 3, 364, 518]); // 70·518/98/14 = 26.43 → 26 → 364
    expect(r.data.every((v) => v >= 0 && v <= 1)).toBe(true);
  });
});

describe('image bombs and truncation (issue 12): sizes from the header, before decoding', () => {
  const fill = (w: number, h: number, seed: number) => {
    const r = rng(seed),
      d = new Uint8Array(w * h * 4);
    // smooth gradients + a little noise: survives JPEG well, and no two pixels of a row alike
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const o = 4 * (y * w + x);
        d[o] = (x * 255) / w;
        d[o + 1] = (y * 255) / h;
        d[o + 2] = Math.floor(r() * 255);
        d[o + 3] = 255;
      }
    return d;
  };

  it('a 74-byte PNG declaring 10000² fails fast with BAD_IMAGE (cap, and truncation past the cap)', async () => {
    const tiny = pngWithStream(10000, 10000, deflateSync(new Uint8Array(5)));
    expect(tiny.length).toBeLessThan(80);
    await expectCode(decodeImageFile(tiny), 'BAD_IMAGE', /cap/);
    await expectCode(decodeImageFile(tiny, { maxPixels: 2e8 }), 'BAD_IMAGE', /truncated/);
    // under the default 40 MP cap: still refused for its missing data, never decoded as black
    await expectCode(
      decodeImageFile(pngWithStream(6000, 6000, deflateSync(new Uint8Array(5)))),
      'BAD_IMAGE',
      /truncated/,
    );
    expect(readImageHeader(tiny)).toEqual({ format: 'png', width: 10000, height: 10000, orientation: 1 });
  });

  it(`the default cap is ${DEFAULT_MAX_PIXELS / 1e6} MP, overridable both ways`, async () => {
    await expectCode(
      decodeImageFile(pngWithStream(8000, 5001, deflateSync(new Uint8Array(5)))),
      'BAD_IMAGE',
      /40\.0 MP cap/,
    );
    const ok = rgbPng(6, 4, fill(6, 4, 1));
    expect((await decodeImageFile(ok)).width).toBe(6);
    await expectCode(decodeImageFile(ok, { maxPixels: 23 }), 'BAD_IMAGE', /cap/);
    await expectCode(decodeImageFile(ok, { maxPixels: 0 }), 'INVALID_ARGUMENT');
  });

  it('truncated PNGs (cut anywhere, IEND missing, data short) are BAD_IMAGE, never decoded', async () => {
    const bytes = rgbPng(40, 30, fill(40, 30, 2));
    for (let cut = 8; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 60))) {
      await expectCode(decodeImageFile(bytes.slice(0, cut)), 'BAD_IMAGE');
    }
    const img = await decodeImageFile(bytes);
    expect(Array.from(img.data.subarray(0, 8))).toEqual(Array.from(fill(40, 30, 2).subarray(0, 8)));
    // a complete zlib stream one row short
    const raw = new Uint8Array(29 * (1 + 3 * 40));
    await expectCode(decodeImageFile(pngWithStream(40, 30, deflateSync(raw))), 'BAD_IMAGE', /inflates to .* needs/);
  });

  it('a PNG zip bomb (small file, huge inflation) stops at the declared size, plain and interlaced', async () => {
    const bomb = deflateSync(new Uint8Array(60_000_000)); // 60 MB of zeros → ~60 KB; the image needs 3 MB
    expect(bomb.length).toBeLessThan(120_000);
    const before = process.memoryUsage().arrayBuffers;
    await expectCode(decodeImageFile(pngWithStream(1000, 1000, bomb)), 'BAD_IMAGE', /zip bomb/);
    await expectCode(decodeImageFile(pngWithStream(1000, 1000, bomb, { interlace: 1 })), 'BAD_IMAGE', /zip bomb/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
  });

  it('a small JPEG declaring 100 MP is refused from its header; one too short for its size is truncated', async () => {
    const jpg = encodeJpeg(16, 16, fill(16, 16, 3));
    const o = sofSizeOffset(jpg);
    const big = jpg.slice();
    new DataView(big.buffer).setUint16(o, 10000);
    new DataView(big.buffer).setUint16(o + 2, 10000);
    await expectCode(decodeImageFile(big), 'BAD_IMAGE', /cap|truncated/); // whichever header check comes first
    await expectCode(decodeImageFile(big, { maxPixels: 2e8 }), 'BAD_IMAGE', /truncated/);
    const mid = jpg.slice();
    new DataView(mid.buffer).setUint16(o, 6000);
    new DataView(mid.buffer).setUint16(o + 2, 6000);
    await expectCode(decodeImageFile(mid), 'BAD_IMAGE', /truncated/);
    for (let cut = 3; cut < jpg.length - 1; cut += 7) await expectCode(decodeImageFile(jpg.slice(0, cut)), 'BAD_IMAGE');
    expect((await decodeImageFile(jpg)).width).toBe(16);
  });

  it(`targetSize is bounded (${MAX_TARGET_SIZE}) and extreme aspect ratios are refused before resizing`, async () => {
    await expectCode(
      () => preprocessImages([solid(4, 4, [0, 0, 0, 255])], { targetSize: MAX_TARGET_SIZE + 14 }),
      'INVALID_ARGUMENT',
      /up to 4088/,
    );
    await expectCode(
      () => preprocessImages([solid(4, 4, [0, 0, 0, 255])], { targetSize: 14 * 2 ** 40 }),
      'INVALID_ARGUMENT',
    );
    expect(MAX_TARGET_SIZE % 14).toBe(0);
    expect(preprocessImages([solid(8, 8, [0, 0, 0, 255])], { targetSize: 28 }).shape).toEqual([1, 3, 28, 28]);
    await expectCode(() => preprocessImages([solid(1, 200_000, [0, 0, 0, 255])]), 'BAD_IMAGE', /elongated/);
  });
});

describe('JPEG EXIF orientation (issue 13)', () => {
  // Pure-JS reference by composition of two primitives (a different route from orientImage's per-case formulas).
  const rotCW = (m: RgbaImage): RgbaImage => {
    const out = new Uint8Array(m.data.length);
    for (let y = 0; y < m.height; y++)
      for (let x = 0; x < m.width; x++) {
        // (x, y) → (H−1−y, x) in the W'=H × H'=W output
        out.set(
          m.data.subarray(4 * (y * m.width + x), 4 * (y * m.width + x) + 4),
          4 * (x * m.height + (m.height - 1 - y)),
        );
      }
    return { width: m.height, height: m.width, data: out };
  };
  const mirror = (m: RgbaImage): RgbaImage => {
    const out = new Uint8Array(m.data.length);
    for (let y = 0; y < m.height; y++)
      for (let x = 0; x < m.width; x++) {
        out.set(
          m.data.subarray(4 * (y * m.width + x), 4 * (y * m.width + x) + 4),
          4 * (y * m.width + (m.width - 1 - x)),
        );
      }
    return { width: m.width, height: m.height, data: out };
  };
  const upright: Record<number, (m: RgbaImage) => RgbaImage> = {
    1: (m) => m,
    2: mirror,
    3: (m) => rotCW(rotCW(m)),
    4: (m) => mirror(rotCW(rotCW(m))),
    5: (m) => mirror(rotCW(m)),
    6: rotCW,
    7: (m) => mirror(rotCW(rotCW(rotCW(m)))),
    8: (m) => rotCW(rotCW(rotCW(m))),
  };

  it('orientations 1–8 (little- and big-endian EXIF) come in upright, equal to the rotated reference', async () => {
    const rand = rng(freshSeed('exif'));
    const w = 13 + Math.floor(rand() * 20),
      h = 7 + Math.floor(rand() * 20);
    const rgba = new Uint8Array(w * h * 4).map((_, i) => ((i & 3) === 3 ? 255 : Math.floor(rand() * 256)));
    const plain = encodeJpeg(w, h, rgba);
    const stored = await decodeImageFile(plain);
    for (let orientation = 1; orientation <= 8; orientation++) {
      for (const be of [false, true]) {
        const file = withSegment(plain, exifSegment(orientation, be));
        expect(readImageHeader(file).orientation).toBe(orientation);
        const got = await decodeImageFile(file);
        const ref = upright[orientation](stored);
        expect([got.width, got.height]).toEqual([ref.width, ref.height]);
        expect(Buffer.from(got.data).equals(Buffer.from(ref.data))).toBe(true);
        const ignored = await decodeImageFile(file, { exifOrientation: false });
        expect(Buffer.from(ignored.data).equals(Buffer.from(stored.data))).toBe(true);
      }
    }
  });

  it('absent, malformed or out-of-range EXIF leaves the pixels as stored (no error)', async () => {
    const rgba = new Uint8Array(9 * 5 * 4).fill(200);
    const plain = encodeJpeg(9, 5, rgba);
    for (const seg of [exifSegment(0), exifSegment(9), exifSegment(6).subarray(0, 20)]) {
      const s = seg.slice();
      s[2] = (s.length - 2) >> 8;
      s[3] = (s.length - 2) & 255;
      const img = await decodeImageFile(withSegment(plain, s));
      expect([img.width, img.height]).toEqual([9, 5]);
    }
  });
});
