// Names and paths read from data stay inside their folders (BAD_DATASET otherwise), malformed CO3D annotations are
// BAD_DATASET rather than TypeErrors, and cameras.json sizes are checked against the real images' headers.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCo3dFrame, co3dToCalibration, parseCo3dAnnotations } from '../../../src/calibrate/dataset/co3d.js';
import { readImageHeader, readImageSize } from '../../../src/model/image/image-header.js';
import { readCalibrationScenes, writeCalibrationScene } from '../../../src/calibrate/dataset/reader.js';
import type { CamerasFile } from '../../../src/calibrate/dataset/format.js';
import { HessError } from '../../../src/errors.js';
import { freshSeed, rng } from '../../helpers/random.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'hess-dataset-safety-'));
});
afterAll(async () => rm(base, { recursive: true, force: true }));

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return e instanceof HessError ? e.code : `raw ${(e as Error)?.name}`;
  }
  return 'ok';
};
const codeAsync = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e) => (e instanceof HessError ? e.code : `raw ${(e as Error)?.name}`),
  );

function png(w: number, h: number): Uint8Array {
  const p = new PNG({ width: w, height: h });
  p.data.fill(128);
  return new Uint8Array(PNG.sync.write(p));
}

const identity = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
];
const cams = (image: string, width: number, height: number): CamerasFile => ({
  version: 1,
  views: [
    {
      image,
      width,
      height,
      extrinsic: identity,
      intrinsic: [
        [20, 0, width / 2],
        [0, 20, height / 2],
        [0, 0, 1],
      ],
    },
  ],
});

describe('dataset names and paths from data', () => {
  it('writeCalibrationScene refuses scene, image and depth names that are not plain names; nothing is written outside root', async () => {
    const root = join(base, 'w', 'root');
    const bad = ['../x', '..', '.', '', 'a/b', 'a\\b', '/abs', 'x\0y'];
    for (const name of bad) {
      expect(
        await codeAsync(
          writeCalibrationScene(root, name, {
            cameras: cams('a.png', 4, 4),
            images: [{ name: 'a.png', bytes: png(4, 4) }],
          }),
        ),
        JSON.stringify(name),
      ).toBe('BAD_DATASET');
      expect(
        await codeAsync(
          writeCalibrationScene(root, 's', { cameras: cams('a.png', 4, 4), images: [{ name, bytes: png(4, 4) }] }),
        ),
        JSON.stringify(name),
      ).toBe('BAD_DATASET');
      expect(
        await codeAsync(
          writeCalibrationScene(root, 's', {
            cameras: cams('a.png', 4, 4),
            images: [{ name: 'a.png', bytes: png(4, 4) }],
            depth: { [name]: { width: 1, height: 1, data: new Float32Array(1) } },
          }),
        ),
        JSON.stringify(name),
      ).toBe('BAD_DATASET');
    }
    expect(await readdir(base)).toEqual([]); // not even root was created, nothing escaped beside it
  });

  it('a failing write (missing image source) leaves no scene files behind', async () => {
    const root = join(base, 'partial');
    const r = await codeAsync(
      writeCalibrationScene(root, 's', {
        cameras: cams('a.png', 4, 4),
        images: [
          { name: 'a.png', bytes: png(4, 4) },
          { name: 'b.png', source: join(base, 'does-not-exist.png') },
        ],
        points: [1, 2, 3],
      }),
    );
    expect(r).toBe('IO_ERROR');
    expect(await readdir(base)).not.toContain('partial');
  });

  it('CO3D annotations: {}, [null], a frame without image, ../ names and paths → BAD_DATASET', () => {
    const vp = {
      R: [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
      T: [0, 0, 1],
      focal_length: [2, 2],
      principal_point: [0, 0],
    };
    const ok = {
      sequence_name: 's1',
      frame_number: 0,
      image: { path: 'apple/s1/images/f0.jpg', size: [10, 12] },
      viewpoint: vp,
    };
    expect(parseCo3dAnnotations([ok], 'a.jgz')).toHaveLength(1);
    const hostile: unknown[] = [
      {},
      null,
      3,
      'x',
      { ...ok, image: undefined },
      { ...ok, image: null },
      { ...ok, image: { size: [1, 1] } },
      { ...ok, sequence_name: '../x' },
      { ...ok, sequence_name: '..' },
      { ...ok, sequence_name: 'a/b' },
      { ...ok, sequence_name: 7 },
      { ...ok, image: { ...ok.image, path: '../../../../etc/passwd' } },
      { ...ok, image: { ...ok.image, path: '/etc/passwd' } },
      { ...ok, image: { ...ok.image, path: 'apple/../../x.jpg' } },
      { ...ok, image: { ...ok.image, path: 'a\\..\\x.jpg' } },
      { ...ok, image: { ...ok.image, path: 'apple/s1/images/' } },
      { ...ok, image: { ...ok.image, path: 'a/\0.jpg' } },
      { ...ok, image: { ...ok.image, size: 'big' } },
      { ...ok, frame_number: null },
      { ...ok, viewpoint: { ...vp, R: [[1, 0, 0]] } },
      { ...ok, viewpoint: { ...vp, focal_length: undefined } },
      { ...ok, viewpoint: 5 },
    ];
    for (const [i, f] of hostile.entries()) {
      expect(
        code(() => checkCo3dFrame(f, i)),
        JSON.stringify(f),
      ).toBe('BAD_DATASET');
      expect(
        code(() => parseCo3dAnnotations([ok, f], 'a.jgz')),
        JSON.stringify(f),
      ).toBe('BAD_DATASET');
      expect(
        code(() => co3dToCalibration([f] as never)),
        JSON.stringify(f),
      ).toBe('BAD_DATASET');
    }
    for (const top of [{}, null, 'x', 1, { frames: [] }])
      expect(code(() => parseCo3dAnnotations(top, 'a.jgz'))).toBe('BAD_DATASET');
    expect(code(() => co3dToCalibration([ok], { sequenceName: '../s1' }))).toBe('BAD_DATASET');
  });

  it('cameras.json width/height contradicting the image header → BAD_DATASET naming the image', async () => {
    const root = join(base, 'sizes');
    await writeCalibrationScene(root, 's', {
      cameras: cams('a.png', 12, 10),
      images: [{ name: 'a.png', bytes: png(10, 12) }],
      points: [0, 0, 1],
    });
    const err = await readCalibrationScenes(root).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(HessError);
    expect(err.code).toBe('BAD_DATASET');
    expect(err.message).toMatch(/scene "s", file "images\/a\.png": the image is 10×12 but cameras\.json says 12×10/);
    await writeCalibrationScene(root, 's', {
      cameras: cams('a.png', 10, 12),
      images: [{ name: 'a.png', bytes: png(10, 12) }],
      points: [0, 0, 1],
    });
    expect((await readCalibrationScenes(root))[0].views[0].width).toBe(10);
  });

  it('readImageSize reads PNG and JPEG sizes from a prefix (random sizes), and nothing from other bytes', () => {
    const r = rng(freshSeed('image header sizes'));
    for (let k = 0; k < 12; k++) {
      const w = 1 + Math.floor(r() * 300);
      const h = 1 + Math.floor(r() * 300);
      expect(readImageSize(png(w, h))).toEqual({ width: w, height: h });
      const j = jpeg.encode({ width: w, height: h, data: new Uint8Array(w * h * 4).fill(90) }, 80).data;
      expect(readImageSize(new Uint8Array(j))).toEqual({ width: w, height: h });
      const { width, height } = readImageHeader(new Uint8Array(j)); // the full-file reader agrees
      expect({ width, height }).toEqual({ width: w, height: h });
      // a prefix that ends after the frame header still has the size (the full-file reader calls it truncated)
      const sof = new Uint8Array(j).findIndex((b, i) => b === 0xff && j[i + 1] === 0xc0);
      const sofEnd = sof + 2 + ((j[sof + 2] << 8) | j[sof + 3]);
      expect(readImageSize(new Uint8Array(j).subarray(0, sofEnd))).toEqual({ width: w, height: h });
      expect(readImageSize(new Uint8Array(j).subarray(0, sofEnd - 1))).toBeUndefined(); // cut inside it
      expect(readImageSize(new Uint8Array(j).subarray(0, 10))).toBeUndefined(); // truncated before SOF
    }
    expect(readImageSize(Uint8Array.of(0x89, 0x50, 0x4e, 0x47))).toBeUndefined();
    expect(readImageSize(new Uint8Array(100))).toBeUndefined();
  });
});
