import { describe, expect, it } from 'vitest';
import { Pi3 } from '../../../src/model/pi3/model.js';
import { mustHave, testDevice } from '../../helpers/gpu.js';
import { havePi3Fixture, PI3_FIXTURE } from '../../fixtures/pi3-tiny.js';
import { trackGpuBuffers } from '../../../bench/gpu-buffers.js';

// π³'s memory estimate (trunk: src/model/estimate/trunk.ts; heads: src/model/pi3/estimate.ts) against the GPU
// buffers a load + run of the pi3-tiny fixture really creates on WebGPU, as estimate-measured.test.ts does for VGGT:
// createBuffer/destroy wrapped on the shared device, the peak above the pre-load base compared with the estimate's
// peak. Ratios, never timings.

describe.skipIf(!havePi3Fixture)('π³ memory estimate vs GPU buffers measured on WebGPU (pi3-tiny)', () => {
  it('peak GPU bytes of load + run over the estimate, fp32 and fp16, one and several head chunks', async () => {
    const gpu = await testDevice();
    const tracked = trackGpuBuffers(gpu);
    const dtypes: Array<'fp32' | 'fp16'> = gpu.features.shaderF16 ? ['fp32', 'fp16'] : ['fp32'];
    if (!gpu.features.shaderF16) mustHave(false, 'shader-f16 (fp16 rows skipped)');
    const [H, W] = [70, 98];
    console.info(
      '[π³ estimate vs measured] dtype | S | frames/head run | est. weights MB | measured after load MB | est. peak MB | measured peak MB | measured/est.',
    );
    // framesChunk 1 runs the heads on copied spans of the layer; the default takes all S frames in one run
    for (const dtype of dtypes) {
      for (const [S, framesChunk] of [
        [3, undefined],
        [4, 1],
      ] as const) {
        const base = tracked.live;
        tracked.resetPeak();
        const model = await Pi3.load(PI3_FIXTURE, { device: gpu, dtype, framesChunk });
        const afterLoad = tracked.live - base;
        const images = {
          data: new Float32Array(S * 3 * H * W).map((_, i) => ((i * 2654435761) >>> 0) / 2 ** 32),
          S,
          H,
          W,
        };
        await model.run(images);
        const measured = tracked.peak - base;
        const est = model.estimate({ S, H, W });
        await model.dispose();
        const ratio = measured / est.gpuBytes;
        const mb = (b: number) => (b / 1e6).toFixed(2);
        console.info(
          `[π³ estimate vs measured] ${dtype} | ${S} | ${Math.min(est.input.framesChunk, S)} | ${mb(est.stages[0]!.gpuBytes)} | ${mb(afterLoad)} | ${mb(est.gpuBytes)} | ${mb(measured)} | ${ratio.toFixed(3)}`,
        );
        expect(Math.min(est.input.framesChunk, S)).toBe(framesChunk ?? S);
        // what loading leaves resident (trunk and head weights) is the estimate's weights stage
        expect(afterLoad / est.stages[0]!.gpuBytes).toBeGreaterThan(0.95);
        expect(afterLoad / est.stages[0]!.gpuBytes).toBeLessThan(1.05);
        // the run's peak: the bound of the VGGT test (ORT's buffer cache keeps freed buffers, so above 1)
        expect(ratio).toBeGreaterThan(0.85);
        expect(ratio).toBeLessThan(2);
      }
    }
  });
});
