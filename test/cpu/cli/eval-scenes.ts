/**
 * A tiny synthetic eval set for the harness tests: random smooth PNG images (98×70, so crop preprocessing at
 * targetSize 98 keeps the size), with GT made from the fixture model's own dense output moved by a random
 * similarity (so alignment is exercised and dense must score perfectly).
 */
import { PNG } from 'pngjs';
import {
  axisAngleToMatrix,
  transformExtrinsics,
  applySimilarity,
  type Similarity,
} from '../../../src/calibrate/geometry/align.js';
import { writeCalibrationScene } from '../../../src/calibrate/dataset/reader.js';
import { decodeImageFile } from '../../../src/model/image/image-decode.js';
import type { Pi3 } from '../../../src/model/pi3/model.js';
import { preprocessImages } from '../../../src/model/image/preprocess.js';
import type { Vggt } from '../../../src/model/vggt/model.js';
import { asVggtResult } from '../../../src/evaluate/pi3-result.js';
import { rng } from '../../helpers/random.js';

export const EVAL_W = 98;
export const EVAL_H = 70;
export const EVAL_TARGET = 98;

/** A smooth random RGB image (sums of low-frequency sinusoids + a little noise) as PNG bytes. */
function randomPng(rand: () => number): Uint8Array {
  const png = new PNG({ width: EVAL_W, height: EVAL_H });
  const waves = Array.from({ length: 3 }, () =>
    Array.from({ length: 3 }, () => [rand() * 0.2, rand() * 0.2, rand() * 6.28]),
  );
  for (let y = 0; y < EVAL_H; y++) {
    for (let x = 0; x < EVAL_W; x++) {
      const o = 4 * (y * EVAL_W + x);
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (const [fx, fy, ph] of waves[c]) v += Math.sin(fx * x + fy * y + ph);
        png.data[o + c] = Math.max(0, Math.min(255, Math.round(128 + 40 * v + 10 * (rand() - 0.5))));
      }
      png.data[o + 3] = 255;
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}

/**
 * Write `scenes` scenes of `frames` views under `root`: images, cameras.json (GT = dense prediction moved by a
 * random similarity), points.bin (the moved dense world points) and depth/ (dense depth × the similarity scale).
 */
export async function writeSyntheticScenes(
  root: string,
  model: Vggt | Pi3,
  seed: number,
  scenes = 2,
  frames = 3,
): Promise<string[]> {
  const rand = rng(seed);
  const names: string[] = [];
  for (let k = 0; k < scenes; k++) {
    const name = `scene_${k}`;
    const pngs = Array.from({ length: frames }, () => randomPng(rand));
    const pre = preprocessImages(await Promise.all(pngs.map((b) => decodeImageFile(b))), {
      mode: 'crop',
      targetSize: EVAL_TARGET,
    });
    const r = asVggtResult(await model.run({ data: pre.data, S: pre.frames, H: pre.height, W: pre.width }));
    const axis = [rand() - 0.5, rand() - 0.5, rand() - 0.5];
    const sim: Similarity = {
      s: 0.5 + 2 * rand(),
      R: axisAngleToMatrix(axis, 3 * rand()),
      t: Float64Array.of(rand() * 4 - 2, rand() * 4 - 2, rand() * 4 - 2),
    };
    const ext = transformExtrinsics(sim, r.extrinsics!);
    const HW = r.H * r.W;
    const views = Array.from({ length: frames }, (_, s) => ({
      name: `v${s}`,
      image: `v${s}.png`,
      width: EVAL_W,
      height: EVAL_H,
      extrinsic: Array.from(ext.subarray(12 * s, 12 * s + 12)),
      // The random tiny model's FoV can be 0 (ReLU) → infinite focal; the harness does not read GT intrinsics
      // when points.bin exists, so any valid camera will do.
      intrinsic: [EVAL_W, 0, EVAL_W / 2, 0, EVAL_W, EVAL_H / 2, 0, 0, 1],
    }));
    const depth = Object.fromEntries(
      views.map((v, s) => [
        v.name,
        {
          width: EVAL_W,
          height: EVAL_H,
          data: Float32Array.from(r.depth!.subarray(s * HW, (s + 1) * HW), (d) => d * sim.s),
        },
      ]),
    );
    await writeCalibrationScene(root, name, {
      cameras: { version: 1, views },
      images: views.map((v, s) => ({ name: v.image, bytes: pngs[s] })),
      points: applySimilarity(sim, r.worldPoints!),
      depth,
    });
    names.push(name);
  }
  return names;
}
