import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  calibrate,
  type CalibrationState,
  type SceneInput,
  type SceneReport,
} from '../../../src/calibrate/calibrate.js';
import { VggtGradients } from '../../../src/calibrate/gradients.js';
import { parseHessFile } from '../../../src/hess/hess-file.js';
import { HessError } from '../../../src/errors.js';
import { loadFixture, type Fixture } from '../../../bench/vggt-tiny.js';
import { selfScenes } from '../../helpers/calibration-scenes.js';
import { expectPlantedFirst, plantedHeads } from '../../helpers/planted.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { vggtLayout } from '../../../src/model/trunk/aggregator.js';
import { inlierRadius, makeGroundTruth } from './gradients-gt.js';

// calibrate() end to end on the wasm EP with a planted-sensitivity model (plantedHeads: one head per layer in a few
// global layers with ~256× the others' Fisher): the HeSS file must rank the planted head first in those layers, for
// both terms; the progress it reports resumes.
describe('calibrate(): planted sensitivity and resumable progress (vggt-tiny, wasm EP)', () => {
  let fx: Fixture;
  let vg: VggtGradients;
  let planted: Map<number, number>; // layer → head
  let scenes: SceneInput[];
  let epsilon: number;

  beforeAll(async () => {
    fx = await loadFixture();
    const rand = rng(freshSeed('calibrate planted'));
    const { heads, overrides } = await plantedHeads(fx.model, fx.cfg, vggtLayout().globalBlock, rand);
    planted = heads;
    vg = await VggtGradients.create(fx.model, fx.cfg, { overrides });
    // GT from the planted model's own prediction, warped
    ({ scenes, epsilon } = await selfScenes(fx, rand, async (img, shape) => {
      const f = await vg.forward(img, shape);
      const gt = makeGroundTruth(f.poseEnc, f.worldPoints, shape, rand);
      return { gt, radius: (start) => inlierRadius(f, gt, start) };
    }));
  });
  afterAll(async () => vg?.dispose());

  const states: CalibrationState[] = [];
  let full: ReturnType<typeof parseHessFile>;

  it('ranks the planted heads first in their layers (both terms and the combined score)', async () => {
    const reports: SceneReport[] = [];
    const stages: string[] = [];
    const hess = await calibrate(vg, scenes, {
      epsilon,
      modelId: 'vggt-tiny-planted',
      onProgress: (e) => stages.push(e.stage),
      onSceneDone: (s, r) => {
        states.push(JSON.parse(JSON.stringify(s)) as CalibrationState);
        reports.push(r);
      },
    });
    full = parseHessFile(JSON.stringify(hess)); // valid HeSS file, survives JSON
    expect(full.layers).toBe(fx.cfg.depth);
    expect(full.heads).toBe(fx.cfg.numHeads);
    expect(full.calibration.scenes).toBe(2);
    expect(stages).toEqual(expect.arrayContaining(['forward', 'backward', 'scene-done']));
    expect(reports.map((r) => r.scene)).toEqual(['a', 'b']);
    for (const r of reports) expect(r.errors.inliers).toBeGreaterThan(0);
    expectPlantedFirst(full, planted, 'calibrate planted');
  });

  it('resumes from the state after the first scene and reproduces the full run', async () => {
    expect(states.length).toBe(2);
    expect(states[0]!.done).toEqual(['a']);
    const skipped: string[] = [];
    const resumed = await calibrate(vg, scenes, {
      epsilon,
      modelId: 'vggt-tiny-planted',
      resumeFrom: states[0],
      onProgress: (e) => {
        if (e.stage === 'skip') skipped.push(e.scene);
      },
    });
    expect(skipped).toEqual(['a']);
    expect(resumed.calibration.scenes).toBe(2);
    for (const t of ['camera', 'pointCloud'] as const) {
      resumed.terms[t].forEach((row, l) => row.forEach((v, h) => expect(v).toBeCloseTo(full.terms[t][l]![h]!, 12)));
    }
  });

  it('bad options are typed errors', async () => {
    await expect(calibrate(vg, scenes, { lambda: 2 })).rejects.toBeInstanceOf(HessError);
    await expect(calibrate(vg, [], {})).rejects.toBeInstanceOf(HessError);
    const wrongE = { ...scenes[0]!, extrinsics: new Float64Array(12) };
    await expect(calibrate(vg, [wrongE], {})).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await expect(calibrate({ checkpoint: '/nonexistent/vggt' }, scenes, {})).rejects.toMatchObject({
      code: 'IO_ERROR',
    });
    const bad = { ...states[0]!, fisher: { ...states[0]!.fisher, camera: [1] } };
    await expect(calibrate(vg, scenes, { resumeFrom: bad })).rejects.toBeInstanceOf(HessError);
  });
});
