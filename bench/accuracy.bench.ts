// bench-flags: --no-opt --liftoff-only
// Accuracy of HeSS vs uniform vs reverse sparsity on the TRAINED tiny VGGT (../shared/fixtures/vggt-synth), the
// measurements behind test/gpu/evaluate/accuracy-regression.test.ts (issue 16, item 2).
//
// 1. HeSS scores: HESS_ACC_HESS, default bench/results/accuracy.hess.json, made by the accuracy-calibrate bench
//    (`npm run bench -- accuracy-calibrate accuracy` runs both).
// 2. Render HESS_ACC_SCENES seeded scenes of the training kind with the project's own renderer
//    (src/evaluate/synthetic-scene.ts) at HESS_ACC_VIEWS views of HESS_ACC_W×HESS_ACC_H, and evaluate dense,
//    uniform, hess and reverse at HESS_ACC_SPARSITIES (requested) with blocks HESS_ACC_QB/HESS_ACC_KB on WebGPU.
//    Per row: GT metrics (cameras, Chamfer, depth AbsRel) and the deviation from the dense run (Δ depth / points /
//    pose, relative RMS). The combined errors and the orderings with their spread are computed here.
// HESS_ACC_MODE=probe instead runs dense only at several (views, size) settings, to see how the model, trained on
// 3 views at 98×70, degrades with more views / pixels (bench/results/accuracy-probe.md).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readCalibrationScenes } from '../src/calibrate/dataset/reader.js';
import { parseHessFile, type HessFile } from '../src/hess/hess-file.js';
import { createDevice } from '../src/gpu/device.js';
import { evaluate, type EvalRow } from '../src/evaluate/harness.js';
import { accuracyErrors, orderingStats, type AccuracyRun } from '../src/evaluate/accuracy.js';
import { writeSyntheticScene } from '../src/evaluate/synthetic-dataset.js';
import { Vggt } from '../src/model/vggt/model.js';
import { writeResults } from './lib.js';

const F = resolve(process.cwd(), '../shared/fixtures/vggt-synth');
if (!existsSync(`${F}/model.safetensors`)) {
  console.log(`accuracy: needs ${F}; skipped`);
  process.exit(0);
}
const env = (k: string, d: string) => process.env[k] ?? d;
const mode = env('HESS_ACC_MODE', 'measure');
const nScenes = Number(env('HESS_ACC_SCENES', '6'));
const seed0 = Number(env('HESS_ACC_SEED0', '1000'));
// HESS_ACC_SEEDS=1005,1004: explicit seeds, evaluated in that order (two processes can split one seed range).
const seeds: number[] = process.env.HESS_ACC_SEEDS
  ? process.env.HESS_ACC_SEEDS.split(',').map(Number)
  : Array.from({ length: nScenes }, (_, i) => seed0 + i);
// HESS_ACC_OUT: results name (default accuracy → bench/results/accuracy.md|json, accuracy.report.json).
const out = env('HESS_ACC_OUT', 'accuracy');
const maxPoints = Number(env('HESS_ACC_POINTS', '5000'));
const t0 = performance.now();
const sec = () => ((performance.now() - t0) / 1000).toFixed(0);
const f = (v: number | null | undefined, d = 4) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');
const tmp = mkdtempSync(join(tmpdir(), 'hess-acc-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

async function renderScenes(tag: string, views: number, width: number, height: number): Promise<string> {
  const root = join(tmp, tag);
  for (const s of seeds) await writeSyntheticScene(root, `s${s}`, s, { views, width, height });
  return root;
}

// HESS_ACC_MERGE=a.report.json,b.report.json: write the results of several partial runs' rows (same settings).
const merge = process.env.HESS_ACC_MERGE?.split(',');
const gpu = merge ? null : await createDevice();

if (mode === 'probe') {
  // Dense only: how the model's errors move with views and size (it was trained on 3 views at 98×70).
  const settings = env('HESS_ACC_PROBE', '3x98x70,8x98x70,12x98x70,3x154x112')
    .split(',')
    .map((s) => s.split('x').map(Number));
  const model = await Vggt.load(F, { device: gpu! });
  const rows: (string | number)[][] = [];
  const data: unknown[] = [];
  for (const [views, width, height] of settings) {
    const scenes = await readCalibrationScenes(await renderScenes(`p${views}x${width}`, views, width, height));
    const rep = await evaluate(model, scenes, { policies: ['dense'], targetSize: width, maxPoints });
    const m = rep.summary[0];
    const tokens = views * ((width / 14) * (height / 14) + 5);
    const absRel = rep.rows.map((r) => r.depthAbsRel ?? NaN);
    rows.push([
      `${views} × ${width}×${height}`,
      tokens,
      f(m.depthAbsRel),
      `${f(Math.min(...absRel))} – ${f(Math.max(...absRel))}`,
      f(m.meanRRA, 2),
      f(m.meanRTA, 2),
      f(m.auc30, 3),
      f(m.chamfer),
      f(m.ms, 0),
    ]);
    data.push({ views, width, height, tokens, rows: rep.rows });
    console.log(`[probe ${sec()} s] ${rows.at(-1)!.join(' | ')}`);
  }
  await model.dispose();
  writeResults('accuracy-probe', {
    title: 'vggt-synth (trained on 3 views at 98×70): dense errors vs number of views and image size',
    device: gpu!.name,
    tables: [
      {
        caption: `Dense, mean over ${seeds.length} rendered scenes (seeds ${seeds[0]}…${seeds.at(-1)}), GT metrics`,
        header: [
          'views × size',
          'global tokens',
          'depth AbsRel',
          'AbsRel range',
          'mean RRA °',
          'mean RTA °',
          'AUC@30',
          'Chamfer',
          'ms',
        ],
        rows,
      },
    ],
    notes: [
      "Scenes: src/evaluate/synthetic-scene.ts (a port of the trainer's make_scenes): more views sample the same arc more densely.",
      'Alignment for Chamfer: Umeyama on the camera centres (the eval harness); depth AbsRel is per-frame median-scaled.',
      `Points per cloud: ${maxPoints}. Shared 2-core VM: ms only indicative.`,
    ],
    data,
  });
  process.exit(0);
}

// --- 1. the HeSS file: made by `npm run bench -- accuracy-calibrate` (a process without --no-opt: see there) ------
const hessPath = process.env.HESS_ACC_HESS ?? 'bench/results/accuracy.hess.json';
if (!existsSync(hessPath)) {
  console.log(
    `accuracy: no HeSS file at ${hessPath}: run \`npm run bench -- accuracy-calibrate\` first (or set HESS_ACC_HESS)`,
  );
  process.exit(1);
}
const hess: HessFile = parseHessFile(readFileSync(hessPath, 'utf8'));

// --- 2. evaluation --------------------------------------------------------------------------------------------
const views = Number(env('HESS_ACC_VIEWS', '8'));
const W = Number(env('HESS_ACC_W', '98'));
const H = Number(env('HESS_ACC_H', '70'));
const sparsities = env('HESS_ACC_SPARSITIES', '0.6,0.9').split(',').map(Number);
const queryBlock = Number(env('HESS_ACC_QB', '8'));
const keyBlock = Number(env('HESS_ACC_KB', '8'));
if (merge) {
  const seen = new Set<string>();
  const rows: EvalRow[] = [];
  let base: { rows: EvalRow[] } | null = null;
  for (const file of merge) {
    const rep = JSON.parse(readFileSync(file, 'utf8')) as { rows: EvalRow[] };
    base ??= rep;
    for (const r of rep.rows) {
      const k = `${r.scene}|${r.policy}|${r.sparsity}`;
      if (!seen.has(k)) {
        seen.add(k);
        rows.push(r);
      }
    }
  }
  const names = [...new Set(rows.map((r) => r.scene))].sort();
  // A scene counts only when all its runs are in (a partial run may stop mid-scene).
  const complete = names.filter((n) => rows.filter((r) => r.scene === n).length === 1 + 3 * sparsities.length);
  const kept = rows.filter((r) => complete.includes(r.scene));
  writeFileSync(`bench/results/${out}.report.json`, JSON.stringify({ ...base!, rows: kept }, null, 2));
  writeAll(
    { rows: kept },
    complete.map((name) => ({ name })),
  );
  process.exit(0);
}
const order = new Map(seeds.map((s, i) => [`s${s}`, i]));
const allScenes = (await readCalibrationScenes(await renderScenes('eval', views, W, H))).sort(
  (a, b) => order.get(a.name)! - order.get(b.name)!,
);
const model = await Vggt.load(F, { device: gpu! });
// Scene by scene, writing the results after each: on a loaded machine a partial run still leaves its numbers.
const allRows: EvalRow[] = [];
for (const scene of allScenes) {
  const one = await evaluate(model, [scene], {
    policies: ['dense', 'uniform', 'hess', 'reverse'],
    sparsities,
    hess,
    queryBlock,
    keyBlock,
    targetSize: W,
    maxPoints,
    onProgress: (e) => console.log(`[eval ${sec()} s] ${scene.name} ${e.done}/${e.total} ${e.policy} ${e.sparsity}`),
  });
  allRows.push(...one.rows);
  const report = { ...one, rows: allRows };
  writeFileSync(`bench/results/${out}.report.json`, JSON.stringify(report, null, 2));
  writeAll(
    report,
    allScenes.filter((s) => allRows.some((r) => r.scene === s.name)),
  );
}
await model.dispose();

function writeAll(report: { rows: EvalRow[] }, scenes: { name: string }[]): void {
  const runs: AccuracyRun[] = [
    { policy: 'dense', sparsity: 0 },
    ...sparsities.flatMap((s) => (['uniform', 'hess', 'reverse'] as const).map((p) => ({ policy: p, sparsity: s }))),
  ];
  const errs = accuracyErrors(report.rows);
  const label = (r: AccuracyRun) => (r.policy === 'dense' ? 'dense' : `${r.policy} ρ=${r.sparsity}`);
  const rowsOf = (r: AccuracyRun) =>
    report.rows.filter((x: EvalRow) => x.policy === r.policy && x.sparsity === r.sparsity);
  const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const sdOf = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + (b - meanOf(v)) ** 2, 0) / Math.max(1, v.length - 1));
  const summaryRows = runs.map((r) => {
    const rs = rowsOf(r);
    const e = errs.filter((x) => x.policy === r.policy && x.sparsity === r.sparsity);
    const col = (k: keyof EvalRow) => meanOf(rs.map((x) => x[k] as number));
    const gt = e.map((x) => x.gtCombined),
      dv = e.map((x) => x.deltaCombined);
    return [
      label(r),
      f(col('achievedSparsity'), 3),
      f(col('depthAbsRel')),
      f(col('chamfer')),
      f(col('meanRRA'), 2),
      f(col('meanRTA'), 2),
      `${f(meanOf(gt))} ± ${f(sdOf(gt))}`,
      f(col('deltaDepth')),
      f(col('deltaPoints')),
      f(col('deltaPose')),
      `${f(meanOf(dv))} ± ${f(sdOf(dv))}`,
    ];
  });
  const comparisons = sparsities.flatMap(
    (s) =>
      [
        { name: `dense < uniform ρ=${s}`, a: { policy: 'dense', sparsity: 0 }, b: { policy: 'uniform', sparsity: s } },
        { name: `hess ≤ uniform ρ=${s}`, a: { policy: 'hess', sparsity: s }, b: { policy: 'uniform', sparsity: s } },
        {
          name: `uniform < reverse ρ=${s}`,
          a: { policy: 'uniform', sparsity: s },
          b: { policy: 'reverse', sparsity: s },
        },
        { name: `hess < reverse ρ=${s}`, a: { policy: 'hess', sparsity: s }, b: { policy: 'reverse', sparsity: s } },
      ] as const,
  );
  const ord = comparisons.flatMap((c) =>
    (['gtCombined', 'deltaCombined'] as const).map((k) => ({
      ...orderingStats(errs, c.a, c.b, k),
      name: c.name,
      error: k,
    })),
  );
  const perScene = report.rows.map((r) => {
    const e = errs.find((x) => x.scene === r.scene && x.policy === r.policy && x.sparsity === r.sparsity)!;
    return [
      r.scene,
      label(r),
      f(r.achievedSparsity, 3),
      f(r.depthAbsRel),
      f(r.chamfer),
      f(r.meanRRA, 2),
      f(r.meanRTA, 2),
      f(e.gtCombined),
      f(e.deltaCombined),
    ];
  });
  const tokens = views * ((W / 14) * (H / 14) + 5);
  writeResults(out, {
    title: `HeSS vs uniform vs reverse on the trained tiny VGGT: ${scenes.length} rendered scenes, ${views} views at ${W}×${H} (${tokens} tokens)`,
    device: gpu?.name ?? 'mesa llvmpipe (lavapipe), merged runs',
    tables: [
      {
        caption: `Mean over ${scenes.length} scenes (± sample std over scenes); combined errors defined in the notes`,
        header: [
          'run',
          'achieved ρ',
          'depth AbsRel',
          'Chamfer',
          'mean RRA °',
          'mean RTA °',
          'GT combined',
          'Δ depth',
          'Δ points',
          'Δ pose',
          'Δ combined',
        ],
        rows: summaryRows,
      },
      {
        caption: 'Orderings: per-scene difference d = err(first) − err(second); a "holds" needs d < 0 on every scene',
        header: [
          'ordering',
          'error',
          'mean d',
          'sd d',
          'mean d / sd d',
          'max d',
          'scenes with d < 0',
          'relative margin (mean d / mean err second)',
        ],
        rows: ord.map((o) => [
          o.name,
          o.error,
          f(o.meanDiff, 5),
          f(o.sdDiff, 5),
          f(o.meanDiff / o.sdDiff, 2),
          f(o.maxDiff, 5),
          `${o.wins}/${o.n}`,
          f(o.relMargin, 3),
        ]),
      },
      {
        caption: 'Per scene',
        header: ['scene', 'run', 'achieved ρ', 'AbsRel', 'Chamfer', 'RRA °', 'RTA °', 'GT combined', 'Δ combined'],
        rows: perScene,
      },
    ],
    notes: [
      `HeSS: ${hessPath}: ${hess.calibration.description} (${hess.calibration.scenes} scenes, λ = ${hess.lambda}); its heat map next to it (.svg); calibration cost: accuracy-calibrate.md.`,
      `Eval scenes: renderSyntheticScene(seed) (scenes ${scenes.map((s) => s.name).join(', ')}) (src/evaluate/synthetic-scene.ts, the trainer's scene distribution), ${views} views at ${W}×${H}; blocks q${queryBlock}/k${keyBlock}; requested ρ ${sparsities.join(', ')}; ${maxPoints} points per cloud.`,
      'GT combined = ½·(mean RRA + mean RTA)/(same for dense) + ½·Chamfer/Chamfer_dense, per scene (λ = ½ as the HeSS score; dense = 1 by construction).',
      "Δ combined = ½·Δ pose + ½·Δ points: relative RMS difference of the pose encodings and world points to the dense run on the same scene (dense = 0): the error sparsity adds, without the model's own error.",
      'Deterministic: the scenes are seeded and the model fixed; the spread is over scenes (seeds).',
      'Shared 2-core VM under load: times are inflated and only indicative.',
    ],
    data: { errs, orderings: ord, hessPath, sparsities, views, W, H, queryBlock, keyBlock, seeds },
  });
}
