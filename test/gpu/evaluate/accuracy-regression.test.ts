// Accuracy regression on the TRAINED tiny VGGT (../shared/fixtures/vggt-synth; issue 16, item 2): calibrate HeSS
// on the fixture's calibration scenes, evaluate dense / uniform / hess / reverse on scenes the project renders
// itself (src/evaluate/synthetic-scene.ts), and assert only the orderings that bench/results/accuracy.md measured
// to hold with a margin. The numbers below (views, blocks, sparsities, scene count, margins) come from that file;
// `npm run bench -- accuracy` reproduces it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { readCalibrationScenes } from '../../../src/calibrate/dataset/reader.js';
import { parseHessFile, type HessFile } from '../../../src/hess/hess-file.js';
import { accuracyErrors, orderingStats, type AccuracyRun } from '../../../src/evaluate/accuracy.js';
import { evaluate } from '../../../src/evaluate/harness.js';
import { writeSyntheticScene } from '../../../src/evaluate/synthetic-dataset.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import { testDevice } from '../../helpers/gpu.js';
import { freshSeed } from '../../helpers/random.js';

const F = resolve(process.cwd(), '../shared/fixtures/vggt-synth');
const CALIBRATE_JS = resolve(process.cwd(), 'dist/node/calibrate.js'); // built by `npm test` (npm run build)
const haveFixture = existsSync(`${F}/model.safetensors`) && existsSync(`${F}/calib`);

/**
 * Calibrate on the first `n` calibration scenes in a child Node WITHOUT this project's --no-opt/--liftoff-only
 * (which dawn.node needs here): under those flags the wasm EP and the JS error terms made one scene take minutes
 * (bench/results/accuracy-calibrate.md). The child runs the built package entry hess-vggt/calibrate.
 */
async function calibrateInChild(n: number): Promise<HessFile> {
  const script = `import { calibrate, readCalibrationScenes } from ${JSON.stringify(pathToFileURL(CALIBRATE_JS).href)};
const [data, n, checkpoint] = process.argv.slice(1);
const scenes = (await readCalibrationScenes(data)).slice(0, Number(n));
process.stdout.write(JSON.stringify(await calibrate({ checkpoint }, scenes, { lambda: 0.5 })));`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', script, `${F}/calib`, String(n), F],
    { maxBuffer: 64 << 20, timeout: 20 * 60_000 },
  );
  return parseHessFile(stdout);
}

// --- From bench/results/accuracy.md (see its "Orderings" table and its reading) ----------------------------------
const VIEWS = 8; // 8 views at 98×70: 320 global tokens (3 views: 120, too few blocks to rank)
const W = 98,
  H = 70; // the training size: the model degrades at a higher resolution (accuracy-probe.md)
const BLOCKS = { queryBlock: 8, keyBlock: 8 }; // q8: only the 5 special-token query blocks attend densely
const SPARSITIES = [0.6, 0.9] as const; // requested; achieved 0.46 and 0.70 (special tokens, 12.5%, are always kept)
const SCENES = 3;
const CALIB_SCENES = 3; // c000–c002, as the HeSS file the measurements used (bench/results/vggt-synth.hess.json)
// Margins from 6 measured scenes (accuracy.md): the smallest sparse Δ combined was 2.1e-4 (MIN_DELTA 10× below),
// the largest 8.5e-4 (MAX_DELTA 12× above), the largest |GT combined − 1| 0.0025 (GT_BAND 4× above), the smallest
// per-scene ratio Δ(0.9)/Δ(0.6) 1.66 (means over scenes 1.8–2.4; MORE_SPARSITY 1.3).
const MIN_DELTA = 2e-5;
const MAX_DELTA = 0.01;
const GT_BAND = 0.01;
const MORE_SPARSITY = 1.3;

describe.skipIf(!haveFixture || !existsSync(CALIBRATE_JS))(
  'accuracy regression on the trained vggt-synth (needs ../shared)',
  () => {
    let dir = '';
    let model: Vggt | undefined;
    afterAll(async () => {
      await model?.dispose();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('dense best, more sparsity moves the output more, all stay close to dense; reverse worst at ρ=0.6', async () => {
      const hess = await calibrateInChild(CALIB_SCENES);
      expect(hess.calibration.scenes).toBe(CALIB_SCENES);
      dir = await mkdtemp(join(tmpdir(), 'hess-acc-'));
      const seed = freshSeed('accuracy regression scenes');
      for (let i = 0; i < SCENES; i++)
        await writeSyntheticScene(dir, `s${i}`, seed + i, { views: VIEWS, width: W, height: H });
      const scenes = await readCalibrationScenes(dir);
      model = await Vggt.load(F, { device: await testDevice() });
      const report = await evaluate(model, scenes, {
        policies: ['dense', 'uniform', 'hess', 'reverse'],
        sparsities: [...SPARSITIES],
        hess,
        ...BLOCKS,
        targetSize: W,
        maxPoints: 3000,
        onProgress: (e) => console.info(`[accuracy] ${e.done}/${e.total} ${e.scene} ${e.policy} ${e.sparsity}`),
      });
      const errs = accuracyErrors(report.rows);
      const table = errs
        .map(
          (e) =>
            `${e.scene} ${e.policy} ${e.sparsity}: Δ ${e.deltaCombined.toExponential(3)} GT ${e.gtCombined.toFixed(5)}`,
        )
        .join('\n');
      console.info(`[accuracy]\n${table}`);
      const mean = (policy: AccuracyRun['policy'], sparsity: number, key: 'deltaCombined' | 'gtCombined') => {
        const v = errs.filter((e) => e.policy === policy && e.sparsity === sparsity).map((e) => e[key]);
        return v.reduce((a, b) => a + b, 0) / v.length;
      };
      for (const policy of ['uniform', 'hess', 'reverse'] as const) {
        const [lo, hi] = SPARSITIES.map((s) => mean(policy, s, 'deltaCombined'));
        // Dense best: every sparse policy really changed the output (Δ dense is 0 by definition).
        expect(lo, `${policy} ${SPARSITIES[0]}\n${table}`).toBeGreaterThan(MIN_DELTA);
        // More sparsity, more change.
        expect(hi, `${policy} ${SPARSITIES[1]} vs ${SPARSITIES[0]}\n${table}`).toBeGreaterThan(MORE_SPARSITY * lo);
        // And it stays close to dense: against the GT too.
        expect(hi, `${policy} ${SPARSITIES[1]}\n${table}`).toBeLessThan(MAX_DELTA);
        for (const s of SPARSITIES)
          expect(Math.abs(mean(policy, s, 'gtCombined') - 1), `${policy} ${s} GT\n${table}`).toBeLessThan(GT_BAND);
      }
      // Reverse worst, at ρ = 0.6 only: uniform < reverse held on 6/6 measured scenes (mean d −9e-5, sd 5e-5: the
      // 3-scene mean is 3 standard errors below 0). hess < reverse held on 5/6 (one tie), and at 0.9 the budget floor
      // (2 of ≈ 3 blocks per head) leaves the policies equal; hess ≤ uniform did not hold (accuracy.md says why).
      const o = orderingStats(
        errs,
        { policy: 'uniform', sparsity: SPARSITIES[0] },
        { policy: 'reverse', sparsity: SPARSITIES[0] },
        'deltaCombined',
      );
      expect(o.meanDiff, `uniform < reverse at ${SPARSITIES[0]}\n${table}`).toBeLessThan(0);
      for (const s of SPARSITIES) {
        for (const [a, b] of [
          ['hess', 'uniform'],
          ['uniform', 'reverse'],
        ] as const) {
          const o = orderingStats(errs, { policy: a, sparsity: s }, { policy: b, sparsity: s }, 'deltaCombined');
          console.info(
            `[accuracy] ${a} vs ${b} at ${s}: mean d ${o.meanDiff.toExponential(2)}, ${o.wins}/${o.n} scenes lower`,
          );
        }
      }
    });
  },
);
