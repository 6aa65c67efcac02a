import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Tensor } from 'onnxruntime-web';
import { Vggt, type VggtResult } from '../../../src/model/vggt/model.js';
import { mustHave, testDevice } from '../../helpers/gpu.js';
import { relError } from '../../helpers/random.js';
import { FIXTURE, loadFixture } from '../../../bench/vggt-tiny.js';

const outputs = (r: VggtResult) => ({
  pose_enc: r.poseEnc!,
  depth: r.depth!,
  depth_conf: r.depthConf!,
  world_points: r.worldPoints!,
  world_points_conf: r.worldPointsConf!,
});

describe("Vggt.load(…, { dtype: 'fp16' }) end to end on WebGPU (vggt-tiny vs the float64 reference)", () => {
  const models: Vggt[] = [];
  afterAll(async () => {
    for (const m of models) await m.dispose();
  });

  it('every output is within 1e-2 relative of float64; per-tensor fp16-vs-fp32 table', async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const fx = await loadFixture();
    const images = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
    const fp32 = await Vggt.load(FIXTURE, { device: gpu });
    const fp16 = await Vggt.load(FIXTURE, { device: gpu, dtype: 'fp16' });
    models.push(fp32, fp16);
    const a = await fp32.run(images);
    // The head layers go from the fp16 aggregator to the fp16 heads as float16 GPU tensors: every readback of an ORT
    // tensor goes through getData, and none may be of an aggregator layer's size.
    const N = fx.S * fx.P;
    const C = fp16.config.embedDim;
    const sizes: number[] = [];
    const getData = fp16.ort.Tensor.prototype.getData;
    const spy = vi.spyOn(fp16.ort.Tensor.prototype, 'getData').mockImplementation(function (
      this: Tensor,
      release?: unknown,
    ) {
      sizes.push(this.size);
      return getData.call(this, release as boolean | undefined);
    });
    let b: VggtResult;
    try {
      b = await fp16.run(images);
    } finally {
      spy.mockRestore();
    }
    expect(sizes.filter((n) => n === N * C || n === 2 * N * C)).toEqual([]);
    console.info('[vggt fp16] tensor | fp32 vs f64 | fp16 vs f64 | fp16 vs fp32');
    for (const [name, got] of Object.entries(outputs(b))) {
      const r = await fx.ref(name);
      const [e32, e16] = [relError(outputs(a)[name as 'depth'], r), relError(got, r)];
      const d = relError(got, outputs(a)[name as 'depth']);
      console.info(`[vggt fp16] ${name} | ${e32.toExponential(2)} | ${e16.toExponential(2)} | ${d.toExponential(2)}`);
      expect(e32, name).toBeLessThan(1e-4);
      expect(e16, name).toBeLessThan(1e-2);
      expect(d, name).toBeGreaterThan(1e-6); // the fp16 model did round
    }
    // Sparse policies run on fp16 Q/K/V too: with every block kept they meet the same bound (the block-sparse
    // kernel accumulates in another order, so it differs from the dense fp16 run at fp16 rounding level).
    const sparse = await fp16.run(images, {
      policy: 'uniform',
      sparsity: 0,
      planner: 'wasm',
      queryBlock: 16,
      keyBlock: 8,
    });
    expect(sparse.sparsity!.achievedSparsity).toBe(0);
    for (const [name, got] of Object.entries(outputs(sparse))) {
      const e = relError(got, await fx.ref(name));
      console.info(`[vggt fp16 sparse, all blocks kept] ${name} vs f64 ${e.toExponential(2)}`);
      expect(e, `sparse ${name}`).toBeLessThan(1e-2);
    }
    const cut = await fp16.run(images, {
      policy: 'uniform',
      sparsity: 0.5,
      planner: 'wasm',
      queryBlock: 16,
      keyBlock: 8,
    });
    expect(cut.sparsity!.achievedSparsity).toBeGreaterThan(0.2);
    for (const v of Object.values(outputs(cut))) expect(v.every(Number.isFinite)).toBe(true);
    // The WGSL mask builder pools f16 Q/K directly: same masks as the Wasm planner on the widened Q/K.
    const cutGpu = await fp16.run(images, {
      policy: 'uniform',
      sparsity: 0.5,
      planner: 'gpu',
      queryBlock: 16,
      keyBlock: 8,
    });
    expect(cutGpu.sparsity!.blocksPerLayer).toEqual(cut.sparsity!.blocksPerLayer);
    for (const [name, got] of Object.entries(outputs(cutGpu)))
      expect(relError(got, outputs(cut)[name as 'depth']), `gpu planner ${name}`).toBeLessThan(1e-6);
  });

  it('fp16 is refused where it cannot run: NO_SHADER_F16 without the feature, INVALID_ARGUMENT on the wasm EP', async () => {
    const gpu = await testDevice();
    const noF16 = { ...gpu, features: { ...gpu.features, shaderF16: false } };
    await expect(Vggt.load(FIXTURE, { device: noF16, dtype: 'fp16' })).rejects.toMatchObject({ code: 'NO_SHADER_F16' });
    await expect(Vggt.load(FIXTURE, { device: 'wasm', dtype: 'fp16' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
