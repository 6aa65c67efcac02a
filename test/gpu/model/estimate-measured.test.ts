import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Vggt } from '../../../src/model/vggt/model.js';
import { mustHave, testDevice } from '../../helpers/gpu.js';
import { FIXTURE } from '../../../bench/vggt-tiny.js';
import { trackGpuBuffers } from '../../../bench/gpu-buffers.js';
import { writeRandomVggt, type RandomVggtShape } from '../../../bench/random-vggt.js';
import { existsSync } from 'node:fs';

// The memory estimate (trunk: src/model/estimate/trunk.ts; VGGT's heads: src/model/vggt/estimate.ts) against the
// GPU buffers a load + run really creates on WebGPU: createBuffer/destroy wrapped on the shared device (ORT's WebGPU
// EP allocates on it too), live bytes tracked, the peak above the pre-load base compared with the estimate's peak GPU
// bytes. Ratios, never timings.

const MID: RandomVggtShape = {
  dim: 256,
  heads: 8,
  depth: 24,
  dinoDepth: 24,
  predictionHeads: {
    cameraHeads: 8,
    trunkDepth: 4,
    features: 64,
    outChannels: [64, 128, 256, 256],
    depthHead: true,
    pointHead: true,
  },
};

describe('memory estimate vs GPU buffers measured on WebGPU', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('peak GPU bytes of load + run over the estimate, tiny fixture and a mid-size random model, fp32 and fp16', async () => {
    const gpu = await testDevice();
    const tracked = trackGpuBuffers(gpu);
    const mid = mkdtempSync(join(tmpdir(), 'hess-est-'));
    dirs.push(mid);
    await writeRandomVggt(mid, MID, { seed: 3 });
    const sources: Array<[string, string, number, number, number]> = [
      ['mid w256', mid, 2, 126, 168],
      ['mid w256', mid, 4, 126, 168],
    ];
    if (existsSync(`${FIXTURE}/model.safetensors`)) sources.unshift(['tiny', FIXTURE, 3, 70, 98]);
    const dtypes: Array<'fp32' | 'fp16'> = gpu.features.shaderF16 ? ['fp32', 'fp16'] : ['fp32'];
    if (!gpu.features.shaderF16) mustHave(false, 'shader-f16 (fp16 rows skipped)');
    const ratios: number[] = [];
    console.info(
      '[estimate vs measured] model | dtype | S | H×W | est. weights MB | measured after load MB | est. peak MB | measured peak MB | measured/est.',
    );
    for (const [label, src, S, H, W] of sources) {
      for (const dtype of dtypes) {
        const base = tracked.live;
        tracked.resetPeak();
        const model = await Vggt.load(src, { device: gpu, dtype });
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
        ratios.push(ratio);
        const mb = (b: number) => (b / 1e6).toFixed(2);
        console.info(
          `[estimate vs measured] ${label} | ${dtype} | ${S} | ${H}×${W} | ${mb(est.stages[0]!.gpuBytes)} | ${mb(afterLoad)} | ${mb(est.gpuBytes)} | ${mb(measured)} | ${ratio.toFixed(3)}`,
        );
        // What loading leaves resident is the estimate's weights stage, buffer for buffer (measured 1.00-1.01).
        expect(afterLoad / est.stages[0]!.gpuBytes).toBeGreaterThan(0.95);
        expect(afterLoad / est.stages[0]!.gpuBytes).toBeLessThan(1.05);
        // The run's peak is above the estimate by ORT's buffer cache (freed buffers kept for reuse, sizes rounded
        // to buckets): measured 1.09-1.22 on the mid model, 1.6-1.8 on the tiny one, where a few MB of cached
        // buffers weigh on an 18 MB estimate. Not within 15% in general: bound the ratio loosely, never below 0.85.
        expect(ratio).toBeGreaterThan(0.85);
        expect(ratio).toBeLessThan(2);
      }
    }
    console.info(`[estimate vs measured] ratios ${ratios.map((r) => r.toFixed(3)).join(' ')}`);
  });
});
