import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import { relError } from '../../helpers/random.js';
import { FIXTURE, loadFixture } from '../../../bench/vggt-tiny.js';

// The whole model through the public API, on the wasm EP, against the reference PyTorch outputs (float64).
describe('Vggt.load + run on the vggt-tiny fixture (wasm EP, dense attention)', () => {
  let model: Vggt | undefined;
  afterAll(async () => model?.dispose());

  it('loads from a directory path (model.safetensors + config.json) and reports progress', async () => {
    const stages = new Set<string>();
    model = await Vggt.load(FIXTURE, { device: 'wasm', onProgress: (e) => stages.add(e.stage) });
    expect(model.target.ep).toBe('wasm');
    expect(model.config.embedDim).toBe(64);
    expect([...stages]).toEqual(expect.arrayContaining(['open', 'weights', 'ready']));
  });

  it('every output matches the reference to 1e-4 relative', async () => {
    const fx = await loadFixture();
    const images = Float32Array.from(await fx.ref('images'));
    const r = await model!.run({ data: images, S: fx.S, H: fx.H, W: fx.W });
    const errs: Record<string, number> = {
      pose_enc: relError(r.poseEnc!, await fx.ref('pose_enc')),
      depth: relError(r.depth!, await fx.ref('depth')),
      depth_conf: relError(r.depthConf!, await fx.ref('depth_conf')),
      world_points: relError(r.worldPoints!, await fx.ref('world_points')),
      world_points_conf: relError(r.worldPointsConf!, await fx.ref('world_points_conf')),
    };
    console.info('[vggt-e2e] rel errors', errs);
    for (const [k, e] of Object.entries(errs)) expect(e, k).toBeLessThan(1e-4);
    // Cameras decoded from the pose encoding: S rigid [R|t] with orthonormal R.
    expect(r.extrinsics!.length).toBe(fx.S * 12);
    for (let s = 0; s < fx.S; s++) {
      const R = (i: number, j: number) => r.extrinsics![s * 12 + i * 4 + j];
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) {
          let dot = 0;
          for (let k = 0; k < 3; k++) dot += R(i, k) * R(j, k);
          expect(dot).toBeCloseTo(i === j ? 1 : 0, 6);
        }
    }
  });

  it('bad inputs are typed errors', async () => {
    const err = await model!.run({ data: new Float32Array(3 * 70 * 97), S: 1, H: 70, W: 97 }).catch((e) => e);
    expect(err).toBeInstanceOf(HessError);
    expect(err.code).toBe('SHAPE_MISMATCH');
    const missing = await Vggt.load(resolve(FIXTURE, 'nope.safetensors'), { device: 'wasm' }).catch((e) => e);
    expect(missing.code).toBe('IO_ERROR');
    const fp16 = await Vggt.load(FIXTURE, { device: 'wasm', dtype: 'fp16' }).catch((e) => e);
    expect(fp16.code).toBe('INVALID_ARGUMENT');
  });
});
