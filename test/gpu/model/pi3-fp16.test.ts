import { describe, expect, it, vi } from 'vitest';
import type { Tensor } from 'onnxruntime-web';
import { toF16 } from '../../../src/attention/f16.js';
import { createStorageBuffer } from '../../../src/gpu/buffers.js';
import { type Pi3HeadOutputs, Pi3Heads, pi3HeadsWeightBytes } from '../../../src/model/pi3/heads.js';
import { Pi3, type Pi3Result } from '../../../src/model/pi3/model.js';
import { loadOrt } from '../../../src/runtime/ort.js';
import { mustHave, testDevice } from '../../helpers/gpu.js';
import { withPoisonedBuffers } from '../../helpers/poison.js';
import { relError } from '../../helpers/random.js';
import { havePi3Fixture, loadPi3Fixture, PI3_FIXTURE, PI3_OUTPUTS } from '../../fixtures/pi3-tiny.js';
import { loadPi3HeadsFixture } from '../../fixtures/pi3-tiny-heads.js';

// π³ in float16 on WebGPU (encoder, decoder and heads; f16 weights, the decoder's last layer handed to the heads as
// a float16 GPU tensor) against the fixture's float64 reference, beside the same model in fp32.
const TOL16 = 1e-2;

describe.skipIf(!havePi3Fixture)("Pi3 with dtype 'fp16' (encoder, decoder and heads in float16 on WebGPU)", () => {
  it('stays within 1e-2 relative of float64, differs from fp32, and hands the layer over with no readback', async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const fx = await loadPi3Fixture();
    const images = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
    const m16 = await Pi3.load(PI3_FIXTURE, { device: gpu, dtype: 'fp16' });
    // No readback of the heads' input ([S, T, 2·C], or a half of it, in float16 or float32): ORT tensors are read
    // through getData, and every readback on the device (ORT's downloads, the trunk's readBuffer) maps a MAP_READ
    // buffer, whose sizes are recorded too.
    const T = fx.cfg.patchStartIdx + (fx.H / fx.cfg.patchSize) * (fx.W / fx.cfg.patchSize);
    const N = fx.S * T * 2 * fx.cfg.embedDim;
    const sizes: number[] = [];
    const mapped: number[] = [];
    const getData = m16.ort.Tensor.prototype.getData;
    const spy = vi.spyOn(m16.ort.Tensor.prototype, 'getData').mockImplementation(function (
      this: Tensor,
      release?: unknown,
    ) {
      sizes.push(this.size);
      return getData.call(this, release as boolean | undefined);
    });
    const createBuffer = gpu.device.createBuffer;
    gpu.device.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor): GPUBuffer {
      if (desc.usage & GPUBufferUsage.MAP_READ) mapped.push(desc.size);
      return createBuffer.call(this, desc);
    };
    let r16: Pi3Result;
    try {
      r16 = await m16.run(images);
    } finally {
      spy.mockRestore();
      gpu.device.createBuffer = createBuffer;
    }
    expect(mapped.length).toBeGreaterThan(0); // the outputs were downloaded through it
    expect(sizes.filter((n) => n === N || n === N / 2)).toEqual([]);
    expect(mapped.filter((b) => b === N || b === 2 * N || b === 4 * N)).toEqual([]);
    await m16.dispose();
    const m32 = await Pi3.load(PI3_FIXTURE, { device: gpu });
    const r32 = await m32.run(images);
    await m32.dispose();
    for (const [ours, theirs] of PI3_OUTPUTS) {
      const want = await fx.ref(theirs);
      const [e16, e32] = [relError(r16[ours], want), relError(r32[ours], want)];
      console.info(`[pi3 fp16] ${ours}: fp16 ${e16.toExponential(2)}, fp32 ${e32.toExponential(2)}`);
      expect(e32, ours).toBeLessThan(1e-4);
      expect(e16, ours).toBeLessThan(TOL16);
      expect(relError(r16[ours], r32[ours]), ours).toBeGreaterThan(1e-6); // the fp16 model did round
    }
  });

  it('Pi3Heads fp16: f16 weights (half the bytes), a float16 GPU input in 2-frame chunks, host floats narrowed alike', async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const fx = await loadPi3HeadsFixture();
    const ort = await loadOrt();
    const target = { ep: 'webgpu' as const, gpu };
    const h32 = await Pi3Heads.create(fx.model, fx.config, target, { ort });
    // 2-frame chunks over 3 frames: the second span starts at a non-zero offset of the float16 buffer
    const h16 = await Pi3Heads.create(fx.model, fx.config, target, { ort, dtype: 'fp16', framesChunk: 2 });
    expect(h16.type).toBe('float16');
    expect(h16.weightBytes * 2).toBe(h32.weightBytes);
    expect(h16.weightBytes).toBe(pi3HeadsWeightBytes(fx.model.tensors, 'float16'));
    const dims = [fx.S, fx.hidden.length / (fx.S * 128), 128];
    const buf = createStorageBuffer(gpu.device, toF16(fx.hidden64), 'f16 pi3 hidden');
    const half = ort.Tensor.fromGpuBuffer(buf, { dataType: 'float16', dims }) as Tensor;
    const a = await h32.run(fx.hidden, fx.S, fx.H, fx.W);
    const { result: b, poisoned } = await withPoisonedBuffers(gpu.device, () => h16.run(half, fx.S, fx.H, fx.W));
    expect(poisoned).toBeGreaterThan(0);
    for (const [ours, theirs] of PI3_OUTPUTS) {
      const want = await fx.ref(theirs);
      const [e32, e16] = [relError(a[ours], want), relError(b[ours], want)];
      console.info(`[pi3 heads fp16] ${ours} vs f64: fp32 ${e32.toExponential(2)}, fp16 ${e16.toExponential(2)}`);
      expect(e32, ours).toBeLessThan(1e-4);
      expect(e16, ours).toBeLessThan(TOL16);
      expect(relError(b[ours], a[ours]), ours).toBeGreaterThan(1e-6);
    }
    // host floats are narrowed to the float16 values the GPU tensor holds (fx.hidden is float64 rounded to float32;
    // its float16 rounding can differ from float64's in a tie, so compare from the same float32 values)
    const buf32 = createStorageBuffer(gpu.device, toF16(fx.hidden), 'f16 pi3 hidden from f32');
    const fromF32 = ort.Tensor.fromGpuBuffer(buf32, { dataType: 'float16', dims }) as Tensor;
    const [onGpu, onHost]: Pi3HeadOutputs[] = [
      await h16.run(fromF32, fx.S, fx.H, fx.W),
      await h16.run(fx.hidden, fx.S, fx.H, fx.W),
    ];
    for (const [k] of PI3_OUTPUTS) expect(relError(onHost[k], onGpu[k]), k).toBe(0);
    // a float32 GPU tensor is not silently reinterpreted
    const f32buf = createStorageBuffer(gpu.device, fx.hidden, 'f32 pi3 hidden');
    const f32 = ort.Tensor.fromGpuBuffer(f32buf, { dataType: 'float32', dims }) as Tensor;
    await expect(h16.run(f32, fx.S, fx.H, fx.W)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await h32.dispose();
    await h16.dispose();
    for (const x of [buf, buf32, f32buf]) x.destroy();
  });

  it('fp16 is refused where it cannot run: NO_SHADER_F16 without the feature, INVALID_ARGUMENT on the wasm EP', async () => {
    const gpu = await testDevice();
    const fx = await loadPi3HeadsFixture();
    const noF16 = { ...gpu, features: { ...gpu.features, shaderF16: false } };
    await expect(
      Pi3Heads.create(fx.model, fx.config, { ep: 'webgpu', gpu: noF16 }, { dtype: 'fp16' }),
    ).rejects.toMatchObject({ code: 'NO_SHADER_F16' });
    await expect(Pi3Heads.create(fx.model, fx.config, { ep: 'wasm' }, { dtype: 'fp16' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
