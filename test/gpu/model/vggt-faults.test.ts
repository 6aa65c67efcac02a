import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { createDevice, getGpu, type HessDevice } from '../../../src/gpu/device.js';
import { Vggt, type VggtResult } from '../../../src/model/vggt/model.js';
import { relError } from '../../helpers/random.js';
import { FIXTURE, loadFixture } from '../../../bench/vggt-tiny.js';
import { within } from './bounded.js';

// Faults on WebGPU (Dawn on a software Vulkan): a run that cannot fit is refused before allocating; a failure
// inside a run (an invalid GPU allocation) becomes a typed error from the GPU error scopes; in every case the next
// normal run answers (within a generous bound, never hanging) with the reference outputs.
// The device is created WITHOUT raised limits: WebGPU's defaults (128 MiB storage bindings) make "too large" cheap.
describe('Vggt on WebGPU: failed runs are typed errors and the model stays usable', () => {
  let model: Vggt;
  let gpu: HessDevice;
  let small: { data: Float32Array; S: number; H: number; W: number };
  const refs = new Map<string, Float64Array>();
  const expectReference = async (r: VggtResult) => {
    expect(relError(r.depth!, refs.get('depth')!)).toBeLessThan(1e-4);
    expect(relError(r.poseEnc!, refs.get('pose_enc')!)).toBeLessThan(1e-4);
    expect(relError(r.worldPoints!, refs.get('world_points')!)).toBeLessThan(1e-4);
  };

  beforeAll(async () => {
    const adapter = (await (await getGpu())!.requestAdapter())!;
    gpu = await createDevice({ device: await adapter.requestDevice() });
    const fx = await loadFixture();
    small = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
    for (const k of ['depth', 'pose_enc', 'world_points']) refs.set(k, await fx.ref(k));
    model = await Vggt.load(FIXTURE, { device: gpu });
  });
  afterAll(async () => model?.dispose());

  it('a run whose largest buffer passes the binding limit is LIMIT_TOO_SMALL before allocating, naming the largest S', async () => {
    expect(gpu.limits.maxStorageBufferBindingSize).toBeLessThanOrEqual(2 ** 27);
    // No score tensors any more (flash kernels; chunked segments): what passes a 128 MiB binding first is one
    // frame of a DPT head's maps at image size, [1, 16, 1456, 1456] f32 = 136 MB (dptFrameBytes)
    const big = { data: new Float32Array(2 * 3 * 1456 * 1456).fill(0.5), S: 2, H: 1456, W: 1456 };
    const stages: string[] = [];
    const err = await within(model.run(big, { onProgress: (e) => stages.push(e.stage) }), 'over-limit run').catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(HessError);
    expect(err.code).toBe('LIMIT_TOO_SMALL');
    expect(err.message).toMatch(/full-res maps.*not even one frame fits at 1456×1456/);
    expect(stages).not.toContain('aggregator');
    await expectReference(await within(model.run(small), 'normal run after LIMIT_TOO_SMALL'));
  });

  it('a run over maxGpuBytes is OUT_OF_MEMORY before allocating; the next normal run works', async () => {
    const need = model.estimate({ S: small.S, H: small.H, W: small.W }).gpuBytes;
    const err = await within(model.run(small, { maxGpuBytes: need - 1 }), 'over-budget run').catch((e) => e);
    expect(err.code).toBe('OUT_OF_MEMORY');
    expect(err.message).toMatch(/at most 2 frames fit|not even one frame fits/);
    await expectReference(await within(model.run(small, { maxGpuBytes: need }), 'normal run after OUT_OF_MEMORY'));
  });

  it('an allocation that fails inside a run is a typed GPU error (error scopes); the sessions are rebuilt and the next normal run works', async () => {
    const dev = gpu.device;
    const create = dev.createBuffer.bind(dev);
    let injected = 0;
    // Fail the first attention-output allocation of the run: a size over maxBufferSize is a validation error that
    // only an error scope reports (the buffer comes back invalid, nothing throws).
    dev.createBuffer = ((d: GPUBufferDescriptor) => {
      if (injected === 0 && d.label === 'attention out') {
        injected++;
        return create({ ...d, size: dev.limits.maxBufferSize + 4 });
      }
      return create(d);
    }) as typeof dev.createBuffer;
    try {
      const err = await within(model.run(small), 'run with a failing allocation').catch((e) => e);
      expect(injected).toBe(1);
      expect(err).toBeInstanceOf(HessError);
      expect(['GPU_ERROR', 'OUT_OF_MEMORY']).toContain(err.code);
    } finally {
      dev.createBuffer = create;
    }
    await expectReference(await within(model.run(small), 'normal run after a failed allocation'));
  });
});
