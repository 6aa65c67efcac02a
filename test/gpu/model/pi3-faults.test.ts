import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { createDevice, getGpu, type HessDevice } from '../../../src/gpu/device.js';
import { Pi3, type Pi3Result } from '../../../src/model/pi3/model.js';
import { relError } from '../../helpers/random.js';
import { havePi3Fixture, loadPi3Fixture, PI3_FIXTURE } from '../../fixtures/pi3-tiny.js';
import { within } from './bounded.js';

// As Vggt's fault tests, through the same model-io code: a run over the budget is refused before allocating; a
// failure inside a run is a typed error from the GPU error scopes, the sessions are rebuilt, the next run answers.
describe.skipIf(!havePi3Fixture)('Pi3 on WebGPU: failed runs are typed errors and the model stays usable', () => {
  let model: Pi3;
  let gpu: HessDevice;
  let small: { data: Float32Array; S: number; H: number; W: number };
  const refs = new Map<string, Float64Array>();
  const expectReference = async (r: Pi3Result) => {
    expect(relError(r.points, refs.get('points')!)).toBeLessThan(1e-4);
    expect(relError(r.cameraPoses, refs.get('camera_poses')!)).toBeLessThan(1e-4);
  };

  beforeAll(async () => {
    const adapter = (await (await getGpu())!.requestAdapter())!;
    gpu = await createDevice({ device: await adapter.requestDevice() });
    const fx = await loadPi3Fixture();
    small = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
    for (const k of ['points', 'camera_poses']) refs.set(k, await fx.ref(k));
    model = await Pi3.load(PI3_FIXTURE, { device: gpu });
  });
  afterAll(async () => model?.dispose());

  it('a run over maxGpuBytes is OUT_OF_MEMORY before the encoder starts; the next normal run works', async () => {
    const need = model.estimate({ S: small.S, H: small.H, W: small.W }).gpuBytes;
    const stages: string[] = [];
    const err = await within(
      model.run(small, { maxGpuBytes: need - 1, onProgress: (e) => stages.push(e.stage) }),
      'over-budget run',
    ).catch((e) => e);
    expect(err).toBeInstanceOf(HessError);
    expect(err.code).toBe('OUT_OF_MEMORY');
    expect(stages).not.toContain('aggregator');
    await expectReference(await within(model.run(small, { maxGpuBytes: need }), 'normal run after OUT_OF_MEMORY'));
  });

  it('an allocation that fails inside a run is a typed GPU error; the sessions are rebuilt and the next run works', async () => {
    const dev = gpu.device;
    const create = dev.createBuffer.bind(dev);
    let injected = 0;
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
