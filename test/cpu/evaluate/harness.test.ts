import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCalibrationScenes } from '../../../src/calibrate/dataset/reader.js';
import type { CalibrationScene } from '../../../src/calibrate/dataset/format.js';
import { HessError } from '../../../src/errors.js';
import { evaluate, type EvalReport } from '../../../src/evaluate/harness.js';
import { writeReport } from '../../../src/evaluate/report.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import { freshSeed } from '../../helpers/random.js';
import { FIXTURE } from '../../../bench/vggt-tiny.js';
import { EVAL_TARGET, writeSyntheticScenes } from '../cli/eval-scenes.js';

// Dense on the wasm EP: GT is the model's own dense output (moved by a random similarity), so every metric
// must be perfect after alignment.
describe('evaluate() on a synthetic scene set (wasm EP, dense)', () => {
  let dir: string;
  let model: Vggt;
  let scenes: CalibrationScene[];
  let report: EvalReport;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hess-eval-'));
    model = await Vggt.load(FIXTURE, { device: 'wasm' });
    await writeSyntheticScenes(join(dir, 'data'), model, freshSeed('eval scenes (wasm)'), 2, 3);
    scenes = await readCalibrationScenes(join(dir, 'data'));
  });
  afterAll(async () => {
    await model?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('dense scores perfectly after the similarity alignment; report files are written', async () => {
    expect(scenes.map((s) => s.name)).toEqual(['scene_0', 'scene_1']);
    const progress: string[] = [];
    report = await evaluate(model, scenes, {
      policies: ['dense'],
      targetSize: EVAL_TARGET,
      onProgress: (e) => progress.push(`${e.scene}:${e.done}/${e.total}`),
    });
    expect(progress).toEqual(['scene_0:1/2', 'scene_1:2/2']);
    expect(report.rows.map((r) => [r.scene, r.policy, r.sparsity])).toEqual([
      ['scene_0', 'dense', 0],
      ['scene_1', 'dense', 0],
    ]);
    for (const r of report.rows) {
      expect(r.frames).toBe(3);
      expect(r.auc30).toBe(1);
      expect(r.rra15).toBe(1);
      expect(r.meanRRA!).toBeLessThan(1e-3);
      expect(r.alignment).toBe('umeyama');
      // Chamfer relative to the F1 threshold (1% of the GT box diagonal): float32 noise only.
      expect(r.chamfer! / r.threshold!).toBeLessThan(1e-3);
      expect(r.f1).toBe(1);
      expect(r.depthAbsRel!).toBeLessThan(1e-5);
      expect(r.achievedSparsity).toBe(0);
      expect(r.ms).toBeGreaterThan(0);
    }
    expect(report.summary).toHaveLength(1);
    expect(report.summary[0].scenes).toBe(2);
    expect(report.summary[0].auc30).toBe(1);

    const files = await writeReport(report, join(dir, 'out'));
    const json = JSON.parse(await readFile(files.json, 'utf8'));
    expect(json.rows).toHaveLength(2);
    const md = await readFile(files.md, 'utf8');
    expect(md).toMatch(/\| dense \| 0\.00 \| 0\.000 \| 1\.0000 \|/);
    expect(md).toContain('scene_1');
    const svg = await readFile(files.svg, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('Camera AUC@30');
    expect((await stat(files.svg)).size).toBeGreaterThan(500);
  });

  it('the GT similarity is undone: a wrong GT (shuffled cameras) is scored worse', async () => {
    // Swap frames 1 and 2 of the GT cameras: relative poses no longer match.
    const s = scenes[0];
    const swapped = {
      ...s,
      views: [
        s.views[0],
        { ...s.views[1], extrinsic: s.views[2].extrinsic },
        { ...s.views[2], extrinsic: s.views[1].extrinsic },
      ],
    };
    // Few points: nearest-neighbour search is slow between clouds that do not overlap.
    const r = await evaluate(model, [swapped], { policies: ['dense'], targetSize: EVAL_TARGET, maxPoints: 1500 });
    expect(r.rows[0].meanRRA!).toBeGreaterThan(1e-2);
    expect(r.rows[0].chamfer! / r.rows[0].threshold!).toBeGreaterThan(1e-2);
  });

  it('sparse policies on the wasm EP, unknown policies and no scenes are typed errors', async () => {
    const e1 = await evaluate(model, scenes, { policies: ['dense', 'uniform'] }).catch((e) => e);
    expect(e1).toBeInstanceOf(HessError);
    expect(e1.message).toMatch(/need the WGSL attention/);
    const e2 = await evaluate(model, scenes, { policies: ['bogus' as 'dense'] }).catch((e) => e);
    expect(e2.code).toBe('INVALID_ARGUMENT');
    const e3 = await evaluate(model, [], { policies: ['dense'] }).catch((e) => e);
    expect(e3.code).toBe('INVALID_ARGUMENT');
  });
});
