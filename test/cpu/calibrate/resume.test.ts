import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrate, type CalibrationState, type SceneInput } from '../../../src/calibrate/calibrate.js';
import { VggtGradients } from '../../../src/calibrate/gradients.js';
import { expectCode } from '../../helpers/errors.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { FIXTURE, loadFixture } from '../../../bench/vggt-tiny.js';
import { inlierRadius, makeGroundTruth } from './gradients-gt.js';

// Resuming calibration from a progress state: malformed, inconsistent, or another dataset's/model's state is a
// typed error before any work; a consistent one resumes.
describe('calibrate(): resume state checks (vggt-tiny, wasm EP)', () => {
  let vg: VggtGradients;
  let scenes: SceneInput[];
  let epsilon = 0.2;
  let state: CalibrationState; // after scene 'a'

  beforeAll(async () => {
    const fx = await loadFixture();
    const rand = rng(freshSeed('calibrate resume'));
    vg = await VggtGradients.create(fx.model, fx.cfg);
    const full = await fx.ref('images');
    const S = fx.S,
      H = 28,
      W = 42;
    scenes = [];
    for (const name of ['a', 'b']) {
      const img = new Float32Array(S * 3 * H * W);
      for (let s = 0; s < S; s++)
        for (let c = 0; c < 3; c++)
          for (let y = 0; y < H; y++)
            for (let x = 0; x < W; x++) {
              img[((s * 3 + c) * H + y) * W + x] =
                full[((s * 3 + c) * fx.H + y + (name === 'a' ? 3 : 11)) * fx.W + x + 5]!;
            }
      const f = await vg.forward(img, { S, H, W });
      const gt = makeGroundTruth(f.poseEnc, f.worldPoints, { S, H, W }, rand);
      scenes.push({ name, images: { data: img, S, H, W }, ...gt });
      epsilon = inlierRadius(f, gt, epsilon);
    }
    const states: CalibrationState[] = [];
    await calibrate(vg, scenes.slice(0, 1), {
      epsilon,
      onSceneDone: (s) => {
        states.push(s);
      },
    });
    state = JSON.parse(JSON.stringify(states[0]!)); // as read back from a progress file
  });
  afterAll(async () => vg?.dispose());

  it('the state carries the dataset (camera hashes) and model identity', () => {
    expect(state.version).toBe(2);
    expect(state.done).toEqual(['a']);
    expect(state.cameras).toHaveLength(1);
    expect(state.cameras[0]).toMatch(/^[0-9a-f]{16}$/);
    expect(typeof state.model).toBe('string');
  });

  it('malformed progress (null, no fisher, fisher without shape, old version) is INVALID_ARGUMENT with the restart fix', async () => {
    const cases: unknown[] = [
      null,
      42,
      [],
      {},
      { ...state, fisher: undefined },
      { ...state, fisher: { ...state.fisher, shape: undefined } },
      { ...state, fisher: { ...state.fisher, shape: null } },
      { ...state, version: 1 },
      { ...state, done: 'a' },
      { ...state, cameras: [] },
    ];
    for (const c of cases) {
      const err = await calibrate(vg, scenes, { epsilon, resumeFrom: c as CalibrationState }).catch((e) => e);
      expect(err?.code, JSON.stringify(c)?.slice(0, 80)).toBe('INVALID_ARGUMENT');
      expect(err.fix).toMatch(/delete the progress file.*--restart/);
    }
  });

  it('a scene listed as done but never folded in is refused', async () => {
    const s = { ...state, done: ['a', 'b'], cameras: [state.cameras[0]!, state.cameras[0]!] }; // fisher.scenes = 1
    await expectCode(
      calibrate(vg, scenes, { epsilon, resumeFrom: s }),
      'INVALID_ARGUMENT',
      /2 scene\(s\) listed as done but 1 folded in/,
    );
  });

  it("another dataset's state is refused: other cameras under the same name, or a done scene not in the data", async () => {
    const moved = {
      ...scenes[0]!,
      extrinsics: Float64Array.from(scenes[0]!.extrinsics, (v, i) => (i % 4 === 3 ? v + 0.5 : v)),
    };
    await expectCode(
      calibrate(vg, [moved, scenes[1]!], { epsilon, resumeFrom: state }),
      'BAD_DATASET',
      /other cameras/,
    );
    await expectCode(
      calibrate(vg, [scenes[1]!], { epsilon, resumeFrom: state }),
      'BAD_DATASET',
      /not in this dataset: a/,
    );
  });

  it("another model's state is refused", async () => {
    await expectCode(
      calibrate(vg, scenes, { epsilon, resumeFrom: { ...state, model: '0123456789abcdef' } }),
      'INVALID_ARGUMENT',
      /another model/,
    );
  });

  it('a consistent state resumes (skips the done scene, folds in the rest)', async () => {
    const skipped: string[] = [];
    const hess = await calibrate(vg, scenes, {
      epsilon,
      resumeFrom: state,
      onProgress: (e) => {
        if (e.stage === 'skip') skipped.push(e.scene);
      },
    });
    expect(skipped).toEqual(['a']);
    expect(hess.calibration.scenes).toBe(2);
  });

  it.skipIf(!existsSync('/proc/self/fd'))(
    'a checkpoint opened from a path is closed again (also when calibration fails)',
    async () => {
      const openFds = () =>
        readdirSync('/proc/self/fd').filter((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`).endsWith('vggt-tiny/model.safetensors');
          } catch {
            return false;
          }
        });
      const before = openFds().length; // the shared fixture loader keeps its own handle
      await expectCode(calibrate({ checkpoint: FIXTURE }, [], {}), 'INVALID_ARGUMENT', /no scene/);
      expect(openFds().length).toBe(before);
    },
  );
});
