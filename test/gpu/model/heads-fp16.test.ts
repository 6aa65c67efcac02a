import { afterAll, describe, expect, it } from 'vitest';
import type { Tensor } from 'onnxruntime-web';
import { toF16 } from '../../../src/attention/f16.js';
import { createStorageBuffer } from '../../../src/gpu/buffers.js';
import { CameraHead } from '../../../src/model/vggt/camera-head.js';
import { DptHead, type DptHeadSpec, type DptKind } from '../../../src/model/vggt/dpt-head.js';
import { bytesSource, openSafetensors } from '../../../src/model/source/safetensors.js';
import { loadOrt } from '../../../src/runtime/ort.js';
import { buildSafetensors } from '../../cpu/model/st-helpers.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';
import { mustHave, testDevice } from '../../helpers/gpu.js';
import { relError } from '../../helpers/random.js';

// The camera and DPT heads in float16 on WebGPU (weights uploaded as f16, float16 layers read in place on the GPU)
// against the fixture's float64 reference, beside the same heads in fp32.
const TOL16 = 1e-2;

describe("VGGT heads with dtype 'fp16' on WebGPU (vggt-tiny vs float64)", () => {
  const buffers: GPUBuffer[] = [];
  afterAll(() => {
    for (const b of buffers) b.destroy();
  });

  /** The fixture's layer `l` as a float16 GPU tensor [S, P, 2·dim] (what an fp16 aggregator hands over). */
  async function halfLayer(l: number): Promise<Tensor> {
    const [gpu, fx, ort] = [await testDevice(), await loadFixture(), await loadOrt()];
    const buf = createStorageBuffer(gpu.device, toF16(fx.layers.get(l)!), `f16 layer ${l}`);
    buffers.push(buf);
    return ort.Tensor.fromGpuBuffer(buf, { dataType: 'float16', dims: [fx.S, fx.P, 2 * fx.cfg.embedDim] }) as Tensor;
  }

  it('camera head: f16 weights (half the bytes), pose_enc from a float16 GPU layer and from host floats within 1e-2', async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const fx = await loadFixture();
    const target = { ep: 'webgpu' as const, gpu };
    const h32 = await CameraHead.create(fx.model, fx.cfg.camera!, target);
    const h16 = await CameraHead.create(fx.model, fx.cfg.camera!, target, { dtype: 'fp16' });
    expect(h16.type).toBe('float16');
    expect(h16.weightBytes * 2).toBe(h32.weightBytes);
    const ref = await fx.ref('pose_enc');
    const p32 = await h32.run(fx.layers.get(23)!, fx.S);
    const onGpu = await h16.run(await halfLayer(23), fx.S);
    const onHost = await h16.run(fx.layers.get(23)!, fx.S);
    const [e32, e16] = [relError(p32, ref), relError(onGpu, ref)];
    console.info(`[heads fp16] camera pose_enc vs f64: fp32 ${e32.toExponential(2)}, fp16 ${e16.toExponential(2)}`);
    expect(e32).toBeLessThan(1e-4);
    expect(e16).toBeLessThan(TOL16);
    expect(relError(onGpu, p32)).toBeGreaterThan(1e-6); // it did compute in float16
    // host floats are narrowed to the same float16 values the GPU tensor holds
    expect(relError(onHost, onGpu)).toBe(0);
    // a float32 GPU tensor is not silently reinterpreted
    const buf = createStorageBuffer(gpu.device, fx.layers.get(23)!, 'f32 layer');
    buffers.push(buf);
    const f32 = (await loadOrt()).Tensor.fromGpuBuffer(buf, {
      dataType: 'float32',
      dims: [fx.S, fx.P, 2 * fx.cfg.embedDim],
    }) as Tensor;
    await expect(h16.run(f32, fx.S)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await h32.dispose();
    await h16.dispose();
  });

  it('an F16 checkpoint is uploaded as stored (raw reads, no float32 read): the same head as from F32 narrowed once', async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const fx = await loadFixture();
    const entries = [];
    for (const [name, info] of fx.model.tensors) {
      if (!name.startsWith('camera_head.')) continue;
      const h = toF16(await fx.model.read(name));
      entries.push({ name, dtype: 'F16' as const, shape: [...info.shape], bytes: new Uint8Array(h.buffer) });
    }
    const st = await openSafetensors(bytesSource(buildSafetensors(entries)));
    const calls = { read: 0, readRaw: 0 };
    const counted = {
      tensors: st.tensors,
      read: (n: string) => {
        calls.read++;
        return st.read(n);
      },
      readRaw: (n: string) => {
        calls.readRaw++;
        return st.readRaw(n);
      },
    };
    const target = { ep: 'webgpu' as const, gpu };
    const fromF16 = await CameraHead.create(counted, fx.cfg.camera!, target, { dtype: 'fp16' });
    expect(calls).toEqual({ read: 0, readRaw: entries.length });
    const fromF32 = await CameraHead.create(fx.model, fx.cfg.camera!, target, { dtype: 'fp16' });
    const layer = await halfLayer(23);
    expect(relError(await fromF16.run(layer, fx.S), await fromF32.run(layer, fx.S))).toBe(0);
    await fromF16.dispose();
    await fromF32.dispose();
  });

  for (const kind of ['depth', 'point'] as DptKind[]) {
    it(`${kind} head: float16 GPU layers in 2-frame chunks, values and confidence within 1e-2 of float64`, async () => {
      const gpu = await testDevice();
      if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
      const fx = await loadFixture();
      const head = kind === 'depth' ? fx.cfg.depthHead! : fx.cfg.pointHead!;
      const spec: DptHeadSpec = {
        kind,
        head,
        dimIn: 2 * fx.cfg.embedDim,
        patchSize: fx.cfg.patchSize,
        patchStartIdx: fx.cfg.patchStartIdx,
      };
      const target = { ep: 'webgpu' as const, gpu };
      const d32 = await DptHead.create(fx.model, spec, target);
      // 2-frame chunks: the second chunk starts at a non-zero offset in the float16 buffers
      const d16 = await DptHead.create(fx.model, spec, target, { dtype: 'fp16', framesChunk: 2 });
      expect(d16.weightBytes * 2).toBe(d32.weightBytes);
      const layers = new Map<number, Tensor>();
      for (const l of [4, 11, 17, 23]) layers.set(l, await halfLayer(l));
      const a = await d32.run(fx.layers, fx.S, fx.H, fx.W);
      const b = await d16.run(layers, fx.S, fx.H, fx.W);
      const names = kind === 'depth' ? ['depth', 'depth_conf'] : ['world_points', 'world_points_conf'];
      for (const [name, x32, x16] of [
        [names[0]!, a.values, b.values],
        [names[1]!, a.conf, b.conf],
      ] as const) {
        const ref = await fx.ref(name);
        const [e32, e16] = [relError(x32, ref), relError(x16, ref)];
        console.info(`[heads fp16] ${name} vs f64: fp32 ${e32.toExponential(2)}, fp16 ${e16.toExponential(2)}`);
        expect(e32, name).toBeLessThan(1e-4);
        expect(e16, name).toBeLessThan(TOL16);
        expect(relError(x16, x32), name).toBeGreaterThan(1e-6);
      }
      await d32.dispose();
      await d16.dispose();
    });
  }
});
