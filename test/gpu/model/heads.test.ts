import { describe, expect, it } from 'vitest';
import { CameraHead } from '../../../src/model/vggt/camera-head.js';
import { testDevice } from '../../helpers/gpu.js';
import { relError } from '../../helpers/random.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';

// The same fixture comparison as test/cpu/model/heads.test.ts, on onnxruntime-web's WebGPU EP with our device.
const TOL = 1e-4;

describe('VGGT heads on the WebGPU EP reproduce the vggt-tiny reference', () => {
  it('camera head: pose_enc', async () => {
    const gpu = await testDevice();
    const fx = await loadFixture();
    const head = await CameraHead.create(fx.model, fx.cfg.camera!, { ep: 'webgpu', gpu });
    const got = await head.run(fx.layers.get(23)!, fx.S);
    const err = relError(got, await fx.ref('pose_enc'));
    console.info(`[heads:webgpu] camera pose_enc relError ${err.toExponential(3)}`);
    expect(err).toBeLessThan(TOL);
    await head.dispose();
  });
});
