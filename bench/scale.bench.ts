// bench-flags: --no-opt --liftoff-only
// VGGT-1B at full size on the CPU WebGPU adapter (lavapipe): a random checkpoint with exactly facebook/VGGT-1B's
// tensor names and shapes (bench/vggt1b-checkpoint.ts, generated once into build/scale/, 4.76 GB in F32) is loaded
// with Vggt.load and run at S = 1 and 2 at a reduced resolution. Records generation and load time, peak host RSS,
// JS heap + ArrayBuffers, GPU buffer bytes (createBuffer/destroy wrapped: on lavapipe "GPU" memory is host memory,
// so it is inside RSS too) and run time. Every stage is guarded: a failure is recorded (where and why) and the
// results written anyway.
// Knobs: HESS_SCALE_DTYPE=fp32,fp16 (compute types, each a load + runs: fp32 loads the F32 file, fp16 the F16 file
// unless HESS_SCALE_CHECKPOINT=f32|f16 says which), HESS_SCALE_HW=126 (square side, a multiple of 14),
// HESS_SCALE_S=1,2, HESS_SCALE_NAME=scale (the results file: a partial rerun can sit beside the full one).
import os from 'node:os';
import { createDevice } from '../src/gpu/device.js';
import { Vggt } from '../src/model/vggt/model.js';
import { type GpuBufferTracker, trackGpuBuffers } from './gpu-buffers.js';
import { writeResults } from './lib.js';
import { ensureVggt1b, generateVggt1b, vggt1bBytes, type CheckpointDtype } from './vggt1b-checkpoint.js';

if (process.argv[2] === '--generate') {
  // Child process of ensureVggt1b (plain V8 flags): write the checkpoint and exit.
  const r = await generateVggt1b(process.argv[3] as CheckpointDtype);
  console.log(`scale: wrote ${r.file} (${(r.bytes / 1e9).toFixed(2)} GB) in ${(r.ms / 1000).toFixed(1)} s`);
  process.exit(0);
}

const MiB = 2 ** 20;
const GB = 1e9;
const computeTypes = (process.env.HESS_SCALE_DTYPE ?? 'fp32,fp16').split(',') as ('fp32' | 'fp16')[];
const fileFor = (dtype: 'fp32' | 'fp16') =>
  (process.env.HESS_SCALE_CHECKPOINT?.toUpperCase() ?? (dtype === 'fp16' ? 'F16' : 'F32')) as CheckpointDtype;
const side = Number(process.env.HESS_SCALE_HW ?? 126);
const frames = (process.env.HESS_SCALE_S ?? '1,2').split(',').map(Number);
const resultsName = process.env.HESS_SCALE_NAME ?? 'scale';
const script = process.argv[1];

// ---- host memory: sampled every 250 ms between awaits, and the kernel's exact (monotonic) maxRSS.
interface Mem {
  rss: number;
  js: number;
}
let peak: Mem = { rss: 0, js: 0 };
const sample = () => {
  const m = process.memoryUsage();
  peak = { rss: Math.max(peak.rss, m.rss), js: Math.max(peak.js, m.heapUsed + m.arrayBuffers) };
};
// 250 ms: process.memoryUsage() is not free (at 20 ms it took 92 s of main-thread time in a 45-min run).
const timer = setInterval(sample, 250);
const resetPeak = () => {
  peak = { rss: 0, js: 0 };
  sample();
};
const maxRss = () => process.resourceUsage().maxRSS * 1024;

// ---- GPU buffers: live bytes of buffers created on our device (ORT's WebGPU EP shares it); zeros before the device.
let gpuMem: GpuBufferTracker = { live: 0, peak: 0, created: 0, resetPeak() {} };

const rows: (string | number)[][] = [];
const data: Record<string, unknown>[] = [];
const notes: string[] = [];
const failures: { stage: string; error: string }[] = [];
const fmtGB = (b: number) => (b / GB).toFixed(2);
let gpuName = 'none';

async function guarded<T>(stage: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    const err = e as Error & { code?: string };
    const msg = `${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`.slice(0, 600);
    console.error(`scale: ${stage} failed: ${msg}\n${err.stack ?? ''}`);
    failures.push({ stage, error: msg });
    return undefined;
  }
}

/** Write bench/results/scale.md + .json with what is measured so far (after every stage: a killed run keeps them). */
function save(): void {
  writeResults(resultsName, {
    title: 'VGGT-1B at full size (random weights) on the CPU WebGPU adapter',
    device: gpuName,
    tables: [
      {
        caption: `Generation, load and runs (${side}×${side} frames)`,
        header: [
          'stage',
          'S',
          'seconds',
          'peak RSS GB (sampled)',
          'RSS rise GB',
          'peak JS heap+ArrayBuffers GB',
          'maxRSS GB (process so far)',
          'peak GPU buffers GB',
          'result',
          'estimate GB (measured/est.)',
          'agrees within 15%',
        ],
        rows: rows.map((r) => [...r, ...Array(11 - r.length).fill('-')]),
      },
    ],
    notes: [
      `Checkpoint: bench/random-vggt.ts VGGT_1B, facebook/VGGT-1B's 1,403 tensor names and shapes without the track head (1,190,596,120 parameters; ${fmtGB(vggt1bBytes('F32'))} GB F32, ${fmtGB(vggt1bBytes('F16'))} GB F16), uniform ±1/√fan_in weights; generated once into build/scale/ by a child process without --no-opt. fp32 loads the F32 file, fp16 the F16 file (read without widening).`,
      "Peak RSS: process.memoryUsage() sampled every 250 ms between awaits (a long synchronous call is not sampled inside: maxRSS, the kernel's exact process-lifetime peak, bounds it). GPU buffers: live bytes of buffers created on the shared GPUDevice (createBuffer/destroy wrapped; ORT's buffer cache counts as live). On lavapipe GPU memory is host memory, so it is inside RSS as well.",
      `Host: ${os.cpus().length} CPU cores shared with other jobs (load average ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join('/')} at the end), ${fmtGB(os.totalmem())} GB RAM: absolute times say nothing about real GPUs.`,
      "Estimate: Vggt.estimate (the pre-flight the run checks) for the same S, H, W and dtype: peak GPU bytes, weights included, beside the measured peak of live GPU buffers. For the load, the estimate's 'weights' stage.",
      'Run time: Vggt.run wall time. "aggregator": in fp32 the time to enqueue its work (its layers stay on the GPU and nothing waits for them, so "heads" includes waiting for the aggregator\'s GPU work: the camera head reads its output back first); in fp16 "heads" also includes that wait (the fp16 heads read float16 layers on the GPU).',
      ...notes,
      ...failures.map((f) => `FAILED at ${f.stage}: ${f.error}`),
    ],
    data: { rows: data, failures },
  });
}

// 1. Checkpoints (generated once, reused).
for (const dtype of ['F32', 'F16'] as const) {
  resetPeak();
  const g = await guarded(`generate ${dtype}`, async () => ensureVggt1b(script, dtype));
  if (g) {
    rows.push([
      `checkpoint ${dtype}`,
      '-',
      g.generatedMs === null ? 'cached' : (g.generatedMs / 1000).toFixed(1),
      fmtGB(vggt1bBytes(dtype)),
      '-',
      '-',
      '-',
      '-',
      '-',
    ]);
    data.push({
      stage: 'generate',
      dtype,
      seconds: g.generatedMs === null ? null : g.generatedMs / 1000,
      bytes: vggt1bBytes(dtype),
    });
  }
}

// 2. Per compute type: load on the CPU WebGPU adapter, then runs of S frames of side×side.
const gpu = await guarded('createDevice', () => createDevice());
if (gpu) {
  gpuName = gpu.name;
  gpuMem = trackGpuBuffers(gpu);
}
for (const dtype of gpu ? computeTypes : []) {
  const loadDtype = fileFor(dtype);
  resetPeak();
  gpuMem.resetPeak();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const stamp = () =>
    `${((performance.now() - t0) / 1000).toFixed(1)} s, RSS ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB, GPU ${(gpuMem.live / MiB).toFixed(0)} MiB`;
  let lastStage = '';
  let weightBytes = 0;
  let nextMark = 0;
  const model = await guarded(`Vggt.load ${loadDtype} ${dtype}`, () =>
    Vggt.load(ensureVggt1b(script, loadDtype).dir, {
      device: gpu!,
      dtype,
      onProgress: (e) => {
        if (e.stage !== lastStage)
          console.log(`scale: ${dtype} load stage ${e.stage}${e.message ? ` (${e.message})` : ''} at ${stamp()}`);
        lastStage = e.stage;
        if (e.loaded !== undefined) weightBytes = e.loaded;
        if (e.loaded !== undefined && e.loaded >= nextMark) {
          // every 0.5 GB: where load time goes
          console.log(`scale: ${dtype} load ${(e.loaded / GB).toFixed(2)} GB read at ${stamp()}`);
          nextMark += 0.5 * GB;
        }
      },
    }),
  );
  sample();
  const loadMs = performance.now() - t0;
  if (!model)
    notes.push(
      `${dtype}: Vggt.load stopped at stage '${lastStage}' after ${(loadMs / 1000).toFixed(1)} s with ${fmtGB(weightBytes)} GB of weights read, ${fmtGB(gpuMem.live)} GB of GPU buffers live, peak RSS ${fmtGB(peak.rss)} GB.`,
    );
  const estW = model?.estimate({ S: 1, H: side, W: side }).stages.find((x) => x.stage === 'weights')?.gpuBytes;
  rows.push([
    `load ${dtype} (${loadDtype} file)`,
    '-',
    (loadMs / 1000).toFixed(1),
    fmtGB(peak.rss),
    fmtGB(peak.rss - rss0),
    fmtGB(peak.js),
    fmtGB(maxRss()),
    fmtGB(gpuMem.peak),
    model ? 'ok' : 'failed',
    estW ? `${fmtGB(estW)} (${(gpuMem.peak / estW).toFixed(2)})` : '-',
    estW ? (Math.abs(gpuMem.peak / estW - 1) <= 0.15 ? 'yes' : 'no') : '-',
  ]);
  data.push({
    stage: 'load',
    dtype,
    file: loadDtype,
    ms: loadMs,
    peakRss: peak.rss,
    rssDelta: peak.rss - rss0,
    peakJs: peak.js,
    maxRss: maxRss(),
    gpuPeak: gpuMem.peak,
    gpuLiveAfter: gpuMem.live,
    gpuCreated: gpuMem.created,
    estimate: estW ?? null,
    ok: !!model,
  });
  save();
  if (!model) continue;
  for (const S of frames) {
    resetPeak();
    gpuMem.resetPeak();
    const rss1 = process.memoryUsage().rss;
    const gpu0 = gpuMem.live;
    const images = {
      data: new Float32Array(S * 3 * side * side).map((_, i) => ((i * 2654435761) >>> 0) / 2 ** 32),
      S,
      H: side,
      W: side,
    };
    console.log(
      `scale: ${dtype} run S=${S} ${side}×${side} starts, RSS ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB`,
    );
    const t1 = performance.now();
    const r = await guarded(`${dtype} run S=${S} ${side}×${side}`, () => model.run(images));
    const ms = performance.now() - t1;
    sample();
    console.log(
      `scale: ${dtype} run S=${S} done in ${(ms / 1000).toFixed(1)} s, GPU peak ${(gpuMem.peak / MiB).toFixed(0)} MiB`,
    );
    const finite = r ? [r.poseEnc, r.depth, r.worldPoints].every((a) => a?.every(Number.isFinite)) : false;
    // The memory pre-flight's peak GPU bytes (weights included) beside the measured peak of live buffers (ORT's
    // buffer cache counts as live), and whether they agree within 15%.
    const est = model.estimate({ S, H: side, W: side }).gpuBytes;
    const agree = Math.abs(gpuMem.peak / est - 1) <= 0.15;
    const t = r?.timings;
    rows.push([
      `run ${dtype}, S=${S}, ${side}×${side}${t ? ` (aggregator ${(t.aggregator / 1000).toFixed(0)} s, heads ${(t.heads / 1000).toFixed(0)} s)` : ''}`,
      S,
      (ms / 1000).toFixed(1),
      fmtGB(peak.rss),
      fmtGB(peak.rss - rss1),
      fmtGB(peak.js),
      fmtGB(maxRss()),
      `${fmtGB(gpuMem.peak)} (+${fmtGB(gpuMem.peak - gpu0)})`,
      r ? `ok${finite ? '' : ' (non-finite outputs!)'}` : 'failed',
      `${fmtGB(est)} (${(gpuMem.peak / est).toFixed(2)})`,
      agree ? 'yes' : 'no',
    ]);
    data.push({
      stage: 'run',
      dtype,
      S,
      side,
      ms,
      peakRss: peak.rss,
      rssDelta: peak.rss - rss1,
      peakJs: peak.js,
      maxRss: maxRss(),
      gpuPeak: gpuMem.peak,
      gpuDelta: gpuMem.peak - gpu0,
      ok: !!r,
      finite,
      timings: t,
      estimate: est,
      estimateRatio: gpuMem.peak / est,
      agreeWithin15: agree,
    });
    save();
    if (!r) break;
  }
  await guarded(`${dtype} dispose`, () => model.dispose());
  console.log(`scale: ${dtype} disposed, GPU live ${(gpuMem.live / MiB).toFixed(0)} MiB`);
}

clearInterval(timer);
save();
process.exit(0);
