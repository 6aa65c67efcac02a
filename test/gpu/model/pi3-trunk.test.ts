import { describe, expect, it } from 'vitest';
import { DenseOnnxAttention } from '../../../src/model/trunk/attention-core.js';
import { createPi3Trunk } from '../../../src/model/pi3/trunk.js';
import { loadOrt } from '../../../src/runtime/ort.js';
import { WgslAttention } from '../../../src/runtime/wgsl-attention.js';
import { testDevice } from '../../helpers/gpu.js';
import { withPoisonedBuffers } from '../../helpers/poison.js';
import { relError } from '../../helpers/random.js';
import { havePi3Fixture, loadPi3Fixture, PI3_DECODER_REFS, pi3DecoderOutputs } from '../../fixtures/pi3-tiny.js';

// Local = DINO and frame attention (WGSL flash kernel with a frame axis, or whole ONNX blocks); global = the 18
// global layers' core (our WGSL kernel, or dense ONNX attention).
const CASES = [
  { local: 'wgsl', global: 'wgsl' },
  { local: 'onnx', global: 'onnx' },
  { local: 'wgsl', global: 'onnx' },
] as const;

describe.skipIf(!havePi3Fixture)('π³ encoder + decoder on the WebGPU EP vs the float64 reference (pi3-tiny)', () => {
  for (const { local, global } of CASES) {
    it(`local ${local}, global ${global}: decoder.{${PI3_DECODER_REFS.join(',')}} ≤ 1e-4 relative, every new buffer NaN-poisoned`, async () => {
      const gpu = await testDevice();
      const ort = await loadOrt();
      const { model, cfg, S, H, W, ref } = await loadPi3Fixture();
      const target = { ep: 'webgpu' as const, gpu };
      const attention =
        global === 'wgsl'
          ? await WgslAttention.create(ort, gpu)
          : await DenseOnnxAttention.create(ort, target, cfg.numHeads, cfg.headDim);
      const trunk = await createPi3Trunk(model, cfg, { target, ort, attention, localAttention: local });
      const images = Float32Array.from(await ref('images'));
      const t0 = performance.now();
      const {
        result: { blocks },
        poisoned,
      } = await withPoisonedBuffers(gpu.device, () => pi3DecoderOutputs(trunk, images, { S, H, W }));
      console.info(
        `[pi3 trunk webgpu ${local}/${global}] run ${(performance.now() - t0).toFixed(0)} ms, ${poisoned} buffers poisoned`,
      );
      expect(poisoned).toBeGreaterThan(0);
      for (const b of PI3_DECODER_REFS) {
        const e = relError(blocks.get(b)!, await ref(`decoder.${b}`));
        console.info(`[pi3 trunk webgpu ${local}/${global}] decoder.${b}: relError ${e.toExponential(2)}`);
        expect(e).toBeLessThanOrEqual(1e-4);
      }
      await trunk.dispose();
      await attention.dispose();
    });
  }
});
