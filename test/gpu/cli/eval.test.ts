import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCalibrationScenes } from '../../../src/calibrate/dataset/reader.js';
import { evaluate, type EvalReport } from '../../../src/evaluate/harness.js';
import { writeReport } from '../../../src/evaluate/report.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import { testDevice } from '../../helpers/gpu.js';
import { plantedHess } from '../../../bench/planted-hess.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { FIXTURE } from '../../../bench/vggt-tiny.js';
import { EVAL_TARGET, writeSyntheticScenes } from '../../cpu/cli/eval-scenes.js';

// The fixture has 3 frames × 40 tokens = 120 tokens: small blocks make block sparsity real here.
const BLOCKS = { queryBlock: 16, keyBlock: 8 };

describe('evaluate() on WebGPU: dense + uniform + hess at two sparsities', () => {
  let dir: string;
  let model: Vggt;
  afterAll(async () => {
    await model?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes the report with one dense row and a row per (policy, sparsity); dense is perfect, sparse rows report sparsity', async () => {
    const gpu = await testDevice();
    dir = await mkdtemp(join(tmpdir(), 'hess-eval-gpu-'));
    model = await Vggt.load(FIXTURE, { device: gpu });
    const seed = freshSeed('eval gpu');
    await writeSyntheticScenes(join(dir, 'data'), model, seed, 1, 3);
    const scenes = await readCalibrationScenes(join(dir, 'data'));
    const rand = rng(seed + 1);
    const hess = plantedHess(
      Array.from({ length: model.config.depth }, () =>
        Array.from({ length: model.config.numHeads }, () => 0.05 + rand()),
      ),
    );
    const report: EvalReport = await evaluate(model, scenes, {
      policies: ['dense', 'uniform', 'hess'],
      sparsities: [0.4, 0.7],
      hess,
      targetSize: EVAL_TARGET,
      ...BLOCKS,
      // few points: nearest-neighbour search between clouds that barely overlap (sparse runs of a random model) is slow
      maxPoints: 2000,
      onProgress: (e) =>
        console.info(
          `[eval gpu] ${e.done}/${e.total} ${e.policy} ${e.sparsity} ${(performance.now() / 1000).toFixed(0)} s`,
        ),
    });
    expect(report.rows.map((r) => [r.policy, r.sparsity])).toEqual([
      ['dense', 0],
      ['uniform', 0.4],
      ['uniform', 0.7],
      ['hess', 0.4],
      ['hess', 0.7],
    ]);
    const dense = report.rows[0];
    expect(dense.auc30).toBe(1);
    expect(dense.f1).toBe(1);
    expect(dense.chamfer! / dense.threshold!).toBeLessThan(1e-3);
    expect(dense.depthAbsRel!).toBeLessThan(1e-4);
    expect(dense.achievedSparsity).toBe(0);
    for (const r of report.rows.slice(1)) {
      expect(r.achievedSparsity!, `${r.policy} ${r.sparsity}`).toBeGreaterThan(0);
      expect(r.chamfer!).toBeGreaterThan(dense.chamfer!); // sparsity moved the prediction
      expect(r.auc30).not.toBeNull();
    }
    // more sparsity requested → more achieved
    for (const p of ['uniform', 'hess']) {
      const [a, b] = report.rows.filter((r) => r.policy === p);
      expect(b.achievedSparsity!).toBeGreaterThan(a.achievedSparsity!);
    }
    expect(report.options.hess).toBe('test');

    const files = await writeReport(report, join(dir, 'out'));
    for (const f of Object.values(files)) expect((await stat(f)).size).toBeGreaterThan(100);
    const json = JSON.parse(await readFile(files.json, 'utf8')) as EvalReport;
    expect(json.rows).toHaveLength(5);
    expect(json.summary).toHaveLength(5);
    const svg = await readFile(files.svg, 'utf8');
    expect(svg).toContain('>hess<');
    expect(svg).toContain('>uniform<');
    expect(svg.split('<polyline').length - 1).toBe(2 * (svg.split('<g>').length - 1));
  });
});
