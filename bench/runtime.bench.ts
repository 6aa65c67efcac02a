// bench-flags: --no-opt --liftoff-only
// VGGT runtime: end-to-end time and peak memory, (a) the tiny golden fixture on the wasm EP and on WebGPU (WGSL
// attention), (b) a mid-size random aggregator on WebGPU with ONNX vs WGSL dense global attention, (c) per-type vs
// per-block ORT sessions for the aggregator (the closest we have to "one whole-model graph"). All ratios are
// measured side by side in this one process. Knobs: HESS_BENCH_S="2,4" (mid-size frame counts), HESS_BENCH_REPS.
import os from 'node:os';
import { Vggt } from '../src/model/vggt/model.js';
import { Aggregator } from '../src/model/trunk/aggregator.js';
import { inferVggtConfig } from '../src/model/config.js';
import { bytesSource, openSafetensors } from '../src/model/source/safetensors.js';
import { createDevice, type HessDevice } from '../src/gpu/device.js';
import { randomVggtCheckpoint } from './random-vggt.js';
import { trackGpuBuffers } from './gpu-buffers.js';
import { lcg, timeMs, writeResults } from './lib.js';

const FIXTURE = `${process.cwd()}/../shared/fixtures/vggt-tiny`;
const frames = (process.env.HESS_BENCH_S ?? '2,4').split(',').map(Number);
const reps = Number(process.env.HESS_BENCH_REPS ?? 1);
const mid = { dim: 256, heads: 8, depth: 4, dinoDepth: 2 };
const [H, W] = [350, 518];
const MiB = 2 ** 20;
const loadStart = os.loadavg();

// ---- memory: process.memoryUsage() sampled every 10 ms (only between awaits: a long synchronous Wasm call is not
// sampled inside, hence also the kernel's maxRSS, which is exact but monotonic over the whole process).
interface Peak {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}
let peak: Peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
const sample = () => {
  const m = process.memoryUsage();
  peak = {
    rss: Math.max(peak.rss, m.rss),
    heapUsed: Math.max(peak.heapUsed, m.heapUsed),
    external: Math.max(peak.external, m.external),
    arrayBuffers: Math.max(peak.arrayBuffers, m.arrayBuffers),
  };
};
const timer = setInterval(sample, 10);
const resetPeak = () => {
  (globalThis as { gc?: () => void }).gc?.();
  peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  sample();
};

const rows: (string | number)[][] = [];
const data: Record<string, unknown>[] = [];
const r = lcg(11);

type Loaded = {
  run: (img: { data: Float32Array; S: number; H: number; W: number }) => Promise<unknown>;
  dispose: () => Promise<void>;
};

/**
 * Load once, warm up once (session initialisation, weight upload, shader compilation; at `warmS` frames, 1 for the
 * mid-size model to keep the bench within minutes on a software GPU), then time each frame count with `reps` runs. Memory peaks are reset before each frame count (the first one includes the load).
 */
async function measure(
  label: string,
  Ss: number[],
  h: number,
  w: number,
  gpu: HessDevice | null,
  load: () => Promise<Loaded>,
  warmS = Ss[0],
): Promise<number[]> {
  resetPeak();
  if (gpu) trackGpuBuffers(gpu).resetPeak();
  const t0 = performance.now();
  const m = await load();
  const loadMs = performance.now() - t0;
  const img = (S: number) => ({ data: new Float32Array(S * 3 * h * w).map(() => r() * 2 - 1), S, H: h, W: w });
  await m.run(img(warmS));
  const out: number[] = [];
  for (const [i, S] of Ss.entries()) {
    if (i > 0) {
      resetPeak();
      if (gpu) trackGpuBuffers(gpu).resetPeak();
    }
    const images = img(S);
    const ms = await timeMs(() => m.run(images), reps, 0);
    sample();
    const row = {
      label,
      S,
      loadMs: i === 0 ? loadMs : NaN,
      ms,
      rssMiB: peak.rss / MiB,
      heapMiB: peak.heapUsed / MiB,
      arrayBuffersMiB: peak.arrayBuffers / MiB,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      gpuPeakMiB: gpu ? trackGpuBuffers(gpu).peak / MiB : NaN,
    };
    rows.push([
      label,
      S,
      `${w}×${h}`,
      i === 0 ? loadMs : '-',
      ms,
      row.rssMiB,
      row.heapMiB,
      row.arrayBuffersMiB,
      row.maxRssMiB,
      gpu ? row.gpuPeakMiB : 'n/a',
    ]);
    data.push(row);
    console.log(rows[rows.length - 1].map((x) => (typeof x === 'number' ? x.toFixed(1) : x)).join(' | '));
    out.push(ms);
  }
  await m.dispose();
  return out;
}

const gpu = await createDevice();
// ---- GPU memory: live bytes of buffers created on our GPUDevice (ORT's WebGPU EP shares it), tracked by wrapping
// createBuffer/destroy (bench/gpu-buffers.ts). Textures are not counted (none are used) and ORT's internal buffer
// cache counts as live.
trackGpuBuffers(gpu);
const ratios: (string | number)[][] = [];

// (a) tiny fixture (3 frames 98×70 as in its README), wasm EP vs WebGPU + WGSL attention.
const [tinyWasm] = await measure('tiny fixture, wasm EP (ONNX attention)', [3], 70, 98, null, () =>
  Vggt.load(FIXTURE, { device: 'wasm' }),
);
const [tinyGpu] = await measure('tiny fixture, WebGPU (WGSL attention)', [3], 70, 98, gpu, () =>
  Vggt.load(FIXTURE, { device: gpu }),
);
ratios.push(['tiny fixture, full model', 'wasm EP / WebGPU', tinyWasm / tinyGpu]);

// (b) mid-size random aggregator, ONNX vs WGSL dense global attention on the same device.
const { bytes, config } = randomVggtCheckpoint(mid);
const onnx = await measure(
  'mid, WebGPU, ONNX dense attention',
  frames,
  H,
  W,
  gpu,
  () => Vggt.load(bytes, { device: gpu, config, attention: 'onnx' }),
  1,
);
const wgsl = await measure(
  'mid, WebGPU, WGSL dense attention',
  frames,
  H,
  W,
  gpu,
  () => Vggt.load(bytes, { device: gpu, config, attention: 'wgsl' }),
  1,
);
for (const [i, S] of frames.entries())
  ratios.push([`mid aggregator, S=${S}`, 'ONNX attention / WGSL attention', onnx[i] / wgsl[i]]);

// (c) aggregator only, per-type (7 shared sessions, weights as inputs) vs per-block sessions (weights as initializers).
const S0 = frames[0];
const aggLoad = (sessions: 'per-type' | 'per-block') => async () => {
  const st = await openSafetensors(bytesSource(bytes));
  const cfg = inferVggtConfig(st.tensors, config);
  const agg = await Aggregator.create(st, cfg, { target: { ep: 'webgpu', gpu }, sessions });
  return {
    run: (img: { data: Float32Array; S: number; H: number; W: number }) =>
      agg.run(img.data, img, { layers: [cfg.depth - 1] }),
    dispose: () => agg.dispose(),
  };
};
// (b)'s ONNX-attention model already runs the aggregator with per-type sessions (the default; the random checkpoint
// has no heads, so Vggt.run is the aggregator plus input checks): reuse its S0 time rather than spend another minute.
// HESS_BENCH_C=0 skips (c).
const doC = process.env.HESS_BENCH_C !== '0';
const perType = onnx[0];
const [perBlock] = doC
  ? await measure('mid aggregator only, sessions per-block (ONNX attention)', [S0], H, W, gpu, aggLoad('per-block'), 1)
  : [NaN];
ratios.push([`mid aggregator, S=${S0}`, 'per-type / per-block sessions', perType / perBlock]);

clearInterval(timer);
const loadEnd = os.loadavg();
writeResults('runtime', {
  title: 'VGGT runtime: end-to-end time and peak memory (one run, one device)',
  device: gpu.name,
  tables: [
    {
      caption: `Time and memory (median of ${reps} run(s) per frame count after one warm-up run per loaded model (S=3 for the tiny fixture, S=1 for the mid-size model); memory peaks over that row: load + warm-up + runs for the first frame count, the runs alone for later ones)`,
      header: [
        'model / path',
        'S',
        'frame',
        'load ms',
        'median run ms',
        'peak RSS MiB (sampled)',
        'peak heap MiB',
        'peak ArrayBuffers MiB',
        'maxRSS MiB (process so far)',
        'peak GPU buffers MiB',
      ],
      rows,
    },
    { caption: 'Ratios (same process, same device)', header: ['case', 'ratio', 'value'], rows: ratios },
  ],
  notes: [
    `Mid-size model: random weights, dim ${mid.dim}, ${mid.heads} heads (head dim ${mid.dim / mid.heads}), depth ${mid.depth}+${mid.depth}, DINO depth ${mid.dinoDepth}, aggregator only (no heads), ${W}×${H} frames (930 tokens/frame).`,
    'Tiny fixture: /work/shared/fixtures/vggt-tiny (dim 64, 24+24 blocks, all heads), 3 random frames 98×70.',
    `Host: ${os.cpus().length}-core CPU with a software Vulkan GPU (lavapipe): both the "GPU" and the wasm EP share the same 2 cores, so these ratios say little about real GPUs. Load average (1/5/15 min) at start ${loadStart.map((x) => x.toFixed(2)).join('/')}, at end ${loadEnd.map((x) => x.toFixed(2)).join('/')}: other processes were running, absolute times are noisy.`,
    `One timed run per configuration by default (HESS_BENCH_REPS=n for medians; the defaults keep the bench to ~6-7 min here). Single runs are noisy on this shared machine: the mid ONNX S=2 row took 30.6 s in a trial run and 42.4 s in another a few minutes later.`,
    "Peak RSS/heap/ArrayBuffers: process.memoryUsage() sampled every 10 ms between awaits (not inside a long synchronous Wasm call). maxRSS: the kernel's process-lifetime peak (exact, but monotonic, so a row includes everything before it).",
    'Peak GPU buffers: sum of sizes of live GPUBuffers created on the shared GPUDevice (createBuffer/destroy wrapped; ORT\'s WebGPU EP uses the same device, its buffer cache counts as live). Not measured for the wasm EP. lavapipe keeps "GPU" memory in host RAM, so it is also inside RSS here.',
    "(c) compares the aggregator's per-type sessions (7 sessions, weights fed as GPU-resident inputs; the time is (b)'s ONNX-attention row at the same S) with per-block sessions (one session per block, weights as initializers); a single whole-model ONNX graph is not implemented, this is the closest available comparison.",
  ],
  data: { rows: data, ratios, loadavg: { start: loadStart, end: loadEnd } },
});
process.exit(0);
