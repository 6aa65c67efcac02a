import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HessFile } from '../../../src/hess/hess-file.js';
import type { HessDevice } from '../../../src/gpu/device.js';
import type { SparsityStats } from '../../../src/runtime/wgsl-attention.js';
import { Pi3, type Pi3Result } from '../../../src/model/pi3/model.js';
import { Vggt, type VggtResult } from '../../../src/model/vggt/model.js';
import { testDevice } from '../../helpers/gpu.js';
import { plantedModel } from '../../helpers/planted.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { havePi3Fixture, loadPi3Fixture, PI3_FIXTURE } from '../../fixtures/pi3-tiny.js';
import { FIXTURE, loadFixture } from '../../../bench/vggt-tiny.js';

// Planted sensitivity (test/helpers/planted.ts) on VGGT and π³: HeSS redistribution beats uniform sparsity at the
// same budget; reverse loses. Small blocks so that even at 0.9 the uniform budget (round(0.1·K) candidates) is well
// above the 2-block floor that reverse gives the sensitive head (3 frames × 40 tokens: 57 candidate key blocks of 2
// tokens).
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

type Images = { data: Float32Array; S: number; H: number; W: number };
type RunOptions = { policy: 'uniform' | 'hess' | 'reverse'; sparsity: number; hess: HessFile } & typeof BLOCKS;
type Sparse = { sparsity: SparsityStats | null };
interface Model<R> {
  run(images: Images, opts?: RunOptions): Promise<R>;
  dispose(): Promise<void>;
}

/** One model under test: its planted model, how to load it, and its output error vs dense. */
interface Subject<R extends Sparse> {
  name: string;
  available: boolean;
  title: string;
  seed: string;
  plant: Parameters<typeof plantedModel>[1];
  /** Global layers the planted model must have (where pinned). */
  layers?: number;
  fixture: string;
  loadFixture(): Promise<{ S: number; H: number; W: number; ref(name: string): Promise<Float64Array> }>;
  load(bytes: Uint8Array, gpu: HessDevice, config: Record<string, unknown>): Promise<Model<R>>;
  hess(planted: HessFile): HessFile;
  err(r: R, dense: R): number;
}
const subject = <R extends Sparse>(s: Subject<R>) => s as unknown as Subject<Sparse>;

const SUBJECTS = [
  subject<VggtResult>({
    name: 'planted',
    available: true,
    title: 'planted sensitivity: HeSS redistribution beats uniform sparsity at the same budget; reverse loses',
    seed: 'planted sensitivity',
    plant: {},
    fixture: FIXTURE,
    loadFixture,
    load: (bytes, gpu, config) => Vggt.load(bytes, { device: gpu, config }),
    hess: (h) => h,
    // depth and world points
    err: (r, ref) => rmsRel(r.depth!, ref.depth!) + rmsRel(r.worldPoints!, ref.worldPoints!),
  }),
  subject<Pi3Result>({
    name: 'pi3 planted',
    available: havePi3Fixture,
    title: 'planted sensitivity on π³ (18 global layers): hess < uniform < reverse at the same budget',
    seed: 'pi3 planted sensitivity',
    // ×0.5 / ×0.01, not VGGT's ×3 / ×0.05: at ×3 this random π³ moves by O(1) under any sparsity and the ordering
    // is noise (HESS_SEED=1144994790 failed in CI)
    plant: { model: 'pi3', strong: 0.5, weak: 0.01 },
    layers: 18,
    fixture: PI3_FIXTURE,
    loadFixture: loadPi3Fixture,
    load: (bytes, gpu, config) => Pi3.load(bytes, { device: gpu, config }),
    hess: (h) => ({ ...h, model: 'pi3' }),
    // world and camera-frame points
    err: (r, ref) => rmsRel(r.points, ref.points) + rmsRel(r.localPoints, ref.localPoints),
  }),
];

for (const m of SUBJECTS) {
  describe.skipIf(!m.available)(m.title, () => {
    let model: Model<Sparse> | undefined;
    afterAll(async () => model?.dispose());

    it('output error: hess < uniform < reverse at 0.73 and at 0.9', async () => {
      const gpu = await testDevice();
      const planted = await plantedModel(rng(freshSeed(m.seed)), m.plant);
      if (m.layers !== undefined) expect(planted.scales).toHaveLength(m.layers);
      const config = JSON.parse(await readFile(resolve(m.fixture, 'config.json'), 'utf8'));
      model = await m.load(planted.bytes, gpu, config);
      const fx = await m.loadFixture();
      const images = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
      const dense = await model.run(images);
      const table: string[] = [];
      for (const sparsity of [0.73, 0.9]) {
        const e: Record<string, number> = {};
        const blocks: Record<string, number[]> = {};
        for (const policy of ['uniform', 'hess', 'reverse'] as const) {
          const r = await model.run(images, { policy, sparsity, hess: m.hess(planted.hess), ...BLOCKS });
          e[policy] = m.err(r, dense);
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
      console.info(`[${m.name}]\n${table.join('\n')}`);
    }); // 7 model runs on a software GPU
  });
}
