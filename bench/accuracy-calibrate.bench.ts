// HeSS calibration of the trained tiny VGGT (../shared/fixtures/vggt-synth) on its calibration scenes, wasm EP,
// timed per scene: the HeSS file the accuracy bench evaluates (HESS_ACC_HESS=bench/results/accuracy.hess.json)
// and what calibrating all 8 scenes or a subset costs. No bench-flags on purpose: this process needs no WebGPU,
// and V8's --no-opt (which dawn.node needs) makes the JS error terms and the wasm EP many times slower.
// HESS_ACC_CALIB: how many scenes (default all 8).
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { calibrate } from '../src/calibrate/calibrate.js';
import { readCalibrationScenes } from '../src/calibrate/dataset/reader.js';
import { renderHessHeatmap } from '../src/evaluate/heatmap.js';
import { writeResults } from './lib.js';

const F = resolve(process.cwd(), '../shared/fixtures/vggt-synth');
if (!existsSync(`${F}/calib`)) {
  console.log(`accuracy-calibrate: needs ${F}; skipped`);
  process.exit(0);
}
const n = Number(process.env.HESS_ACC_CALIB ?? 8);
const scenes = (await readCalibrationScenes(`${F}/calib`)).slice(0, n);
const t0 = performance.now();
let last = t0;
let openMs = 0;
const times: { scene: string; ms: number }[] = [];
const hess = await calibrate({ checkpoint: F }, scenes, {
  lambda: 0.5,
  description: `accuracy bench: calibrate on ../shared/fixtures/vggt-synth/calib (${scenes.map((s) => s.name).join(', ')}; wasm EP)`,
  onProgress: (e) => {
    const now = performance.now();
    if (e.stage === 'load' && times.length === 0 && openMs === 0) {
      openMs = now - t0;
      last = now;
    }
    if (e.stage === 'scene-done') {
      times.push({ scene: e.scene, ms: now - last });
      last = now;
      console.log(`[calibrate] ${e.scene} ${(times.at(-1)!.ms / 1000).toFixed(1)} s`);
    }
  },
});
const total = performance.now() - t0;
writeFileSync('bench/results/accuracy.hess.json', JSON.stringify(hess));
writeFileSync('bench/results/accuracy.hess.svg', renderHessHeatmap(hess));
const cum = (k: number) => openMs + times.slice(0, k).reduce((a, t) => a + t.ms, 0);
writeResults('accuracy-calibrate', {
  title: `HeSS calibration of vggt-synth: ${scenes.length} scenes (3 views at 98×70), wasm EP, cost per scene`,
  tables: [
    {
      caption: 'Per scene (forward + errors + two backward passes + Fisher), s',
      header: ['scene', 's'],
      rows: times.map((t) => [t.scene, (t.ms / 1000).toFixed(1)]),
    },
    {
      caption: 'Cost of calibrating the first k scenes (opening the model included), s',
      header: ['k', 's'],
      rows: [1, 2, 3, 4, 8].filter((k) => k <= times.length).map((k) => [k, (cum(k) / 1000).toFixed(1)]),
    },
  ],
  notes: [
    `Opening the model (VggtGradients: weights + forward sessions): ${(openMs / 1000).toFixed(1)} s; whole run ${(total / 1000).toFixed(1)} s.`,
    'HeSS file: bench/results/accuracy.hess.json, heat map accuracy.hess.svg.',
    'Node without --no-opt/--liftoff-only. The same calibration inside a --no-opt --liftoff-only process (the gpu test project, the accuracy bench) took 555 s for open + c000 and 325 s for c001 on this machine under load ~30.',
    'Shared 2-core VM under heavy load: times are inflated and only indicative.',
  ],
  data: { times, openMs, total, hess: { scores: hess.scores } },
});
