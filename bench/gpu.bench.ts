// bench-flags: --no-opt --liftoff-only
// One command for a real GPU (`npm run bench -- gpu`, ≤ 8 minutes on an H100/H200-class GPU with Node + Dawn):
// the full-size VGGT-1B checkpoint (random weights, exact names and shapes; bench/vggt1b-checkpoint.ts, F16,
// generated once into build/scale/) loaded in fp16 (fp32 where fp16 is refused: the results say which ran) and run
// at S = 8 and 32, 518×518 and 518×350, dense vs uniform vs hess at sparsity 0.73; then our dense WGSL attention vs
// onnxruntime-web's attention at 16 heads. Writes bench/results/gpu.md (+ .json) with the adapter's info, limits
// and features.
// Dry run (`npm run bench -- gpu --dry-run` or HESS_BENCH_DRY=1): the same code at tiny widths and sizes on the
// CPU adapter (lavapipe), writing bench/results/gpu-dry-run.md; it checks the plumbing, its times mean nothing.
// Budget: HESS_BENCH_BUDGET_S (default 450 s real, 240 s dry) for the whole bench. Each config gets a warm-up and
// up to HESS_BENCH_REPS (default 3; 2 dry) repetitions within its share of what is left; a config whose predicted
// warm-up does not fit is listed as "skipped: budget", never dropped.
import os from 'node:os';
import { encodeAttention, type AttentionBuffers } from '../src/attention/kernel.js';
import type { AttentionShape } from '../src/attention/layout.js';
import { fromF16, toF16 } from '../src/attention/f16.js';
import { HessError } from '../src/errors.js';
import { createStorageBuffer } from '../src/gpu/buffers.js';
import { createDevice, type HessDevice } from '../src/gpu/device.js';
import { createSession, loadOrt } from '../src/runtime/ort.js';
import { estimateMemory } from '../src/model/vggt/estimate.js';
import { Vggt, type VggtResult } from '../src/model/vggt/model.js';
import { plantedHess } from './planted-hess.js';
import { trackGpuBuffers } from './gpu-buffers.js';
import { gpuDone, lcg, writeResults } from './lib.js';
import { ortMatmulGraph, ortMhaGraph, type OrtAttentionDType } from './ort-attention.js';
import { writeRandomVggt, type RandomVggtShape } from './random-vggt.js';
import { ensureVggt1b, generateVggt1b, vggt1bBytes, type CheckpointDtype } from './vggt1b-checkpoint.js';

const args = process.argv.slice(2);
if (args[0] === '--generate') {
  // Child process of ensureVggt1b (plain V8 flags): write the checkpoint and exit.
  const r = await generateVggt1b(args[1] as CheckpointDtype);
  console.log(`gpu: wrote ${r.file} (${(r.bytes / 1e9).toFixed(2)} GB) in ${(r.ms / 1000).toFixed(1)} s`);
  process.exit(0);
}

const dry = process.env.HESS_BENCH_DRY === '1' || args.includes('--dry-run');
const t0 = performance.now();
const budgetMs = Number(process.env.HESS_BENCH_BUDGET_S ?? (dry ? 240 : 450)) * 1000;
const REPS = Number(process.env.HESS_BENCH_REPS ?? (dry ? 2 : 3));
const SPARSITY = 0.73;
const GB = 1e9;
const elapsed = () => performance.now() - t0;
let stage = 'start';
const log = (m: string) => {
  stage = m.trim();
  console.log(`gpu${dry ? ' (dry run)' : ''} ${(elapsed() / 1000).toFixed(1)} s: ${m}`);
};
/** Resolves to 'timeout' after `ms` if `p` has not settled by then (a hung GPU call is abandoned, not cancelled). */
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> =>
  Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Math.max(0, ms)).unref())]);

// Tiny stand-in for the dry run: VGGT's layout (24 blocks: the DPT heads read layers 4, 11, 17, 23) at width 32.
const DRY_SHAPE: RandomVggtShape = {
  dim: 32,
  heads: 2,
  depth: 24,
  dinoDepth: 1,
  predictionHeads: {
    cameraHeads: 2,
    trunkDepth: 1,
    features: 16,
    outChannels: [8, 16, 32, 32],
    depthHead: true,
    pointHead: true,
  },
};
const frames = dry ? [2, 3] : [8, 32];
const sizes: [number, number][] = dry
  ? [
      [56, 56],
      [56, 42],
    ]
  : [
      [518, 518],
      [350, 518],
    ]; // [H, W]
const policies = ['dense', 'uniform', 'hess'] as const;
const attnShapes: AttentionShape[] = dry
  ? [{ N: 128, H: 16, D: 64 }]
  : [
      { N: 2748, H: 16, D: 64 },
      { N: 10992, H: 16, D: 64 },
    ]; // global attention of S = 2 and 8 frames at 518²
// Time kept back for the attention section (it runs after the model configs).
const attnReserveMs = Math.min(dry ? 40_000 : 75_000, budgetMs / 4);

const notes: string[] = [];
// Results, filled as stages finish.
const setupRows: (string | number)[][] = [];
const runRows: (string | number)[][] = [];
const runData: Record<string, unknown>[] = [];
const attnRows: (string | number)[][] = [];
const attnData: Record<string, unknown>[] = [];
let dtype: 'fp16' | 'fp32' = 'fp16';
let hessShape = '';
// Watchdog: the promise is "done within the budget"; if a stage hangs (a GPU call that never returns), write what
// finished, say where it stopped, and exit.
setTimeout(() => {
  notes.push(
    `WATCHDOG: stopped at ${(elapsed() / 1000).toFixed(0)} s, ${((elapsed() - budgetMs) / 1000).toFixed(0)} s past the budget, during "${stage}"; later stages did not run.`,
  );
  finish();
  process.exit(2);
}, budgetMs + 20_000).unref();
const failures: { stage: string; error: string }[] = [];
async function guarded<T>(stage: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    const err = e as Error & { code?: string };
    const msg = `${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`.slice(0, 400);
    console.error(`gpu: ${stage} failed: ${msg}\n${err.stack ?? ''}`);
    failures.push({ stage, error: msg });
    return undefined;
  }
}

/** A results row `width` cells wide: `lead`, then '-' for what was not measured, then `note`. */
const blankRow = (width: number, lead: (string | number)[], note: string): (string | number)[] => [
  ...lead,
  ...Array<string>(width - lead.length - 1).fill('-'),
  note,
];

/**
 * One measured stage with its row in a results table. With `skip` (the reason) it only writes the row with that
 * note. Otherwise it logs `log` (if any) and runs `fn` guarded: a failure writes the row as "failed (see notes)",
 * and with `timeoutMs` a call still pending by then is abandoned and written as "timed out (abandoned)".
 */
async function runStage<T>(
  name: string,
  o: { row: (note: string) => void; skip?: string; log?: string; timeoutMs?: number },
  fn: () => Promise<T>,
): Promise<T | 'timeout' | undefined> {
  if (o.skip) {
    o.row(o.skip);
    return undefined;
  }
  if (o.log) log(o.log);
  const run = guarded(name, fn);
  const r = o.timeoutMs === undefined ? await run : await within(run, o.timeoutMs);
  if (r === 'timeout') o.row('timed out (abandoned)');
  else if (r === undefined) o.row('failed (see notes)');
  return r;
}

// ---- Device, and what it is.
const gpu = await createDevice({ powerPreference: 'high-performance' }).catch((e: unknown) => {
  console.error(
    `gpu: no WebGPU adapter (${(e as Error).message}). ${dry ? '' : 'Without a GPU, check the bench with `npm run bench -- gpu --dry-run`.'}`,
  );
  process.exit(1);
});
const software = /llvmpipe|lavapipe|swiftshader|software/i.test(
  `${gpu.name} ${gpu.adapterInfo.description} ${gpu.adapterInfo.architecture}`,
);
if (software && !dry && process.env.HESS_BENCH_ALLOW_SOFTWARE !== '1') {
  console.error(
    `gpu: the adapter is ${gpu.name}, a software rasterizer, not a real GPU. bench/results/gpu.md is only written on a real GPU; ` +
      'run `npm run bench -- gpu --dry-run` here (or set HESS_BENCH_ALLOW_SOFTWARE=1 to force it).',
  );
  process.exit(1);
}
const LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxBindGroups',
] as const;
const limits = Object.fromEntries(LIMITS.map((k) => [k, gpu.limits[k]]));
const features = [...gpu.device.features].sort();
log(`device ${gpu.name}`);

// ---- GPU buffer bytes: createBuffer/destroy wrapped on the shared device (ORT's WebGPU EP uses it too).
const mem = trackGpuBuffers(gpu);

// ---- 1. Checkpoint (generated once, reused while its size matches) and load.
let dir: string | undefined;
if (dry) {
  const d = `${process.cwd()}/build/gpu-dry/vggt-tiny-f16`;
  const g = await guarded('generate', async () => {
    const s = performance.now();
    const r = await writeRandomVggt(d, DRY_SHAPE, { dtype: 'F16', seed: 1 });
    return { ...r, ms: performance.now() - s };
  });
  if (g) {
    dir = d;
    setupRows.push(['generate checkpoint (F16, tiny)', (g.ms / 1000).toFixed(1), (g.bytes / GB).toFixed(4)]);
  }
} else {
  const g = await guarded('generate', async () => ensureVggt1b(process.argv[1], 'F16'));
  if (g) {
    dir = g.dir;
    setupRows.push([
      'generate checkpoint (F16, VGGT-1B)',
      g.generatedMs === null ? 'cached (build/scale/)' : (g.generatedMs / 1000).toFixed(1),
      (vggt1bBytes('F16') / GB).toFixed(2),
    ]);
  }
}
if (dir) log(`checkpoint ${dir} (${setupRows.at(-1)![1]} s)`);

let model: Vggt | undefined;
if (dir) {
  const ckpt = dir;
  const s = performance.now();
  model = await guarded('Vggt.load', async () => {
    try {
      return await Vggt.load(ckpt, { device: gpu, dtype: 'fp16' });
    } catch (e) {
      // Before fp16 compute exists, dtype 'fp16' is refused (INVALID_ARGUMENT); without shader-f16 it is NO_SHADER_F16.
      if (!(e instanceof HessError) || !['INVALID_ARGUMENT', 'NO_SHADER_F16'].includes(e.code)) throw e;
      dtype = 'fp32';
      notes.push(
        `dtype: fp16 was refused (${e.code}: ${e.message}), so the model runs in fp32 (F16 weights widened on load).`,
      );
      log(`fp16 refused (${e.code}); loading fp32`);
      return await Vggt.load(ckpt, { device: gpu, dtype: 'fp32' });
    }
  });
  const ms = performance.now() - s;
  setupRows.push([
    `Vggt.load (${dtype} compute)`,
    (ms / 1000).toFixed(1),
    `${(mem.live / GB).toFixed(2)} GB of GPU buffers live`,
  ]);
  log(`loaded in ${(ms / 1000).toFixed(1)} s (${dtype})`);
}
if (dtype === 'fp16' && model) notes.push("dtype: fp16 compute (Vggt.load accepted dtype 'fp16').");

// ---- 2. Model configs: S × size × policy, each warm-up + reps within its share of the budget.
interface Config {
  S: number;
  H: number;
  W: number;
  policy: (typeof policies)[number];
}
/** Columns of the model-runs table. */
const RUN_COLS = 14;
const configs: Config[] = frames.flatMap((S) =>
  sizes.flatMap(([H, W]) => policies.map((policy) => ({ S, H, W, policy }))),
);
const depth = model?.config.depth ?? 1;
const heads = model?.config.numHeads ?? 1;
// Synthetic HeSS scores (a real HeSS file needs a calibrated real checkpoint): a few heads dominate per layer.
const rh = lcg(7);
hessShape = `${depth} layers × ${heads} heads`;
const hess = plantedHess(
  Array.from({ length: depth }, () => Array.from({ length: heads }, () => 0.05 + rh() ** 3)),
  'synthetic (bench/gpu.bench.ts)',
);

const denseMs = new Map<string, number>();
const runBy = new Map<number, number>(); // S → longest median run ms seen at the first size (what predicts the next S)
const modelDeadline = budgetMs - attnReserveMs;
const median = (t: number[]) => [...t].sort((a, b) => a - b)[Math.floor(t.length / 2)];

/**
 * Predicted warm-up of a config: twice its predicted run time (a new image size builds new sessions), the run time
 * taken from the same S, or from the largest smaller S scaled by (S ratio)² (global attention is quadratic in S:
 * an over-estimate, which keeps the 8-minute promise). 0 (always run) when nothing has been measured yet. The very
 * first warm-up (shader compilation, session building) is not used: it says nothing about S.
 */
function predictWarmMs(S: number, H: number, W: number): number {
  const area = (H * W) / (sizes[0][0] * sizes[0][1]);
  if (runBy.has(S)) return 2 * runBy.get(S)! * area;
  const smaller = [...runBy.keys()].filter((s) => s < S).sort((a, b) => b - a)[0];
  return smaller === undefined ? 0 : 2 * runBy.get(smaller)! * (S / smaller) ** 2 * area;
}

for (const [i, c] of configs.entries()) {
  const tag = `S=${c.S} ${c.H}×${c.W} ${c.policy}`;
  const sparsity = c.policy === 'dense' ? 0 : SPARSITY;
  const rowHead = [String(c.S), `${c.H}×${c.W}`, c.policy, c.policy === 'dense' ? '-' : sparsity];
  if (!model) {
    runRows.push(blankRow(RUN_COLS, rowHead, 'not run: no model'));
    continue;
  }
  const predicted = predictWarmMs(c.S, c.H, c.W);
  if (elapsed() + predicted > modelDeadline) {
    runRows.push(
      blankRow(
        RUN_COLS,
        rowHead,
        `skipped: budget (predicted warm-up ${(predicted / 1000).toFixed(0)} s, ${(Math.max(0, modelDeadline - elapsed()) / 1000).toFixed(0)} s left)`,
      ),
    );
    runData.push({ ...c, skipped: 'budget', predictedWarmMs: predicted });
    log(`${tag}: skipped: budget`);
    continue;
  }
  const share = (modelDeadline - elapsed()) / (configs.length - i);
  const cfgEnd = elapsed() + share;
  const r = lcg(1000 + c.S);
  const images = { data: new Float32Array(c.S * 3 * c.H * c.W).map(() => r()), S: c.S, H: c.H, W: c.W };
  const opts =
    c.policy === 'dense'
      ? { policy: c.policy }
      : c.policy === 'hess'
        ? { policy: c.policy, sparsity, hess }
        : { policy: c.policy, sparsity };
  const gpu0 = mem.live;
  mem.resetPeak();
  let last: VggtResult | undefined;
  const run = async () => {
    last = await model!.run(images, opts);
    await gpuDone(gpu.device);
  };
  const ws = performance.now();
  const ok = await runStage(
    `run ${tag} (warm-up)`,
    {
      row: (note) =>
        runRows.push(blankRow(RUN_COLS, [...rowHead, '-', ((performance.now() - ws) / 1000).toFixed(1)], note)),
    },
    async () => {
      await run();
      return true;
    },
  );
  const warmMs = performance.now() - ws;
  if (!ok) continue;
  const times: number[] = [];
  let cut = false;
  for (let k = 0; k < REPS; k++) {
    const expect = times.length ? Math.max(...times) : warmMs;
    if (elapsed() + expect > cfgEnd && times.length > 0) {
      cut = true;
      break;
    }
    if (elapsed() + expect > modelDeadline) {
      cut = true;
      break;
    }
    const s = performance.now();
    if (
      !(await guarded(`run ${tag} rep ${k + 1}`, async () => {
        await run();
        return true;
      }))
    )
      break;
    times.push(performance.now() - s);
  }
  const ms = times.length ? median(times) : warmMs;
  if (times.length) runBy.set(c.S, Math.max(runBy.get(c.S) ?? 0, ms / ((c.H * c.W) / (sizes[0][0] * sizes[0][1]))));
  const key = `${c.S} ${c.H}×${c.W}`;
  if (c.policy === 'dense') denseMs.set(key, ms);
  const dense = denseMs.get(key);
  const res = last!;
  const finite = [res.poseEnc, res.depth, res.worldPoints].every((a) => !a || a.every(Number.isFinite));
  const est = (() => {
    try {
      return estimateMemory(model!.config, {
        S: c.S,
        H: c.H,
        W: c.W,
        dtype,
        policy: c.policy,
        sparsity: sparsity || undefined,
      }).gpuBytes;
    } catch {
      return NaN;
    }
  })();
  const repsNote = `${times.length}/${REPS} reps${cut ? ' (rest skipped: budget)' : ''}${times.length ? '' : ', time is the warm-up'}`;
  runRows.push([
    ...rowHead,
    res.sparsity ? res.sparsity.achievedSparsity.toFixed(3) : '-',
    (warmMs / 1000).toFixed(1),
    ms,
    res.timings.aggregator,
    res.timings.heads,
    dense && c.policy !== 'dense' ? (dense / ms).toFixed(2) : '-',
    (mem.peak / GB).toFixed(2),
    `+${((mem.peak - gpu0) / GB).toFixed(2)}`,
    Number.isFinite(est) ? (est / GB).toFixed(2) : 'n/a',
    `${finite ? 'ok' : 'NON-FINITE outputs'}; ${repsNote}`,
  ]);
  runData.push({
    ...c,
    requestedSparsity: sparsity,
    achievedSparsity: res.sparsity?.achievedSparsity ?? null,
    warmMs,
    times,
    medianMs: ms,
    aggregatorMs: res.timings.aggregator,
    headsMs: res.timings.heads,
    speedupVsDense: dense && c.policy !== 'dense' ? dense / ms : null,
    gpuPeakBytes: mem.peak,
    gpuRunBytes: mem.peak - gpu0,
    estimateGpuBytes: Number.isFinite(est) ? est : null,
    finite,
    repsCut: cut,
    planMs: res.sparsity?.planMs ?? null,
  });
  log(`${tag}: warm-up ${(warmMs / 1000).toFixed(1)} s, median ${ms.toFixed(0)} ms (${repsNote})`);
}
if (model) await guarded('dispose', () => model!.dispose());
log('model runs done');

// ---- 3. Attention at 16 heads: our dense WGSL kernel vs onnxruntime-web's, on the same device and input buffers.
const ort = await loadOrt();
const ATT_REPS = dry ? 2 : 5;
async function timeBudget(fn: () => Promise<void>, end: number): Promise<{ min: number; reps: number; cut: boolean }> {
  const s = performance.now();
  await fn(); // warm-up (shader compile / session build)
  const warm = performance.now() - s;
  let min = Infinity;
  let reps = 0;
  for (; reps < ATT_REPS; reps++) {
    if (elapsed() + Math.min(warm, min) > end) break;
    const a = performance.now();
    await fn();
    min = Math.min(min, performance.now() - a);
  }
  return reps ? { min, reps, cut: reps < ATT_REPS } : { min: warm, reps: 0, cut: true };
}
const rel = (a: Float32Array, b: Float32Array) => {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
};
const readBack = async (gpu: HessDevice, buf: GPUBuffer, n: number, f16: boolean): Promise<Float32Array> => {
  const bytes = n * (f16 ? 2 : 4);
  const st = gpu.device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const enc = gpu.device.createCommandEncoder();
  enc.copyBufferToBuffer(buf, 0, st, 0, bytes);
  gpu.device.queue.submit([enc.finish()]);
  await st.mapAsync(GPUMapMode.READ);
  const raw = st.getMappedRange().slice(0);
  st.unmap();
  st.destroy();
  if (!f16) return new Float32Array(raw);
  return fromF16(new Uint16Array(raw));
};

/** Columns of the attention table. */
const ATT_COLS = 6;
/** The stage options of one attention implementation: its row, its log line, skipped past `end`. */
const attnStage = (tag: string, name: string, end: number) => ({
  row: (note: string) => attnRows.push(blankRow(ATT_COLS, [tag, name], note)),
  log: `  ${name}`,
  ...(elapsed() > end && { skip: 'skipped: budget' }),
});
const ra = lcg(4242);
for (const [si, shape] of attnShapes.entries()) {
  const { N, H, D } = shape;
  const tag = `N=${N} H=${H} D=${D}`;
  log(`attention ${tag}`);
  const n = N * H * D;
  const flop = 4 * N * N * H * D;
  const end = elapsed() + (budgetMs - elapsed()) / (attnShapes.length - si);
  const host = [0, 1, 2].map(() => Float32Array.from({ length: n }, () => ra() * 2 - 1));
  const variants: { dt: 'f32' | 'f16'; bufs: AttentionBuffers }[] = [
    {
      dt: 'f32',
      bufs: {
        q: createStorageBuffer(gpu.device, host[0]),
        k: createStorageBuffer(gpu.device, host[1]),
        v: createStorageBuffer(gpu.device, host[2]),
        o: createStorageBuffer(gpu.device, n * 4),
      },
    },
  ];
  if (gpu.features.shaderF16) {
    const h16 = host.map((x) => toF16(x));
    variants.push({
      dt: 'f16',
      bufs: {
        q: createStorageBuffer(gpu.device, h16[0]),
        k: createStorageBuffer(gpu.device, h16[1]),
        v: createStorageBuffer(gpu.device, h16[2]),
        o: createStorageBuffer(gpu.device, n * 2),
      },
    });
  } else attnRows.push(blankRow(ATT_COLS, [tag, 'hess dense WGSL flash, f16'], 'not run: no shader-f16'));
  const ref = new Map<string, { ms: number; out: Float32Array }>();
  for (const { dt, bufs } of variants) {
    const name = `hess dense WGSL flash, ${dt}`;
    const t = await runStage(`attention ${tag} ${name}`, attnStage(tag, name, end), () =>
      timeBudget(async () => {
        const enc = gpu.device.createCommandEncoder();
        encodeAttention(gpu, enc, bufs, shape, { dtype: dt });
        gpu.device.queue.submit([enc.finish()]);
        await gpuDone(gpu.device);
      }, end),
    );
    if (!t || t === 'timeout') continue;
    const out = await readBack(gpu, bufs.o, n, dt === 'f16');
    ref.set(dt, { ms: t.min, out });
    attnRows.push([
      tag,
      name,
      t.min,
      flop / t.min / 1e6,
      1,
      `${t.reps}/${ATT_REPS} reps${t.cut ? ' (budget)' : ''}${dt === 'f16' && ref.has('f32') ? `; rel. diff to f32 ${rel(out, ref.get('f32')!.out).toExponential(1)}` : ''}`,
    ]);
    attnData.push({ shape, impl: name, ms: t.min, reps: t.reps });
  }
  const ortVariants: [string, (s: AttentionShape, d: OrtAttentionDType) => Uint8Array, number[], 'f32' | 'f16'][] = [
    ['ORT MatMul/Softmax/MatMul, f32', ortMatmulGraph, [N, H * D], 'f32'],
    ['ORT com.microsoft MultiHeadAttention, f32', ortMhaGraph, [1, N, H * D], 'f32'],
    ['ORT com.microsoft MultiHeadAttention, f16', ortMhaGraph, [1, N, H * D], 'f16'],
  ];
  let hung = '';
  for (const [name, graph, dims, dt] of ortVariants) {
    const v = variants.find((x) => x.dt === dt);
    const ours = ref.get(dt);
    const ortType = dt === 'f16' ? 'float16' : 'float32';
    const skip = hung ? `not run: ${hung} hung` : !v ? 'not run: no shader-f16' : undefined;
    const done = await runStage(
      `attention ${tag} ${name}`,
      { ...attnStage(tag, name, end), ...(skip && { skip }), timeoutMs: Math.min(end - elapsed(), 30_000) + 10_000 },
      async () => {
        const s = await createSession(
          ort,
          graph(shape, ortType),
          { ep: 'webgpu', gpu },
          { preferredOutputLocation: 'gpu-buffer' },
        );
        try {
          const feeds = Object.fromEntries(
            (['q', 'k', 'v'] as const).map((nm) => [
              nm,
              ort.Tensor.fromGpuBuffer(v!.bufs[nm], { dataType: ortType, dims }), // v: skipped without it
            ]),
          );
          const t = await timeBudget(async () => {
            const o = await s.run(feeds);
            await gpuDone(gpu.device);
            o.o.dispose();
          }, end);
          const check = await s.run(feeds);
          // Read ORT's output buffer ourselves, the same way for both dtypes (Tensor.getData() of float16 yields bit
          // patterns in Node 20, which has no Float16Array).
          const out = await readBack(gpu, check.o.gpuBuffer as GPUBuffer, n, dt === 'f16');
          check.o.dispose();
          const err = ours ? rel(out, ours.out).toExponential(1) : 'n/a';
          attnRows.push([
            tag,
            name,
            t.min,
            flop / t.min / 1e6,
            ours ? t.min / ours.ms : '-',
            `${t.reps}/${ATT_REPS} reps${t.cut ? ' (budget)' : ''}; rel. diff to ours ${err}`,
          ]);
          attnData.push({
            shape,
            impl: name,
            ms: t.min,
            reps: t.reps,
            relDiffToOurs: ours ? rel(out, ours.out) : null,
          });
          return true;
        } finally {
          await s.release();
        }
      },
    );
    if (done === 'timeout') {
      hung = name;
      notes.push(
        `${tag}: ${name} did not return within its budget; it was abandoned and the ORT calls after it skipped (the GPU queue may still hold its work). On lavapipe ORT's float16 MultiHeadAttention never finishes: session.run returns, but the submitted work never completes (onSubmittedWorkDone and getData never resolve).`,
      );
    }
  }
  for (const { bufs } of variants) for (const b of Object.values(bufs)) b.destroy();
}

// ---- Results (also written by the watchdog when a stage hangs past the budget).
const name = dry ? 'gpu-dry-run' : 'gpu';
function finish(): void {
  const totalS = elapsed() / 1000;
  notes.push(
    dry
      ? `DRY RUN on ${gpu.name}: tiny widths (dim ${DRY_SHAPE.dim}, ${DRY_SHAPE.heads} heads, ${DRY_SHAPE.depth}+${DRY_SHAPE.depth} blocks, DINO ${DRY_SHAPE.dinoDepth}), S = ${frames.join(', ')}, ${sizes.map(([h, w]) => `${w}×${h}`).join(' and ')} frames, attention ${attnShapes.map((s) => `${s.N}x${s.H}x${s.D}`).join(', ')}. It checks that every stage of \`npm run bench -- gpu\` runs; the times mean nothing. Achieved sparsity is ~0 at these sizes: with 128-token query blocks every block holds some frame's special tokens, and those attend densely (src/mask/layout.ts).`
      : `Checkpoint: VGGT-1B's exact names and shapes (bench/random-vggt.ts VGGT_1B, no track head), random weights, F16 file ${(vggt1bBytes('F16') / GB).toFixed(2)} GB in build/scale/vggt1b-f16 (generated once, reused).`,
    `HeSS scores: SYNTHETIC (seeded planted heterogeneous per-head scores, ${hessShape}, 0.05 + u³): no real HeSS file exists for a random checkpoint, so 'hess' vs 'uniform' measures the cost of head-dependent budgets, not their accuracy.`,
    `Per config: one warm-up (session building and shader compilation for a new size) then up to ${REPS} repetitions, median reported; a config gets an equal share of the time left, and one whose predicted warm-up does not fit is marked "skipped: budget". Budget ${(budgetMs / 1000).toFixed(0)} s in all (HESS_BENCH_BUDGET_S); this run took ${totalS.toFixed(0)} s.`,
    "Peak GPU: bytes of buffers created on the shared GPUDevice (createBuffer/destroy wrapped; ORT's buffer cache counts as live), beside the pre-flight estimate (estimateMemory). Speed-up: dense median / policy median at the same S and size.",
    "Attention: minimum of the repetitions after one warm-up; submit + onSubmittedWorkDone, no readback in the timing; ORT reads our buffers through Tensor.fromGpuBuffer. The ORT MatMul graph holds [H, N, N] scores and fails where they pass the device's buffer limits.",
    `Host: ${os.cpus().length} CPU cores, ${(os.totalmem() / GB).toFixed(0)} GB RAM, load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join('/')} at the end.`,
    ...failures.map((f) => `FAILED at ${f.stage}: ${f.error}`),
  );
  writeResults(name, {
    title: dry
      ? 'GPU bench, DRY RUN at tiny sizes on the CPU adapter (not GPU results)'
      : 'VGGT-1B on a real GPU: dense vs uniform vs HeSS, and attention kernels',
    device: gpu.name,
    tables: [
      {
        caption: 'Adapter',
        header: ['field', 'value'],
        rows: [
          ['vendor', gpu.adapterInfo.vendor],
          ['architecture', gpu.adapterInfo.architecture],
          ['device', gpu.adapterInfo.device],
          ['description', gpu.adapterInfo.description],
          ['features', features.join(', ')],
          ...Object.entries(limits).map(([k, v]) => [k, String(v)]),
        ],
      },
      { caption: 'Setup', header: ['stage', 'seconds', 'size / state'], rows: setupRows },
      {
        caption: `Model runs (${dtype}; sparsity ${SPARSITY} for uniform and hess)`,
        header: [
          'S',
          'H×W',
          'policy',
          'requested sparsity',
          'achieved sparsity',
          'warm-up s',
          'median ms',
          'aggregator ms (last)',
          'heads ms (last)',
          'speed-up vs dense',
          'peak GPU GB',
          'run GPU GB',
          'estimate GB',
          'result',
        ],
        rows: runRows,
      },
      {
        caption: 'Attention at 16 heads: our dense WGSL kernel vs onnxruntime-web (same device, same input buffers)',
        header: ['shape', 'implementation', 'ms', 'GFLOP/s', 'time / ours (same dtype)', 'note'],
        rows: attnRows,
      },
    ],
    notes,
    data: {
      dry,
      dtype,
      budgetMs,
      totalMs: elapsed(),
      adapter: gpu.adapterInfo,
      name: gpu.name,
      limits,
      features,
      runs: runData,
      attention: attnData,
      failures,
    },
  });

  // One-screen summary.
  console.log(
    `\n== gpu bench summary (${dry ? 'DRY RUN, ' : ''}${gpu.name}, ${dtype}, ${totalS.toFixed(0)} s of ${(budgetMs / 1000).toFixed(0)} s) ==`,
  );
  for (const r of runRows)
    console.log(
      `  S=${String(r[0]).padEnd(3)} ${String(r[1]).padEnd(8)} ${String(r[2]).padEnd(8)} ${typeof r[6] === 'number' ? `${r[6].toFixed(0).padStart(8)} ms` : '       - ms'}  x${String(r[9]).padEnd(5)} ${String(r[13]).slice(0, 60)}`,
    );
  for (const r of attnRows)
    console.log(
      `  ${String(r[0]).padEnd(20)} ${String(r[1]).padEnd(44)} ${typeof r[2] === 'number' ? `${r[2].toFixed(2).padStart(9)} ms` : `${String(r[5]).slice(0, 30)}`}`,
    );
  if (failures.length) console.log(`  ${failures.length} failure(s): see the notes in bench/results/${name}.md`);
}
finish();
process.exit(0);
