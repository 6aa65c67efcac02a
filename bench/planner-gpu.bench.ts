// bench-flags: --no-opt --liftoff-only
// The WGSL mask builder (pool + score + top-c on the GPU) at VGGT-1B shapes, one layer (16 heads), next to the Wasm
// SIMD builder in the same run. Note: the Wasm numbers here run under --no-opt --liftoff-only (needed by dawn.node),
// so use bench/results/planner.md for CPU-side ratios.
import os from 'node:os';
import { gpuDone, timeMs, writeResults } from './lib.js';
import { createDevice } from '../src/gpu/device.js';
import { createStorageBuffer, readBuffer } from '../src/gpu/buffers.js';
import { encodeMaskBuild } from '../src/mask/gpu-mask.js';
import { buildMasks } from '../src/mask/wasm.js';
import { maskLayout } from '../src/mask/layout.js';
import { allocateBudgets } from '../src/allocate/index.js';
import { PlannerWasm } from '../src/wasm/planner-module.js';

const HEADS = 16,
  D = 64,
  P = 1374,
  RHO = 0.9;
const sizes = (process.env.HESS_BENCH_S ?? '8,32').split(',').map(Number);
const gpu = await createDevice();
const wasm = await PlannerWasm.load('simd');
let seed = 7;
const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
const rows: (string | number)[][] = [];
for (const S of sizes) {
  const L = maskLayout(S, P);
  const scores = new Float64Array(HEADS).map(() => rand() + 0.01);
  const budgets = allocateBudgets(wasm, scores, HEADS, { keyBlocks: L.candidateKeyBlocks, sparsity: RHO });
  const q = new Float32Array(L.N * HEADS * D).map(() => rand() * 2 - 1);
  const k = new Float32Array(L.N * HEADS * D).map(() => rand() * 2 - 1);
  const qb = createStorageBuffer(gpu.device, q),
    kb = createStorageBuffer(gpu.device, k);
  const inp = { q: qb, k: kb, S, P, heads: HEADS, headDim: D, budgets };
  const run = async (readback: boolean) => {
    const enc = gpu.device.createCommandEncoder();
    const m = encodeMaskBuild(gpu, enc, inp);
    gpu.device.queue.submit([enc.finish()]);
    if (readback) await readBuffer(gpu.device, m.indices, m.offsets[m.offsets.length - 1] * 4);
    else await gpuDone(gpu.device);
    m.destroy();
  };
  // Check once that the GPU masks are the Wasm ones at this size.
  const enc = gpu.device.createCommandEncoder();
  const m = encodeMaskBuild(gpu, enc, inp);
  gpu.device.queue.submit([enc.finish()]);
  const got = new Uint32Array(await readBuffer(gpu.device, m.indices, m.offsets[m.offsets.length - 1] * 4));
  m.destroy();
  const t0 = performance.now();
  const want = buildMasks(wasm, { q, k, S, P, heads: HEADS, headDim: D, budgets });
  const tw = performance.now() - t0;
  const same = got.length === want.indices.length && got.every((x, i) => x === want.indices[i]);
  const reps = S >= 32 ? 2 : 3;
  const tg = await timeMs(() => run(false), reps, 1);
  const tr = await timeMs(() => run(true), reps, 0);
  rows.push([String(S), String(L.N), tg, tr, tw, same ? 'yes' : 'NO']);
  qb.destroy();
  kb.destroy();
  console.log(`S=${S} done`);
}
writeResults('planner-gpu', {
  title: 'HeSS WGSL mask builder, one layer (16 heads), VGGT-1B shapes',
  device: gpu.name,
  notes: [
    'GPU time = encode + submit + onSubmittedWorkDone (Q/K already on the GPU); with readback adds copying the CSR indices to the CPU.',
    'Wasm SIMD column: one run of buildMasks (pool + rank) under --no-opt --liftoff-only, not comparable to bench/results/planner.md.',
    `1-min load average at the end: ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores (shared machine).`,
    'On a software adapter (lavapipe) these numbers say nothing about real GPUs.',
  ],
  tables: [
    {
      caption: 'One layer (ms)',
      header: ['S', 'N', 'WGSL (GPU)', 'WGSL + readback', 'Wasm SIMD (liftoff)', 'masks bit-identical'],
      rows,
    },
  ],
});
