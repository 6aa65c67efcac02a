// bench-flags: --no-opt --liftoff-only
// The HeSS paper's ablations on the trained tiny VGGT (../shared/fixtures/vggt-synth), through evaluate()'s
// options: camera-only / point-only / combined scores (λ = 1, 0, 0.5), water-filling with caps vs plain
// proportional budgets (at λ = 0.5), and requested vs achieved sparsity per layer; dense and uniform as references.
// HeSS scores: HESS_ABL_HESS, else bench/results/vggt-synth.hess.json (made by `hess-vggt calibrate` on the
// first calibration scenes; its `calibration.scenes` says how many). Eval scenes: the fixture's calib/ scenes the
// HeSS file was not calibrated on (HESS_ABL_SCENES of them, default 2), 98×70, 3 views: 120 tokens, blocks q16/k8.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readCalibrationScenes } from '../src/calibrate/dataset/reader.js';
import { parseHessFile } from '../src/hess/hess-file.js';
import { createDevice } from '../src/gpu/device.js';
import {
  evaluate,
  summarize,
  type EvalAllocation,
  type EvalRow,
  type EvalSummaryRow,
} from '../src/evaluate/harness.js';
import { renderHessHeatmap } from '../src/evaluate/heatmap.js';
import { variantLabel } from '../src/evaluate/report.js';
import { Vggt } from '../src/model/vggt/model.js';
import { writeResults } from './lib.js';

const F = resolve(process.cwd(), '../shared/fixtures/vggt-synth');
const hessPath = process.env.HESS_ABL_HESS ?? 'bench/results/vggt-synth.hess.json';
if (!existsSync(`${F}/model.safetensors`) || !existsSync(hessPath)) {
  console.log(
    `ablation: needs ${F} and a HeSS file at ${hessPath} (hess-vggt calibrate --model ${F} --data ${F}/calib --out ${hessPath}); skipped`,
  );
  process.exit(0);
}
const hess = parseHessFile(readFileSync(hessPath, 'utf8'));
writeFileSync(hessPath.replace(/\.json$/, '.svg'), renderHessHeatmap(hess));
const nScenes = Number(process.env.HESS_ABL_SCENES ?? 2);
const sparsity = Number(process.env.HESS_ABL_SPARSITY ?? 0.5);
const lambdas = [1, 0, 0.5];
const all = await readCalibrationScenes(`${F}/calib`);
// Held out: the CLI calibrates on the first `calibration.scenes` folders in name order.
const scenes = all.slice(hess.calibration.scenes, hess.calibration.scenes + nScenes);
if (scenes.length === 0) throw new Error('no held-out scene left');

const gpu = await createDevice();
const model = await Vggt.load(F, { device: gpu });
const t0 = performance.now();
const common = {
  sparsities: [sparsity],
  hess,
  queryBlock: 16,
  keyBlock: 8,
  targetSize: 98,
  onProgress: (e: { done: number; total: number; scene: string; policy: string }) =>
    console.log(`[${e.done}/${e.total}] ${e.scene} ${e.policy} (${((performance.now() - t0) / 1000).toFixed(0)} s)`),
};
// Two passes keep the run bounded (6 runs per scene, not the full λ × allocation × policy product): the λ sweep
// with water-filling, then proportional budgets at the default λ.
const sweep = await evaluate(model, scenes, {
  ...common,
  policies: ['dense', 'uniform', 'hess'],
  lambdas,
  allocations: ['waterfill'],
});
const prop = await evaluate(model, scenes, {
  ...common,
  policies: ['hess'],
  lambdas: [0.5],
  allocations: ['proportional'],
});
const rows = [...sweep.rows, ...prop.rows];
const report = {
  ...sweep,
  options: { ...sweep.options, allocations: ['waterfill', 'proportional'] as EvalAllocation[] },
  rows,
  summary: summarize(rows),
};
await model.dispose();
writeFileSync('bench/results/ablation.report.json', JSON.stringify(report, null, 2));

const f = (v: number | null | undefined, d = 4) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');
const groupRows = (s: EvalSummaryRow) =>
  report.rows.filter(
    (r: EvalRow) =>
      r.policy === s.policy && r.sparsity === s.sparsity && r.lambda === s.lambda && r.allocation === s.allocation,
  );
const range = (s: EvalSummaryRow, k: 'chamfer' | 'depthAbsRel' | 'auc30') => {
  const v = groupRows(s)
    .map((r) => r[k])
    .filter((x): x is number => typeof x === 'number');
  return v.length ? `${f(Math.min(...v))} – ${f(Math.max(...v))}` : '–';
};
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
const layered = report.summary.filter((s) => s.layers);
writeResults('ablation', {
  title: `HeSS ablations on vggt-synth (trained tiny VGGT): λ, allocation, per-layer sparsity; requested ρ = ${sparsity}`,
  device: gpu.name,
  tables: [
    {
      caption: `Mean over ${scenes.length} held-out scene(s) (${scenes.map((s) => s.name).join(', ')}), with the min – max over scenes`,
      header: [
        'run',
        'λ',
        'allocation',
        'achieved ρ',
        'AUC@30',
        'AUC@30 range',
        'Chamfer',
        'Chamfer range',
        'F1',
        'depth AbsRel',
        'AbsRel range',
        'ms',
      ],
      rows: report.summary.map((s) => [
        variantLabel(s, false),
        s.lambda === null || s.lambda === undefined ? '–' : s.lambda,
        s.allocation ?? '–',
        f(s.achievedSparsity, 3),
        f(s.auc30),
        range(s, 'auc30'),
        f(s.chamfer),
        range(s, 'chamfer'),
        f(s.f1, 3),
        f(s.depthAbsRel),
        range(s, 'depthAbsRel'),
        f(s.ms, 0),
      ]),
    },
    {
      caption: 'Requested vs budgeted vs achieved sparsity per global layer (scene means): budget ρ / achieved ρ',
      header: ['layer', ...layered.map((s) => variantLabel(s))],
      rows: [
        ...Array.from({ length: hess.layers }, (_, l) => [
          String(l),
          ...layered.map((s) => `${f(s.layers!.budget[l], 3)} / ${f(s.layers!.achieved[l], 3)}`),
        ]),
        ['mean', ...layered.map((s) => `${f(mean(s.layers!.budget), 3)} / ${f(mean(s.layers!.achieved), 3)}`)],
      ],
    },
    {
      caption: 'Per scene',
      header: ['scene', 'run', 'achieved ρ', 'AUC@30', 'Chamfer', 'F1', 'depth AbsRel'],
      rows: report.rows.map((r) => [
        r.scene,
        variantLabel(r),
        f(r.achievedSparsity, 3),
        f(r.auc30),
        f(r.chamfer),
        f(r.f1, 3),
        f(r.depthAbsRel),
      ]),
    },
  ],
  notes: [
    `HeSS file: ${hessPath} (${hess.calibration.description}; ${hess.calibration.scenes} calibration scene(s), λ = ${hess.lambda}); heat map next to it (.svg).`,
    `Eval: ${scenes.length} scene(s) not used for calibration, 98×70 × 3 views → 120 global-attention tokens, blocks q16/k8, requested ρ = ${sparsity}. ` +
      'Deterministic: no seed is involved (fixed scenes, fixed model); the spread shown is over scenes only.',
    'λ re-combines the two Fisher terms of the HeSS file (1 = camera only, 0 = point only). "proportional": budgets round(C·w) clamped to [2, K] without handing on what the cap cuts off.',
    'Budget ρ: 1 − granted candidate key blocks / (heads·K). Achieved ρ: 1 − attended blocks / all blocks (special-token blocks and dense special-token query blocks included).',
    'With so few scenes and tokens, differences smaller than the per-scene range are not evidence either way.',
    'Shared 2-core VM under heavy load: times (ms) are inflated and only indicative.',
  ],
});
