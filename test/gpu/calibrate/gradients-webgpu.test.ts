import { describe, expect, it } from 'vitest';
import { sceneErrors } from '../../../src/calibrate/calibrate.js';
import { VggtGradients } from '../../../src/calibrate/gradients.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';
import { testDevice } from '../../helpers/gpu.js';
import { freshSeed, relError, rng } from '../../helpers/random.js';
import { makeGroundTruth } from '../../cpu/calibrate/gradients-gt.js';

// The calibration backward on onnxruntime-web's WebGPU EP (our device) against the wasm EP, whose gradients the
// CPU tests check against finite differences: same forward state, same seeds, every layer's ∂e/∂W_Q.
describe('VggtGradients on the WebGPU EP (vggt-tiny)', () => {
  it('forward outputs and ∂e/∂W_Q of both error terms match the wasm EP to ≤ 1e-4 in every layer', async () => {
    const gpu = await testDevice();
    const fx = await loadFixture();
    const rand = rng(freshSeed('calibrate gradients webgpu'));
    const images = Float32Array.from(await fx.ref('images'));
    const shape = { S: fx.S, H: fx.H, W: fx.W };
    const cpu = await VggtGradients.create(fx.model, fx.cfg);
    // the WebGPU run also uses the memory-bounded modes (recomputed activations, query-chunked global blocks)
    const wg = await VggtGradients.create(fx.model, fx.cfg, {
      target: { ep: 'webgpu', gpu },
      checkpointEvery: 4,
      attentionChunk: 64,
    });
    try {
      const f0 = await cpu.forward(images, shape);
      const f1 = await wg.forward(images, shape);
      expect(relError(f1.poseEnc, f0.poseEnc)).toBeLessThan(1e-4);
      expect(relError(f1.worldPoints, f0.worldPoints)).toBeLessThan(1e-4);
      const errs = sceneErrors(f0, makeGroundTruth(f0.poseEnc, f0.worldPoints, shape, rand));
      expect(errs.pointCloud.inlierCount).toBeGreaterThan(100); // a point term to compare (570…5000+ seen)
      const seeds = [{ poseEnc: errs.camera.gradPoseEnc }, { worldPoints: errs.pointCloud.gradWorldPoints }];
      let worst = 0;
      for (const seed of seeds) {
        const ref: Float32Array[] = [];
        await cpu.backward(f0, seed, (l, g) => {
          ref[l] = g.slice();
        });
        let n = 0;
        await wg.backward(f1, seed, (l, g) => {
          n++;
          worst = Math.max(worst, relError(g, ref[l]!));
        });
        expect(n).toBe(fx.cfg.depth);
      }
      console.info(`[calibrate webgpu] worst rel. error of ∂e/∂W_Q vs the wasm EP: ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
    } finally {
      await cpu.dispose();
      await wg.dispose();
    }
  });
});
