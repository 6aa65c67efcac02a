import { describe, expect, it } from 'vitest';
import {
  encodeDepthBin,
  encodePointsBin,
  parseDepthBin,
  parsePoints,
  depthMapToPoints,
  validateCameras,
  type CamerasFileView,
} from '../../../src/calibrate/dataset/format.js';
import { encodePlyPoints, parsePlyPoints, PlyError } from '../../../src/calibrate/dataset/ply.js';
import { HessError } from '../../../src/errors.js';
import { randomExtrinsics, randomPoints, rng } from './rng.js';

function view(r: () => number, i: number): CamerasFileView {
  const E = randomExtrinsics(r, 1);
  return {
    image: `${String(i).padStart(3, '0')}.png`,
    width: 64,
    height: 48,
    extrinsic: [Array.from(E.subarray(0, 4)), Array.from(E.subarray(4, 8)), Array.from(E.subarray(8, 12))],
    intrinsic: [
      [50 + r(), 0, 32],
      [0, 50 + r(), 24],
      [0, 0, 1],
    ],
  };
}

function badDataset(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HessError);
    expect((e as HessError).code).toBe('BAD_DATASET');
    expect((e as HessError).message).toMatch(pattern);
    return;
  }
  throw new Error('expected BAD_DATASET');
}

describe('validateCameras', () => {
  it('accepts nested and flat matrices and defaults names to image stems', () => {
    const r = rng(71);
    const views = [view(r, 0), view(r, 1)];
    views[1] = {
      ...views[1],
      name: 'second',
      extrinsic: (views[1].extrinsic as number[][]).flat(),
      intrinsic: (views[1].intrinsic as number[][]).flat(),
    };
    const out = validateCameras({ version: 1, views }, 'sceneA');
    expect(out.map((v) => v.name)).toEqual(['000', 'second']);
    expect(Array.from(out[1].extrinsic)).toEqual(views[1].extrinsic);
    expect(out[0].intrinsic[0]).toBe((views[0].intrinsic as number[][])[0][0]);
  });

  it('rejects bad cameras with BAD_DATASET naming scene and file', () => {
    const r = rng(72);
    const ok = () => view(r, 0);
    const withE = (f: (e: number[][]) => void) => {
      const v = ok();
      f(v.extrinsic as number[][]);
      return { views: [v] };
    };
    badDataset(() => validateCameras({}, 'S'), /scene "S", file "cameras.json".*views/);
    badDataset(() => validateCameras({ views: [] }, 'S'), /empty/);
    badDataset(
      () =>
        validateCameras(
          withE((e) => (e[1][2] = NaN)),
          'S',
        ),
      /view 0: "extrinsic" entry 6 is NaN/,
    );
    // NaN/Infinity serialise to null in JSON
    badDataset(() => validateCameras(JSON.parse(JSON.stringify(withE((e) => (e[0][3] = Infinity)))), 'S'), /null/);
    // An additive change, not `*= 1.01`: scaling an entry of a random rotation that happens to be near 0 barely changes
    // RᵀR. Adding δ to R₀₀ shifts (RᵀR)₀ⱼ by δ·R₀ⱼ, and row 0 is a unit vector, so the error is ≳ δ/√3 ≫ tolerance.
    badDataset(
      () =>
        validateCameras(
          withE((e) => (e[0][0] += 0.01)),
          'S',
        ),
      /not orthonormal/,
    );
    badDataset(
      () =>
        validateCameras(
          withE((e) => e[2].splice(0, 3, ...e[2].slice(0, 3).map((x) => -x))),
          'S',
        ),
      /det −1/,
    );
    badDataset(
      () =>
        validateCameras(
          withE((e) => e.pop()),
          'S',
        ),
      /must be 3×4/,
    );
    badDataset(
      () =>
        validateCameras(
          {
            views: [
              {
                ...ok(),
                intrinsic: [
                  [0, 0, 1],
                  [0, 1, 1],
                  [0, 0, 1],
                ],
              },
            ],
          },
          'S',
        ),
      /focal/,
    );
    badDataset(
      () =>
        validateCameras(
          {
            views: [
              {
                ...ok(),
                intrinsic: [
                  [1, 0, 1],
                  [0, 1, 1],
                  [0, 0.5, 1],
                ],
              },
            ],
          },
          'S',
        ),
      /\[0, 0, 1\]/,
    );
    badDataset(() => validateCameras({ views: [{ ...ok(), width: 10.5 }] }, 'S'), /width/);
    badDataset(() => validateCameras({ views: [{ ...ok(), image: 'a.tiff' }] }, 'S'), /png\/.jpg/);
    badDataset(() => validateCameras({ views: [{ ...ok(), image: '../a.png' }] }, 'S'), /file name/);
    badDataset(() => validateCameras({ views: [ok(), ok()] }, 'S'), /listed twice/);
    badDataset(
      () =>
        validateCameras(
          {
            views: [
              { ...ok(), name: 'x' },
              { ...view(r, 1), name: 'x' },
            ],
          },
          'S',
        ),
      /duplicate view name/,
    );
  });
});

describe('points files', () => {
  it('points.bin round-trips random clouds and rejects bad ones', () => {
    const r = rng(73);
    const xyz = Float32Array.from(randomPoints(r, 123, 10));
    expect(parsePoints(encodePointsBin(xyz), 'S', 'points.bin')).toEqual(xyz);
    badDataset(() => parsePoints(encodePointsBin(xyz).subarray(0, 20), 'S', 'points.bin'), /multiple of 12/);
    badDataset(() => parsePoints(new Uint8Array(0), 'S', 'points.bin'), /empty/);
    const bad = Float32Array.from(xyz);
    bad[40] = NaN;
    badDataset(
      () => parsePoints(encodePointsBin(bad), 'S', 'points.bin'),
      /scene "S", file "points.bin": point 13 .*NaN/,
    );
  });

  it('PLY: ascii and binary_little_endian round-trip', () => {
    const r = rng(74);
    const xyz = Float32Array.from(randomPoints(r, 77, 5));
    expect(parsePlyPoints(encodePlyPoints(xyz))).toEqual(xyz);
    expect(parsePlyPoints(encodePlyPoints(xyz, 'ascii'))).toEqual(xyz);
  });

  it('PLY: skips other properties and elements (incl. lists before the vertices), reads doubles', () => {
    const r = rng(75);
    const n = 20;
    const xyz = randomPoints(r, n, 3);
    const header =
      'ply\r\nformat binary_little_endian 1.0\r\ncomment made by a test\r\nelement camera 1\r\nproperty list uchar int ids\r\n' +
      `element vertex ${n}\r\nproperty uchar red\r\nproperty double x\r\nproperty short s\r\nproperty double y\r\nproperty double z\r\n` +
      'element face 1\r\nproperty list uchar int vertex_indices\r\nend_header\r\n';
    const head = new TextEncoder().encode(header);
    const bodyLen = 1 + 4 * 3 + n * (1 + 8 + 2 + 8 + 8) + 1 + 4 * 3;
    const bytes = new Uint8Array(head.length + bodyLen);
    bytes.set(head);
    const dv = new DataView(bytes.buffer, head.length);
    let o = 0;
    dv.setUint8(o, 3);
    o += 1;
    for (let k = 0; k < 3; k++, o += 4) dv.setInt32(o, k, true);
    for (let i = 0; i < n; i++) {
      dv.setUint8(o, 200);
      o += 1;
      dv.setFloat64(o, xyz[3 * i], true);
      o += 8;
      dv.setInt16(o, -5, true);
      o += 2;
      dv.setFloat64(o, xyz[3 * i + 1], true);
      o += 8;
      dv.setFloat64(o, xyz[3 * i + 2], true);
      o += 8;
    }
    dv.setUint8(o, 3);
    o += 1;
    expect(parsePlyPoints(bytes)).toEqual(Float32Array.from(xyz));

    const ascii = `ply\nformat ascii 1.0\nelement face 2\nproperty list uchar int vertex_indices\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\nproperty uchar red\nend_header\n3 0 1 2\n4 0 1 2 3\n1 2 3 255\n-4.5 5e-1 6 0\n`;
    expect(Array.from(parsePlyPoints(new TextEncoder().encode(ascii)))).toEqual([1, 2, 3, -4.5, 0.5, 6]);
  });

  it('PLY: malformed files are BAD_DATASET through parsePoints', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(() => parsePlyPoints(enc('hello'))).toThrow(PlyError);
    badDataset(
      () =>
        parsePoints(
          enc(
            'ply\nformat binary_big_endian 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n',
          ),
          'S',
          'points.ply',
        ),
      /file "points.ply": unsupported PLY format/,
    );
    badDataset(
      () =>
        parsePoints(
          enc(
            'ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n',
          ),
          'S',
          'points.ply',
        ),
      /ended early/,
    );
    badDataset(
      () =>
        parsePoints(
          enc(
            'ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 nan 3\n',
          ),
          'S',
          'points.ply',
        ),
      /non-finite/,
    );
    badDataset(
      () =>
        parsePoints(
          enc(
            'ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty int z\nend_header\n1 2 3\n',
          ),
          'S',
          'points.ply',
        ),
      /float or double/,
    );
    const bin = encodePlyPoints([1, 2, 3, 4, 5, 6]);
    badDataset(() => parsePoints(bin.subarray(0, bin.length - 2), 'S', 'points.ply'), /truncated/);
  });
});

describe('depth files', () => {
  it('round-trip and validation', () => {
    const r = rng(76);
    const d = { width: 7, height: 5, data: Float32Array.from({ length: 35 }, () => (r() < 0.2 ? 0 : 1 + r())) };
    const bytes = encodeDepthBin(d);
    expect(bytes.length).toBe(16 + 4 * 35);
    expect(parseDepthBin(bytes, 'S', 'depth/a.bin', { width: 7, height: 5 })).toEqual(d);
    badDataset(
      () => parseDepthBin(bytes, 'S', 'depth/a.bin', { width: 5, height: 7 }),
      /depth\/a.bin.*7×5 but the view's image is 5×7/,
    );
    badDataset(() => parseDepthBin(bytes.subarray(0, 40), 'S', 'depth/a.bin'), /expected 156/);
    const nan = { ...d, data: Float32Array.from(d.data) };
    nan.data[8] = NaN;
    badDataset(() => parseDepthBin(encodeDepthBin(nan), 'S', 'depth/a.bin'), /pixel \(1, 1\)/);
    const wrong = Uint8Array.from(bytes);
    wrong[0] = 0x58;
    badDataset(() => parseDepthBin(wrong, 'S', 'depth/a.bin'), /magic/);
  });

  it('depthMapToPoints inverts the projection of random points', () => {
    const r = rng(77);
    const E = randomExtrinsics(r, 1);
    const K = Float64Array.of(40, 0.7, 16.3, 0, 42, 11.8, 0, 0, 1);
    const W = 32;
    const H = 24;
    const data = new Float32Array(W * H);
    let valid = 0;
    for (let i = 0; i < W * H; i++) {
      if (r() < 0.3) continue;
      data[i] = 1 + r() * 3;
      valid++;
    }
    const pts = depthMapToPoints({ width: W, height: H, data }, K, E);
    expect(pts.length).toBe(3 * valid);
    // re-project each world point: it must land on its pixel at its depth
    let k = 0;
    for (let v = 0; v < H; v++) {
      for (let u = 0; u < W; u++) {
        if (!(data[v * W + u] > 0)) continue;
        const X = [pts[3 * k], pts[3 * k + 1], pts[3 * k + 2]];
        const cam = [0, 1, 2].map((j) => E[4 * j] * X[0] + E[4 * j + 1] * X[1] + E[4 * j + 2] * X[2] + E[4 * j + 3]);
        expect(cam[2]).toBeCloseTo(data[v * W + u], 4);
        expect((K[0] * cam[0] + K[1] * cam[1]) / cam[2] + K[2]).toBeCloseTo(u, 3);
        expect((K[4] * cam[1]) / cam[2] + K[5]).toBeCloseTo(v, 3);
        k++;
      }
    }
  });
});
