import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrate, type SceneInput, type SceneReport } from '../../../src/calibrate/calibrate.js';
import { Pi3Gradients } from '../../../src/calibrate/pi3-gradients.js';
import { parseHessFile, type HessFile } from '../../../src/hess/hess-file.js';
import { Pi3 } from '../../../src/model/pi3/model.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import { havePi3Fixture, loadPi3Fixture, PI3_FIXTURE, type Pi3Fixture } from '../../fixtures/pi3-tiny.js';
import { FIXTURE as VGGT_FIXTURE } from '../../../bench/vggt-tiny.js';
import { selfScenes } from '../../helpers/calibration-scenes.js';
import { expectPlantedFirst, plantedHeads } from '../../helpers/planted.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { pi3Layout } from '../../../src/model/pi3/trunk.js';
import { makeGroundTruthFromPoses, pi3InlierRadius } from './gradients-gt.js';

// calibrate() on π³ (wasm EP) with planted sensitivity (plantedHeads, in a few of the 18 global layers): the HeSS
// file must rank the planted head first in those layers for both terms, say it is π³'s (18 layers), and be refused
// by VGGT.
describe.skipIf(!havePi3Fixture)('calibrate() on π³: planted sensitivity, a π³ HeSS file (pi3-tiny, wasm EP)', () => {
  let fx: Pi3Fixture;
  let pg: Pi3Gradients;
  let planted: Map<number, number>; // global layer → head
  let scenes: SceneInput[];
  let epsilon: number;
  let hess: HessFile;

  beforeAll(async () => {
    fx = await loadPi3Fixture();
    const rand = rng(freshSeed('pi3 calibrate planted'));
    const { heads, overrides } = await plantedHeads(fx.model, fx.cfg, pi3Layout(fx.cfg).globalBlock, rand);
    planted = heads;
    pg = await Pi3Gradients.create(fx.model, fx.cfg, { overrides });
    ({ scenes, epsilon } = await selfScenes(fx, rand, async (img, shape) => {
      const f = await pg.forward(img, shape);
      const gt = makeGroundTruthFromPoses(f.cameraPoses, f.points, shape.S, rand);
      return { gt, radius: (start) => pi3InlierRadius(f, gt, start) };
    }));
  });
  afterAll(async () => pg?.dispose());

  it("ranks the planted heads first in their layers (both terms and the combined score); the file is π³'s", async () => {
    const reports: SceneReport[] = [];
    const file = await calibrate(pg, scenes, {
      epsilon,
      onSceneDone: (_s, r) => {
        reports.push(r);
      },
    });
    hess = parseHessFile(JSON.stringify(file));
    expect(hess.model).toBe('pi3');
    expect(hess.modelId).toBe('pi3');
    expect([hess.layers, hess.heads]).toEqual([18, fx.cfg.numHeads]);
    expect(hess.calibration.scenes).toBe(2);
    for (const r of reports) expect(r.errors.inliers).toBeGreaterThan(0);
    expectPlantedFirst(hess, planted, 'pi3 calibrate planted');
  });

  it('VGGT refuses the π³ file with BAD_HESS_FILE; π³ accepts it (and then needs WebGPU for the sparse policy)', async () => {
    const images = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
    const config = JSON.parse(await readFile(resolve(VGGT_FIXTURE, 'config.json'), 'utf8'));
    const vggt = await Vggt.load(resolve(VGGT_FIXTURE, 'model.safetensors'), { device: 'wasm', config });
    try {
      await expect(vggt.run(images, { policy: 'hess', hess })).rejects.toMatchObject({ code: 'BAD_HESS_FILE' });
    } finally {
      await vggt.dispose();
    }
    const pi3 = await Pi3.load(PI3_FIXTURE, { device: 'wasm' });
    try {
      await expect(pi3.run(images, { policy: 'hess', hess })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      await pi3.dispose();
    }
  });

  it('calibrate({ checkpoint }) detects π³ from the fixture folder', async () => {
    const file = await calibrate({ checkpoint: PI3_FIXTURE }, scenes.slice(0, 1), { epsilon, modelId: 'pi3-tiny' });
    expect(file.model).toBe('pi3');
    expect(file.layers).toBe(18);
    expect(file.modelId).toBe('pi3-tiny');
  });
});
