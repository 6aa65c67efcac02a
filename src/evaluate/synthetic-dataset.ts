/**
 * Write seeded synthetic scenes ({@link renderSyntheticScene}) as a calibration/eval folder
 * (src/calibrate/dataset/README.md): images/*.png, cameras.json, depth/*.bin, points.bin. Node / Deno / Bun.
 */
import { writeCalibrationScene } from '../calibrate/dataset/reader.js';
import { crc32 } from '../model/source/cache.js';
import { renderSyntheticScene, type SyntheticSceneOptions, type SyntheticView } from './synthetic-scene.js';

/** Adler-32 of `b` (the zlib stream's checksum). */
function adler32(b: Uint8Array): number {
  let a = 1,
    s = 0;
  for (let i = 0; i < b.length; i++) {
    a = (a + b[i]) % 65521;
    s = (s + a) % 65521;
  }
  return ((s << 16) | a) >>> 0;
}

/**
 * An 8-bit RGB PNG of an RGBA view, deflate "stored" blocks (no compression): lossless, dependency-free, and the
 * few-KB images of these scenes do not need to be small.
 */
export function encodeRgbPng(view: Pick<SyntheticView, 'width' | 'height' | 'rgba'>): Uint8Array {
  const { width: W, height: H, rgba } = view;
  const raw = new Uint8Array(H * (1 + 3 * W));
  for (let y = 0; y < H; y++) {
    const o = y * (1 + 3 * W); // filter byte 0 (none), then RGB
    for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) raw[o + 1 + 3 * x + c] = rgba[4 * (y * W + x) + c];
  }
  const blocks = Math.max(1, Math.ceil(raw.length / 65535));
  const z = new Uint8Array(2 + raw.length + 5 * blocks + 4);
  z[0] = 0x78;
  z[1] = 0x01;
  let o = 2;
  for (let b = 0; b < blocks; b++) {
    const part = raw.subarray(b * 65535, Math.min(raw.length, (b + 1) * 65535));
    z[o] = b === blocks - 1 ? 1 : 0;
    z[o + 1] = part.length & 0xff;
    z[o + 2] = part.length >>> 8;
    z[o + 3] = ~part.length & 0xff;
    z[o + 4] = (~part.length >>> 8) & 0xff;
    z.set(part, o + 5);
    o += 5 + part.length;
  }
  new DataView(z.buffer).setUint32(o, adler32(raw));
  const chunk = (type: string, data: Uint8Array) => {
    const c = new Uint8Array(12 + data.length);
    const dv = new DataView(c.buffer);
    dv.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) c[4 + i] = type.charCodeAt(i);
    c.set(data, 8);
    dv.setUint32(8 + data.length, crc32(c.subarray(4, 8 + data.length)) >>> 0);
    return c;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, W);
  new DataView(ihdr.buffer).setUint32(4, H);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bit, RGB, deflate, no filter method, no interlace
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk('IHDR', ihdr),
    chunk('IDAT', z),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let k = 0;
  for (const p of parts) {
    out.set(p, k);
    k += p.length;
  }
  return out;
}

/**
 * Render scene `seed` and write it under `<root>/<name>/`; returns the scene folder.
 *
 * @example
 * for (const seed of [1, 2, 3]) await writeSyntheticScene('./eval', `s${seed}`, seed, { views: 8 });
 * const scenes = await readCalibrationScenes('./eval');
 */
export async function writeSyntheticScene(
  root: string,
  name: string,
  seed: number,
  opts: SyntheticSceneOptions = {},
): Promise<string> {
  const scene = renderSyntheticScene(seed, opts);
  const names = scene.views.map((_, s) => String(s).padStart(3, '0'));
  return writeCalibrationScene(root, name, {
    cameras: {
      version: 1,
      views: scene.views.map((v, s) => ({
        name: names[s],
        image: `${names[s]}.png`,
        width: v.width,
        height: v.height,
        extrinsic: Array.from(v.extrinsic),
        intrinsic: Array.from(v.intrinsic),
      })),
    },
    images: scene.views.map((v, s) => ({ name: `${names[s]}.png`, bytes: encodeRgbPng(v) })),
    points: scene.points,
    depth: Object.fromEntries(
      scene.views.map((v, s) => [names[s], { width: v.width, height: v.height, data: v.depth }]),
    ),
  });
}
