import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Tensor } from 'onnxruntime-web';
import { Vggt, type VggtResult } from '../../../src/model/vggt/model.js';
import { testDevice } from '../../helpers/gpu.js';
import { plantedHess } from '../../../bench/planted-hess.js';
import { freshSeed, relError, rng } from '../../helpers/random.js';
import { FIXTURE, loadFixture } from '../../../bench/vggt-tiny.js';

// The fixture's 3 frames × 40 tokens fit in one 128-token query block: small blocks make sparsity real here.
const BLOCKS = { queryBlock: 16, keyBlock: 8 };

const outputs = (r: VggtResult) => ({
  pose_enc: r.poseEnc!,
  depth: r.depth!,
  depth_conf: r.depthConf!,
  world_points: r.worldPoints!,
  world_points_conf: r.worldPointsConf!,
});

describe('Vggt on WebGPU with our WGSL global attention (dense and HeSS block-sparse)', () => {
  let model: Vggt;
  let images: { data: Float32Array; S: number; H: number; W: number };
  let dense: VggtResult;
  afterAll(async () => model?.dispose());

  it('dense WGSL attention reproduces the reference outputs to 1e-4, the head layers never leaving the GPU', async () => {
    const gpu = await testDevice();
    const fx = await loadFixture();
    images = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
    model = await Vggt.load(FIXTURE, { device: gpu });
    expect(model.wgsl).not.toBeNull();
    // Every readback of an ORT tensor goes through getData: none may be of an aggregator layer's size.
    const N = fx.S * fx.P;
    const C = model.config.embedDim;
    const sizes: number[] = [];
    const getData = model.ort.Tensor.prototype.getData;
    const spy = vi.spyOn(model.ort.Tensor.prototype, 'getData').mockImplementation(function (
      this: Tensor,
      ...args: unknown[]
    ) {
      sizes.push(this.size);
      return getData.apply(this, args);
    });
    try {
      dense = await model.run(images);
    } finally {
      spy.mockRestore();
    }
    // (with the layers read back on the host, as before, this lists 2 per head layer)
    expect(sizes.filter((n) => n === N * C || n === 2 * N * C)).toEqual([]);
    for (const [name, got] of Object.entries(outputs(dense)))
      expect(relError(got, await fx.ref(name)), name).toBeLessThan(1e-4);
    expect(dense.sparsity!.achievedSparsity).toBe(0);
  });

  it('block-sparse with every block kept equals dense (Wasm and WGSL mask planners)', async () => {
    for (const planner of ['wasm', 'gpu'] as const) {
      const r = await model.run(images, { policy: 'uniform', sparsity: 0, planner, ...BLOCKS });
      expect(r.sparsity!.achievedSparsity).toBe(0);
      for (const [name, got] of Object.entries(outputs(r)))
        expect(relError(got, outputs(dense)[name as 'depth']), `${planner} ${name}`).toBeLessThan(1e-4);
    }
  });

  it('at a fixed budget, hess and uniform spend the same blocks per layer; both planners agree; outputs move', async () => {
    const rand = rng(freshSeed('vggt-sparse hess'));
    const { depth, numHeads } = model.config;
    const hess = plantedHess(
      Array.from({ length: depth }, () => Array.from({ length: numHeads }, () => 0.05 + rand())),
    );
    const uni = await model.run(images, { policy: 'uniform', sparsity: 0.5, ...BLOCKS });
    const hs = await model.run(images, { policy: 'hess', sparsity: 0.5, hess, planner: 'wasm', ...BLOCKS });
    const hsGpu = await model.run(images, { policy: 'hess', sparsity: 0.5, hess, planner: 'gpu', ...BLOCKS });
    expect(hs.sparsity!.blocksPerLayer).toEqual(uni.sparsity!.blocksPerLayer);
    expect(hs.sparsity!.budgets).not.toEqual(uni.sparsity!.budgets); // redistributed, same total
    expect(hs.sparsity!.achievedSparsity).toBeGreaterThan(0.2);
    // Bit-identical masks on both planners → the same outputs.
    for (const [name, got] of Object.entries(outputs(hsGpu)))
      expect(relError(got, outputs(hs)[name as 'depth']), name).toBeLessThan(1e-6);
    // Sparsity changes the result (the test would catch a policy that silently ran dense).
    expect(relError(hs.depth!, dense.depth!)).toBeGreaterThan(1e-6);
  });

  it('policies that need a HeSS file or WebGPU say so', async () => {
    await expect(model.run(images, { policy: 'hess', sparsity: 0.5 })).rejects.toThrow(/needs a HeSS file/);
    await expect(model.run(images, { policy: 'uniform', sparsity: 1.5 })).rejects.toThrow(/sparsity must be in/);
  });
});
