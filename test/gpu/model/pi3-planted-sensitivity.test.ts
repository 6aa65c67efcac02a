import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Pi3, type Pi3Result } from '../../../src/model/pi3/model.js';
import { testDevice } from '../../helpers/gpu.js';
import { plantedModel } from '../../helpers/planted.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { havePi3Fixture, loadPi3Fixture, PI3_FIXTURE } from '../../fixtures/pi3-tiny.js';

// As VGGT's planted test: 3 frames × 40 tokens, blocks small enough that even at 0.9 the uniform budget stays well
// above the 2-block floor that reverse gives the sensitive head.
const BLOCKS = { queryBlock: 4, keyBlock: 2 };

/** ‖a − b‖ / ‖b‖: a whole-map error. */
function rmsRel(a: Float32Array, b: Float32Array): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Output error vs dense: world and camera-frame points. */
const err = (r: Pi3Result, ref: Pi3Result) => rmsRel(r.points, ref.points) + rmsRel(r.localPoints, ref.localPoints);

describe.skipIf(!havePi3Fixture)(
  'planted sensitivity on π³ (18 global layers): hess < uniform < reverse at the same budget',
  () => {
    let model: Pi3 | undefined;
    afterAll(async () => model?.dispose());

    it('output error: hess < uniform < reverse at 0.73 and at 0.9', async () => {
      const gpu = await testDevice();
      // ×0.5 / ×0.01, not VGGT's ×3 / ×0.05: at ×3 this random π³ moves by O(1) under any sparsity and the ordering
      // is noise (HESS_SEED=1144994790 failed in CI)
      const planted = await plantedModel(rng(freshSeed('pi3 planted sensitivity')), {
        model: 'pi3',
        strong: 0.5,
        weak: 0.01,
      });
      expect(planted.scales).toHaveLength(18);
      const config = JSON.parse(await readFile(resolve(PI3_FIXTURE, 'config.json'), 'utf8'));
      model = await Pi3.load(planted.bytes, { device: gpu, config });
      const fx = await loadPi3Fixture();
      const images = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
      const dense = await model.run(images);
      const table: string[] = [];
      for (const sparsity of [0.73, 0.9]) {
        const e: Record<string, number> = {};
        const blocks: Record<string, number[]> = {};
        for (const policy of ['uniform', 'hess', 'reverse'] as const) {
          const r = await model.run(images, { policy, sparsity, hess: { ...planted.hess, model: 'pi3' }, ...BLOCKS });
          e[policy] = err(r, dense);
          blocks[policy] = r.sparsity!.blocksPerLayer;
          table.push(
            `${sparsity} ${policy}: err ${e[policy].toExponential(2)}, achieved sparsity ${r.sparsity!.achievedSparsity.toFixed(3)}`,
          );
        }
        expect(blocks.hess).toEqual(blocks.uniform);
        expect(blocks.reverse).toEqual(blocks.uniform);
        expect(e.hess, table.join('\n')).toBeLessThan(e.uniform);
        expect(e.uniform, table.join('\n')).toBeLessThan(e.reverse);
      }
      console.info(`[pi3 planted]\n${table.join('\n')}`);
    });
  },
);
