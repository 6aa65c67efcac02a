import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Vggt, type VggtResult } from '../../../src/model/vggt/model.js';
import { testDevice } from '../../helpers/gpu.js';
import { plantedModel } from '../../helpers/planted.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { FIXTURE, loadFixture } from '../../../bench/vggt-tiny.js';

// Small blocks so that even at 0.9 the uniform budget (round(0.1·K) candidates) is well above the 2-block floor
// that reverse gives the sensitive head (3 frames × 40 tokens: 57 candidate key blocks of 2 tokens).
const BLOCKS = { queryBlock: 4, keyBlock: 2 };

/** ‖a − b‖ / ‖b‖: a whole-map error (a max over pixels would be decided by single noisy pixels). */
function rmsRel(a: Float32Array, b: Float32Array): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Output error vs dense: depth and world points. */
const err = (r: VggtResult, ref: VggtResult) => rmsRel(r.depth!, ref.depth!) + rmsRel(r.worldPoints!, ref.worldPoints!);

describe('planted sensitivity: HeSS redistribution beats uniform sparsity at the same budget; reverse loses', () => {
  let model: Vggt | undefined;
  afterAll(async () => model?.dispose());

  it('output error: hess < uniform < reverse at 0.73 and at 0.9', async () => {
    const gpu = await testDevice();
    const rand = rng(freshSeed('planted sensitivity'));
    const planted = await plantedModel(rand);
    const config = JSON.parse(await readFile(resolve(FIXTURE, 'config.json'), 'utf8'));
    model = await Vggt.load(planted.bytes, { device: gpu, config });
    const fx = await loadFixture();
    const images = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
    const dense = await model.run(images);
    const table: string[] = [];
    for (const sparsity of [0.73, 0.9]) {
      const e: Record<string, number> = {};
      const blocks: Record<string, number[]> = {};
      for (const policy of ['uniform', 'hess', 'reverse'] as const) {
        const r = await model.run(images, { policy, sparsity, hess: planted.hess, ...BLOCKS });
        e[policy] = err(r, dense);
        blocks[policy] = r.sparsity!.blocksPerLayer;
        table.push(
          `${sparsity} ${policy}: err ${e[policy].toExponential(2)}, achieved sparsity ${r.sparsity!.achievedSparsity.toFixed(3)}`,
        );
      }
      // Same budget per layer for all three policies; only its split across heads differs.
      expect(blocks.hess).toEqual(blocks.uniform);
      expect(blocks.reverse).toEqual(blocks.uniform);
      expect(e.hess, table.join('\n')).toBeLessThan(e.uniform);
      expect(e.uniform, table.join('\n')).toBeLessThan(e.reverse);
    }
    console.info(`[planted]\n${table.join('\n')}`);
  }); // 7 model runs on a software GPU
});
