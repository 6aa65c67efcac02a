import { afterAll, describe, expect, it } from 'vitest';
import { Pi3, type Pi3Result } from '../../../src/model/pi3/model.js';
import { testDevice } from '../../helpers/gpu.js';
import { plantedHess } from '../../../bench/planted-hess.js';
import { withPoisonedBuffers } from '../../helpers/poison.js';
import { freshSeed, relError, rng } from '../../helpers/random.js';
import { havePi3Fixture, loadPi3Fixture, PI3_FIXTURE, PI3_OUTPUTS } from '../../fixtures/pi3-tiny.js';

// The fixture's 3 frames × 40 tokens fit in one 128-token query block: small blocks make sparsity real here.
const BLOCKS = { queryBlock: 16, keyBlock: 8 };

describe.skipIf(!havePi3Fixture)(
  'Pi3 end to end on WebGPU (WGSL and ONNX global attention, sparse policies) vs pi3-tiny',
  () => {
    let model: Pi3;
    let images: { data: Float32Array; S: number; H: number; W: number };
    let dense: Pi3Result;
    afterAll(async () => model?.dispose());

    for (const attention of ['onnx', 'wgsl'] as const) {
      it(`attention '${attention}': points, local points, conf and poses ≤ 1e-4 relative, every new buffer NaN-poisoned`, async () => {
        const gpu = await testDevice();
        const fx = await loadPi3Fixture();
        images = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
        const m = await Pi3.load(PI3_FIXTURE, { device: gpu, attention });
        expect(m.gpu).toBe(gpu);
        expect(m.wgsl === null).toBe(attention === 'onnx');
        const { result: r, poisoned } = await withPoisonedBuffers(gpu.device, () => m.run(images));
        expect(poisoned).toBeGreaterThan(0);
        for (const [ours, theirs] of PI3_OUTPUTS) {
          const e = relError(r[ours], await fx.ref(theirs));
          console.info(`[pi3 e2e webgpu ${attention}] ${ours}: relError ${e.toExponential(2)}`);
          expect(e).toBeLessThanOrEqual(1e-4);
        }
        if (attention === 'wgsl') {
          model = m;
          dense = r;
          expect(r.sparsity!.achievedSparsity).toBe(0);
          expect(r.sparsity!.blocksPerLayer).toHaveLength(18); // π³'s 18 global layers
        } else {
          await m.dispose();
        }
      });
    }

    it('sparse policies on the 18 global layers: keep-all equals dense; uniform and hess at 0.5 drop blocks and move the outputs', async () => {
      const sparse0 = await model.run(images, { policy: 'uniform', sparsity: 0, ...BLOCKS });
      expect(sparse0.sparsity!.achievedSparsity).toBe(0);
      for (const [ours] of PI3_OUTPUTS) expect(relError(sparse0[ours], dense[ours]), ours).toBeLessThan(1e-4);

      const rand = rng(freshSeed('pi3 sparse hess'));
      const { depth, numHeads } = model.config;
      expect(depth).toBe(18);
      const hess = plantedHess(
        Array.from({ length: depth }, () => Array.from({ length: numHeads }, () => 0.05 + rand())),
        'pi3-tiny',
      );
      for (const policy of ['uniform', 'hess', 'reverse'] as const) {
        const r = await model.run(images, { policy, sparsity: 0.5, hess, ...BLOCKS });
        const s = r.sparsity!;
        console.info(
          `[pi3 e2e webgpu ${policy} 0.5] achieved ${s.achievedSparsity.toFixed(3)}, points relError vs dense ${relError(r.points, dense.points).toExponential(2)}`,
        );
        expect(s.blocksPerLayer).toHaveLength(18);
        expect(s.achievedSparsity).toBeGreaterThan(0.1);
        for (const [ours] of PI3_OUTPUTS) expect(r[ours].every(Number.isFinite), ours).toBe(true);
        expect(relError(r.points, dense.points)).toBeGreaterThan(1e-6);
      }
    });
  },
);
