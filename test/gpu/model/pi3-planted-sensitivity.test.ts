import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Pi3, type Pi3Result } from '../../../src/model/pi3/model';
import { testDevice } from '../../helpers/gpu';
import { plantedPi3Model } from '../../helpers/planted';
import { freshSeed, rng } from '../../helpers/random';
import { havePi3Fixture, loadPi3Fixture, PI3_FIXTURE } from '../../fixtures/pi3-tiny';

// The π³ twin of planted-sensitivity.test.ts: the pi3-tiny fixture with one head per global layer made to matter
// (output-projection columns ×0.5, the others ×0.01), and the HeSS file such a model deserves (∝ scale²). At the
// same per-layer budget, HeSS (dense where it matters) must beat uniform, and reverse (the opposite) must lose.
// Not VGGT's ×3 / ×0.05: through π³'s 18 global layers that puts the random model where any sparsity changes the
// outputs by O(1) (measured: uniform 0.65, hess 1.49, reverse 0.79 at 0.73; with ×1 / ×0.02 uniform 0.51 >
// reverse 0.43 at 0.9), a regime in which a smaller attention error no longer means a smaller output error.
// Small blocks: 3 frames × 40 tokens, so the uniform budget at 0.9 stays above reverse's 2-block floor.
const BLOCKS = { queryBlock: 4, keyBlock: 2 };

/** ‖a − b‖ / ‖b‖: a whole-map error. */
function rmsRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { num += (a[i]! - b[i]!) ** 2; den += b[i]! ** 2; }
  return Math.sqrt(num / den);
}

/** Output error vs dense: world points, camera-frame points and camera poses. */
const err = (r: Pi3Result, ref: Pi3Result) => rmsRel(r.points, ref.points) + rmsRel(r.localPoints, ref.localPoints) + rmsRel(r.cameraPoses, ref.cameraPoses);

describe.skipIf(!havePi3Fixture)('π³ planted sensitivity: HeSS beats uniform sparsity at the same budget; reverse loses', () => {
  let model: Pi3 | undefined;
  afterAll(async () => model?.dispose());

  it('output error: hess < uniform < reverse at 0.73 and at 0.9 (18 global layers)', async () => {
    const gpu = await testDevice();
    const rand = rng(freshSeed('pi3 planted sensitivity'));
    const planted = await plantedPi3Model(rand, { strong: 0.5, weak: 0.01 });
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
        const r = await model.run(images, { policy, sparsity, hess: planted.hess, ...BLOCKS });
        e[policy] = err(r, dense);
        blocks[policy] = r.sparsity!.blocksPerLayer;
        table.push(`${sparsity} ${policy}: err ${e[policy]!.toExponential(2)} (pts ${rmsRel(r.points, dense.points).toExponential(2)} local ${rmsRel(r.localPoints, dense.localPoints).toExponential(2)} poses ${rmsRel(r.cameraPoses, dense.cameraPoses).toExponential(2)}), achieved sparsity ${r.sparsity!.achievedSparsity.toFixed(3)}`);
      }
      expect(blocks.uniform).toHaveLength(18);
      // Same budget per layer for all three policies; only its split across heads differs.
      expect(blocks.hess).toEqual(blocks.uniform);
      expect(blocks.reverse).toEqual(blocks.uniform);
      expect(e.hess, table.join('\n')).toBeLessThan(e.uniform!);
      expect(e.uniform, table.join('\n')).toBeLessThan(e.reverse!);
    }
    console.info(`[pi3 planted]\n${table.join('\n')}`);
  }); // 7 model runs on a software GPU
});
