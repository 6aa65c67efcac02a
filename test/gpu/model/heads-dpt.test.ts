import { describe, expect, it } from 'vitest';
import { DptHead } from '../../../src/model/vggt/dpt-head.js';
import { testDevice } from '../../helpers/gpu.js';
import { relError } from '../../helpers/random.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';

// The DPT head on onnxruntime-web's WebGPU EP. Frames are independent in a DPT head, so one frame (the last,
// to catch an offset bug) keeps this file short on the software adapter.
const TOL = 1e-4;

describe('VGGT DPT depth head on the WebGPU EP reproduces the vggt-tiny reference', () => {
  it('depth head, one frame: depth and depth_conf', async () => {
    const gpu = await testDevice();
    const fx = await loadFixture();
    const spec = {
      kind: 'depth' as const,
      head: fx.cfg.depthHead!,
      dimIn: 2 * fx.cfg.embedDim,
      patchSize: fx.cfg.patchSize,
      patchStartIdx: fx.cfg.patchStartIdx,
    };
    const head = await DptHead.create(fx.model, spec, { ep: 'webgpu', gpu });
    const f = fx.S - 1;
    const n = fx.P * 2 * fx.cfg.embedDim;
    const one = new Map([...fx.layers].map(([k, a]) => [k, a.subarray(f * n, (f + 1) * n)]));
    const { values, conf } = await head.run(one, 1, fx.H, fx.W);
    const HW = fx.H * fx.W;
    const eD = relError(values, (await fx.ref('depth')).subarray(f * HW, (f + 1) * HW));
    const eC = relError(conf, (await fx.ref('depth_conf')).subarray(f * HW, (f + 1) * HW));
    console.info(
      `[heads:webgpu] depth (frame ${f}) relError ${eD.toExponential(3)}, depth_conf ${eC.toExponential(3)}`,
    );
    expect(eD).toBeLessThan(TOL);
    expect(eC).toBeLessThan(TOL);
    await head.dispose();
  });
});
