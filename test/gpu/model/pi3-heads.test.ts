import { describe, expect, it } from 'vitest';
import type { Tensor } from 'onnxruntime-web';
import { createStorageBuffer } from '../../../src/gpu/buffers.js';
import { Pi3Heads, type Pi3HeadOutputs } from '../../../src/model/pi3/heads.js';
import { loadOrt, type Ort } from '../../../src/runtime/ort.js';
import { HAVE_PI3_FIXTURE, loadPi3HeadsFixture } from '../../fixtures/pi3-tiny-heads.js';
import { testDevice } from '../../helpers/gpu.js';
import { withPoisonedBuffers } from '../../helpers/poison.js';
import { freshSeed, randn, relError, rng } from '../../helpers/random.js';

// The cpu project's fixture comparison on onnxruntime-web's WebGPU EP: weights GPU-resident, the head input as a
// host array or as a GPU tensor (what the π³ decoder hands over without a readback). Every storage buffer created
// during a run (ORT's intermediates and outputs, span copies) is NaN-poisoned at creation, and host outputs start
// as NaN (Pi3Heads.run), so an element that nothing wrote fails the comparison.
const TOL = 1e-4;
const KEYS = ['points', 'localPoints', 'conf', 'cameraPoses'] as const;

async function countingOrt(): Promise<{ ort: Ort; sessions: () => number }> {
  const ort = await loadOrt();
  let n = 0;
  const create = (...a: Parameters<Ort['InferenceSession']['create']>) => {
    n++;
    return ort.InferenceSession.create(...a);
  };
  return { ort: { ...ort, InferenceSession: { create } } as unknown as Ort, sessions: () => n };
}

describe.skipIf(!HAVE_PI3_FIXTURE)('π³ heads on the WebGPU EP reproduce the pi3-tiny reference', () => {
  it('from a Float32Array and from GPU tensors (whole, and 2-frame spans), one session for two image sizes', async () => {
    const gpu = await testDevice();
    const fx = await loadPi3HeadsFixture();
    const { ort, sessions } = await countingOrt();
    const refs = Object.fromEntries(
      await Promise.all(
        KEYS.map(
          async (k) =>
            [
              k,
              await fx.ref(
                { points: 'points', localPoints: 'local_points', conf: 'conf', cameraPoses: 'camera_poses' }[k],
              ),
            ] as const,
        ),
      ),
    );
    const expectRef = (out: Pi3HeadOutputs, what: string) => {
      for (const k of KEYS) {
        const err = relError(out[k], refs[k]!);
        console.info(`[pi3-heads:webgpu] ${what} ${k} relError ${err.toExponential(3)}`);
        expect(err, `${what} ${k}`).toBeLessThan(TOL);
      }
    };
    const C = fx.hidden.length / (fx.S * (fx.config.registers + (fx.H / 14) * (fx.W / 14)));
    const dims = [fx.S, fx.hidden.length / (fx.S * C), C];
    const buf = createStorageBuffer(gpu.device, fx.hidden, 'test pi3 hidden');
    const onGpu: Tensor = ort.Tensor.fromGpuBuffer(buf, { dataType: 'float32', dims });

    // A session's first run allocates (and so poisons) its buffers; later runs of the same session reuse ORT's pool
    // and see only the previous run's values, which cannot fake a new input's results.
    const poisoned = async (run: () => Promise<Pi3HeadOutputs>, first = false) => {
      const { result, poisoned: n } = await withPoisonedBuffers(gpu.device, run);
      if (first) expect(n).toBeGreaterThan(0);
      return result;
    };
    const whole = await Pi3Heads.create(fx.model, fx.config, { ep: 'webgpu', gpu }, { ort });
    expect(whole.framesPerRun(fx.H, fx.W)).toBeGreaterThanOrEqual(fx.S);
    expectRef(await poisoned(() => whole.run(fx.hidden, fx.S, fx.H, fx.W), true), 'host input');
    expectRef(await poisoned(() => whole.run(onGpu, fx.S, fx.H, fx.W)), 'GPU input');

    // a second image size through the same session, against the wasm EP (checked against float64 in the cpu project)
    const [H2, W2] = [42, 56];
    const T2 = fx.config.registers + (H2 / 14) * (W2 / 14);
    const small = randn(2 * T2 * C, rng(freshSeed('pi3-heads second size')));
    const got = await poisoned(() => whole.run(small, 2, H2, W2));
    expect(sessions()).toBe(1);
    const cpu = await Pi3Heads.create(fx.model, fx.config, { ep: 'wasm' });
    const want = await cpu.run(small, 2, H2, W2);
    for (const k of KEYS) {
      const err = relError(got[k], want[k]);
      console.info(`[pi3-heads:webgpu] ${H2}×${W2} vs wasm EP ${k} relError ${err.toExponential(3)}`);
      expect(err).toBeLessThan(TOL);
    }
    await cpu.dispose();
    await whole.dispose();

    // 2-frame chunks over 3 frames: GPU spans at offsets 0 and 2 frames are copied out of the input buffer
    const chunked = await Pi3Heads.create(fx.model, fx.config, { ep: 'webgpu', gpu }, { ort, framesChunk: 2 });
    expectRef(await poisoned(() => chunked.run(onGpu, fx.S, fx.H, fx.W), true), 'GPU input, 2-frame chunks');
    await chunked.dispose();
    buf.destroy();
  });

  it('a GPU tensor on the wasm EP is a typed error', async () => {
    const gpu = await testDevice();
    const fx = await loadPi3HeadsFixture();
    const ort = await loadOrt();
    const buf = createStorageBuffer(gpu.device, fx.hidden, 'test pi3 hidden');
    const t = ort.Tensor.fromGpuBuffer(buf, { dataType: 'float32', dims: [fx.S, fx.hidden.length / fx.S / 128, 128] });
    const cpu = await Pi3Heads.create(fx.model, fx.config, { ep: 'wasm' }, { ort, framesChunk: 1 });
    await expect(cpu.run(t, fx.S, fx.H, fx.W)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await cpu.dispose();
    buf.destroy();
  });
});
