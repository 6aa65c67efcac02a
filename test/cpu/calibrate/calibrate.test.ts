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
import { freshSeed, rng } from '../../helpers/random.js';
import { inlierRadius, makeGroundTruth } from './gradients-gt.js';

// calibrate() end to end on the wasm EP with a planted-sensitivity model: in a few global layers one head's
// output-projection columns are scaled up ×4 and every other head's down ×0.25, so ∂e/∂W_Q of the planted head is
// ~16× the others' (Fisher ~256×). The HeSS file must rank the planted head first in those layers, for both terms.
describe('calibrate(): planted sensitivity and resumable progress (vggt-tiny, wasm EP)', () => {
  let fx: Fixture;
  let vg: VggtGradients;
  let rand: () => number;
  const planted = new Map<number, number>(); // layer → head
  let scenes: SceneInput[];
  let epsilon = 0.2;

  beforeAll(async () => {
    fx = await loadFixture();
    rand = rng(freshSeed('calibrate planted'));
    const { depth, numHeads, headDim: d, embedDim: C } = fx.cfg;
    const overrides = new Map<string, Float32Array>();
    while (planted.size < 3) planted.set(Math.floor(rand() * depth), Math.floor(rand() * numHeads));
    for (const [L, h] of planted) {
      const key = `aggregator.global_blocks.${L}.attn.proj.weight`; // [C_out, C_in]; head h = input columns h·d…
      const w = Float32Array.from(await fx.model.read(key));
      for (let o = 0; o < C; o++) for (let i = 0; i < C; i++) w[o * C + i]! *= Math.floor(i / d) === h ? 4 : 0.25;
      overrides.set(key, w);
    }
    vg = await VggtGradients.create(fx.model, fx.cfg, { overrides });
    // two scenes: random 28×42 crops of the fixture frames; GT from the planted model's own prediction, warped
    const full = await fx.ref('images');
    const S = fx.S,
      H = 28,
      W = 42;
    scenes = [];
    for (const name of ['a', 'b']) {
      const img = new Float32Array(S * 3 * H * W);
      const oy = Math.floor(rand() * (fx.H - H)),
        ox = Math.floor(rand() * (fx.W - W));
      for (let s = 0; s < S; s++)
        for (let c = 0; c < 3; c++)
          for (let y = 0; y < H; y++)
            for (let x = 0; x < W; x++) {
              img[((s * 3 + c) * H + y) * W + x] = full[((s * 3 + c) * fx.H + y + oy) * fx.W + x + ox]!;
            }
      const f = await vg.forward(img, { S, H, W });
      const gt = makeGroundTruth(f.poseEnc, f.worldPoints, { S, H, W }, rand);
      scenes.push({ name, images: { data: img, S, H, W }, ...gt });
      epsilon = inlierRadius(f, gt, epsilon); // a radius that gives every scene a point term
    }
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
    const argmax = (row: number[]) => row.indexOf(Math.max(...row));
    for (const [L, h] of planted) {
      console.info(
        `[calibrate planted] layer ${L} head ${h}: scores ${full.scores[L]!.map((x) => x.toFixed(3)).join(' ')}`,
      );
      expect(argmax(full.terms.camera[L]!)).toBe(h);
      expect(argmax(full.terms.pointCloud[L]!)).toBe(h);
      expect(argmax(full.scores[L]!)).toBe(h);
    }
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
