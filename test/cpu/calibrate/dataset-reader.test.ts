import { mkdtemp, rm, writeFile, unlink, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeDepthBin,
  encodePointsBin,
  type CamerasFile,
  type DepthMap,
} from '../../../src/calibrate/dataset/format.js';
import { readCalibrationScenes, writeCalibrationScene } from '../../../src/calibrate/dataset/reader.js';
import { HessError } from '../../../src/errors.js';
import { randomExtrinsics, randomPoints, rng } from './rng.js';

const PNG = Uint8Array.of(0x89, 0x50, 0x4e, 0x47); // content is never decoded
let base: string;
let counter = 0;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'hess-calib-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

function cameras(r: () => number, n: number, w = 16, h = 12): CamerasFile {
  const E = randomExtrinsics(r, n);
  return {
    version: 1,
    views: Array.from({ length: n }, (_, i) => ({
      image: `v${i}.png`,
      width: w,
      height: h,
      extrinsic: [0, 1, 2].map((j) => Array.from(E.subarray(12 * i + 4 * j, 12 * i + 4 * j + 4))),
      intrinsic: [
        [20, 0, w / 2],
        [0, 20, h / 2],
        [0, 0, 1],
      ],
    })),
  };
}

function depths(r: () => number, cams: CamerasFile): Record<string, DepthMap> {
  return Object.fromEntries(
    cams.views.map((v) => [
      v.image.replace('.png', ''),
      { width: v.width, height: v.height, data: Float32Array.from({ length: v.width * v.height }, () => r() * 3) },
    ]),
  );
}

/** A fresh root holding one valid scene "s" (points or depth), returned with its data. */
async function validRoot(seed: number, kind: 'points' | 'ply' | 'depth' = 'points') {
  const r = rng(seed);
  const root = join(base, `root${counter++}`);
  const cams = cameras(r, 3);
  const points = Float32Array.from(randomPoints(r, 50));
  const depth = depths(r, cams);
  await writeCalibrationScene(root, 's', {
    cameras: cams,
    images: cams.views.map((v) => ({ name: v.image, bytes: PNG })),
    ...(kind === 'depth' ? { depth } : { points, pointsFormat: kind === 'ply' ? 'ply' : 'bin' }),
  });
  return { root, cams, points, depth, dir: join(root, 's') };
}

async function expectBad(root: string, pattern: RegExp): Promise<void> {
  const err = await readCalibrationScenes(root).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HessError);
  expect((err as HessError).code).toBe('BAD_DATASET');
  expect((err as HessError).message).toMatch(pattern);
}

describe('readCalibrationScenes', () => {
  it('reads scenes with points.bin, points.ply and depth maps', async () => {
    for (const kind of ['points', 'ply', 'depth'] as const) {
      const { root, cams, points, depth, dir } = await validRoot(80, kind);
      const [scene] = await readCalibrationScenes(root);
      expect(scene.name).toBe('s');
      expect(scene.views.map((v) => v.name)).toEqual(['v0', 'v1', 'v2']);
      expect(scene.views[1].imagePath).toBe(`${dir}/images/v1.png`);
      expect(Array.from(scene.views[2].extrinsic)).toEqual((cams.views[2].extrinsic as number[][]).flat());
      if (kind === 'depth') {
        expect(scene.points).toBeUndefined();
        expect(scene.views[0].depth).toEqual(depth.v0);
      } else {
        expect(scene.points).toEqual(points);
        expect(scene.views[0].depth).toBeUndefined();
      }
    }
  });

  it('orders scenes, skips hidden folders and honours maxScenes; loadDepth: false skips depth', async () => {
    const r = rng(81);
    const root = join(base, `root${counter++}`);
    for (const name of ['b', 'a', 'c']) {
      const cams = cameras(r, 2);
      await writeCalibrationScene(root, name, {
        cameras: cams,
        images: cams.views.map((v) => ({ name: v.image, bytes: PNG })),
        depth: depths(r, cams),
      });
    }
    await mkdir(join(root, '.cache'));
    expect((await readCalibrationScenes(root)).map((s) => s.name)).toEqual(['a', 'b', 'c']);
    expect((await readCalibrationScenes(root, { maxScenes: 2 })).map((s) => s.name)).toEqual(['a', 'b']);
    const [s] = await readCalibrationScenes(root, { maxScenes: 1, loadDepth: false });
    expect(s.views[0].depth).toBeUndefined();
  });

  it('IO_ERROR for a missing root', async () => {
    await expect(readCalibrationScenes(join(base, 'nope'))).rejects.toMatchObject({ code: 'IO_ERROR' });
  });

  it('missing image / missing view', async () => {
    const a = await validRoot(82);
    await unlink(join(a.dir, 'images', 'v1.png'));
    await expectBad(a.root, /scene "s", file "images\/v1.png": missing image of view "v1"/);
    const b = await validRoot(83);
    await writeFile(join(b.dir, 'images', 'extra.jpg'), PNG);
    await expectBad(b.root, /scene "s", file "images\/extra.jpg": .*missing view/);
  });

  it('missing or invalid cameras.json', async () => {
    const a = await validRoot(84);
    await unlink(join(a.dir, 'cameras.json'));
    await expectBad(a.root, /file "cameras.json": missing/);
    const b = await validRoot(85);
    await writeFile(join(b.dir, 'cameras.json'), '{"views": [');
    await expectBad(b.root, /file "cameras.json": invalid JSON/);
  });

  it('NaN in cameras or points, non-orthonormal rotation', async () => {
    const r = rng(86);
    const a = await validRoot(87);
    const bad = Float32Array.from(a.points);
    bad[7] = Infinity;
    await writeFile(join(a.dir, 'points.bin'), encodePointsBin(bad));
    await expectBad(a.root, /file "points.bin": point 2 has a non-finite coordinate/);

    const b = await validRoot(88);
    const cams = cameras(r, 3);
    (cams.views[1].extrinsic as number[][])[0][0] = NaN; // JSON writes null
    await writeFile(join(b.dir, 'cameras.json'), JSON.stringify(cams));
    await expectBad(b.root, /file "cameras.json": view 1: "extrinsic" entry 0 is null/);

    const c = await validRoot(89);
    const skew = cameras(r, 3);
    (skew.views[2].extrinsic as number[][])[1][1] += 0.01;
    await writeFile(join(c.dir, 'cameras.json'), JSON.stringify(skew));
    await expectBad(c.root, /file "cameras.json": view 2: extrinsic rotation is not orthonormal/);
  });

  it('depth: shape mismatch, missing map, map without view', async () => {
    const a = await validRoot(90, 'depth');
    await writeFile(
      join(a.dir, 'depth', 'v1.bin'),
      encodeDepthBin({ width: 12, height: 16, data: new Float32Array(192) }),
    );
    await expectBad(a.root, /file "depth\/v1.bin": depth map is 12×16 but the view's image is 16×12/);
    const b = await validRoot(91, 'depth');
    await unlink(join(b.dir, 'depth', 'v2.bin'));
    await expectBad(b.root, /file "depth\/v2.bin": missing depth map of view "v2"/);
    const c = await validRoot(92, 'depth');
    await writeFile(
      join(c.dir, 'depth', 'zz.bin'),
      encodeDepthBin({ width: 16, height: 12, data: new Float32Array(192) }),
    );
    await expectBad(c.root, /file "depth\/zz.bin": .*missing view/);
  });

  it('no ground truth, or two point files', async () => {
    const a = await validRoot(93);
    await unlink(join(a.dir, 'points.bin'));
    await expectBad(a.root, /no ground truth/);
    const b = await validRoot(94);
    await writeFile(join(b.dir, 'points.ply'), 'ply');
    await expectBad(b.root, /both points.bin and points.ply/);
  });
});
