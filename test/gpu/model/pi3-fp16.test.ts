import { describe, expect, it } from 'vitest';
import { Pi3 } from '../../../src/model/pi3/model.js';
import { mustHave, testDevice } from '../../helpers/gpu.js';
import { relError } from '../../helpers/random.js';
import { havePi3Fixture, loadPi3Fixture, PI3_FIXTURE } from '../../fixtures/pi3-tiny.js';

const OUTPUTS = [
  ['points', 'points'],
  ['localPoints', 'local_points'],
  ['conf', 'conf'],
  ['cameraPoses', 'camera_poses'],
] as const;

describe.skipIf(!havePi3Fixture)("Pi3 with dtype 'fp16' (encoder + decoder in float16 on WebGPU, heads fp32)", () => {
  it('stays within 1e-2 relative of the float64 reference, and differs from fp32 (the f16 path really ran)', async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const fx = await loadPi3Fixture();
    const images = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
    const m16 = await Pi3.load(PI3_FIXTURE, { device: gpu, dtype: 'fp16' });
    const r16 = await m16.run(images);
    await m16.dispose();
    const m32 = await Pi3.load(PI3_FIXTURE, { device: gpu });
    const r32 = await m32.run(images);
    await m32.dispose();
    for (const [ours, theirs] of OUTPUTS) {
      const want = await fx.ref(theirs);
      const [e16, e32] = [relError(r16[ours], want), relError(r32[ours], want)];
      console.info(`[pi3 fp16] ${ours}: fp16 ${e16.toExponential(2)}, fp32 ${e32.toExponential(2)}`);
      expect(e32, ours).toBeLessThan(1e-4);
      expect(e16, ours).toBeLessThan(1e-2);
      expect(e16, ours).toBeGreaterThan(e32);
    }
  });
});
