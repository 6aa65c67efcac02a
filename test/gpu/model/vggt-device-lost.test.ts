import { afterAll, describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { createDevice } from '../../../src/gpu/device.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import { FIXTURE, loadFixture } from '../../../bench/vggt-tiny.js';
import { within } from './bounded.js';

// A device destroyed in the middle of a run (its own process: onnxruntime-web keeps one WebGPU device per process):
// the run answers DEVICE_LOST without hanging, and so does every later run (the model reports itself unusable).
describe('Vggt on WebGPU: a lost device is DEVICE_LOST, never a hang', () => {
  let model: Vggt | undefined;
  afterAll(async () => {
    await model?.dispose().catch(() => undefined);
  });

  it('destroyed mid-run → DEVICE_LOST; the next run → DEVICE_LOST at once', async () => {
    const gpu = await createDevice();
    const fx = await loadFixture();
    const images = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
    model = await Vggt.load(FIXTURE, { device: gpu });
    expect((await within(model.run(images), 'first run')).depth).not.toBeNull();
    // destroy the device once the aggregator has started
    const err = await within(
      model.run(images, {
        onProgress: (e) => {
          if (e.stage === 'aggregator') gpu.device.destroy();
        },
      }),
      'run on a destroyed device',
    ).catch((e) => e);
    expect(err).toBeInstanceOf(HessError);
    expect(err.code).toBe('DEVICE_LOST');
    expect(err.fix).toMatch(/createDevice\(\) and reload the model/);
    const again = await within(model.run(images), 'run after device loss').catch((e) => e);
    expect(again.code).toBe('DEVICE_LOST');
  });
});
