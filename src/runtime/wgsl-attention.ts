/**
 * The global-attention core of the model on our WGSL kernels, with the HeSS sparsity policies:
 * - `dense`: flash attention over all S·P tokens;
 * - `uniform` (SparseVGGT-style baseline: the same budget for every head), `hess` (per-head budgets from a HeSS
 *   file), `reverse` (ablation): per layer, budgets → block masks from pooled Q/K → block-sparse attention.
 * Q, K, V come from onnxruntime-web's WebGPU EP as GPU buffers (token-major `[N, H, d]`) and O goes back the same
 * way: nothing crosses to the CPU except, for the Wasm mask planner, Q and K of the layer being planned.
 */
import type { Tensor } from 'onnxruntime-web';
import gatherWgsl from '../../shaders/gather_rows.wgsl';
import { encodeAttention, encodeBlockSparseAttention, type BlockSparsePlan } from '../attention/kernel.js';
import { allocateBudgets, allocateProportional, type BudgetPolicy } from '../allocate/index.js';
import type { HessFile } from '../hess/hess-file.js';
import { HessError, check } from '../errors.js';
import { fromF16 } from '../attention/f16.js';
import { createStorageBuffer, readBuffer, readF32, STORAGE_USAGE } from '../gpu/buffers.js';
import type { HessDevice } from '../gpu/device.js';
import { bindBuffers, getPipeline } from '../gpu/pipelines.js';
import { createUniform, uniformStruct } from '../gpu/uniform.js';
import { encodeMaskBuild } from '../mask/gpu-mask.js';
import { inversePermutation, maskLayout, tokenPermutation, type MaskLayout } from '../mask/layout.js';
import { buildMasks } from '../mask/wasm.js';
import type { AttentionContext, AttentionCore } from './attention-core.js';
import { PlannerWasm } from '../wasm/planner-module.js';
import type { Ort } from './ort.js';

export type AttentionPolicy = 'dense' | BudgetPolicy;

/** How global attention runs (per {@link Vggt.run} call). */
export interface SparsityOptions {
  policy: AttentionPolicy;
  /** Target sparsity ρ ∈ [0, 1): fraction of candidate key blocks dropped per head on average. */
  sparsity?: number;
  /** Per-layer head scores (required for 'hess' and 'reverse'). */
  hess?: HessFile;
  /** Where masks are planned: Wasm SIMD on the CPU, the WGSL builder, or 'auto' (GPU from `gpuFromTokens` on). */
  planner?: 'wasm' | 'gpu' | 'auto';
  /** Token count from which 'auto' plans on the GPU (default 4096). */
  gpuFromTokens?: number;
  /** Block sizes in tokens (defaults 128 / 64, the planner's). */
  queryBlock?: number;
  keyBlock?: number;
  /** Head budgets: 'waterfill' (default: water-filling with caps) or 'proportional' (the no-caps ablation). */
  allocation?: 'waterfill' | 'proportional';
}

/** What sparse runs actually did, over all heads and layers since the last reset. */
export interface SparsityStats {
  /** Key blocks attended / key blocks a dense run would attend (all rows, all heads, all layers). */
  keptFraction: number;
  /** 1 − keptFraction: the achieved sparsity, not the requested one. */
  achievedSparsity: number;
  /** Per global layer: key blocks attended, summed over heads and query blocks. */
  blocksPerLayer: number[];
  /** Per global layer: per-head budgets used (candidate blocks per sparse query block). */
  budgets: number[][];
  /** Milliseconds spent planning masks (allocation + pooling + ranking), summed. */
  planMs: number;
}

/** Invocations per workgroup of gather_rows.wgsl (one 32-bit word each). */
const GATHER_WG = 64;
const GATHER_PARAMS = uniformStruct(gatherWgsl, 'Params');

/**
 * WGSL attention for {@link Aggregator} on the WebGPU EP. Switch policy between runs with {@link configure}.
 *
 * @example
 * const core = await WgslAttention.create(ort, gpu);
 * const model = await Vggt.load(src, { device: gpu, attention: core });
 * core.configure({ policy: 'hess', sparsity: 0.73, hess });
 * await model.run(images); console.log(core.stats().achievedSparsity);
 */
export class WgslAttention implements AttentionCore {
  private opts: SparsityOptions = { policy: 'dense' };
  private budgetCache = new Map<string, Int32Array>();
  private permCache = new Map<string, { fwd: GPUBuffer; inv: GPUBuffer }>();
  /** Permuted Q, K, V, O of the current size, reused by every layer (the queue orders the layers' uses). */
  private scratch: { bytes: number; bufs: GPUBuffer[] } | null = null;
  private counters = { kept: 0, total: 0, perLayer: [] as number[], budgets: [] as number[][], planMs: 0 };

  private constructor(
    private readonly ort: Ort,
    readonly gpu: HessDevice,
    private readonly wasm: PlannerWasm,
  ) {}

  static async create(ort: Ort, gpu: HessDevice): Promise<WgslAttention> {
    return new WgslAttention(ort, gpu, await PlannerWasm.load());
  }

  /** Set the policy for the following runs (validates it, clears cached budgets and stats). */
  configure(opts: SparsityOptions): void {
    const { policy, sparsity = 0 } = opts;
    check(
      ['dense', 'uniform', 'hess', 'reverse'].includes(policy),
      `unknown attention policy ${policy}`,
      "use 'dense', 'uniform', 'hess' or 'reverse'",
    );
    check(Number.isFinite(sparsity) && sparsity >= 0 && sparsity < 1, `sparsity must be in [0, 1), got ${sparsity}`);
    if (policy === 'hess' || policy === 'reverse') {
      check(
        opts.hess,
        `policy '${policy}' needs a HeSS file`,
        'pass { hess: parseHessFile(json) } (npx hess-vggt calibrate makes one)',
      );
    }
    this.opts = { ...opts, sparsity };
    this.budgetCache.clear();
    this.resetStats();
  }

  resetStats(): void {
    this.counters = { kept: 0, total: 0, perLayer: [], budgets: [], planMs: 0 };
  }

  stats(): SparsityStats {
    const c = this.counters;
    const keptFraction = c.total ? c.kept / c.total : 1;
    return {
      keptFraction,
      achievedSparsity: 1 - keptFraction,
      blocksPerLayer: [...c.perLayer],
      budgets: c.budgets.map((b) => [...b]),
      planMs: c.planMs,
    };
  }

  async run(q: Tensor, k: Tensor, v: Tensor, N: number, H: number, d: number, ctx: AttentionContext): Promise<Tensor> {
    for (const t of [q, k, v]) {
      if (t.location !== 'gpu-buffer') {
        throw new HessError(
          'INVALID_ARGUMENT',
          'WgslAttention needs GPU tensors (the model must run on the WebGPU EP)',
          'load the model with a WebGPU device, or use the dense ONNX attention on the wasm EP',
        );
      }
    }
    // float16 tensors (an fp16 model) use the kernels' f16-storage variant; arithmetic stays fp32.
    const type = q.type;
    check(
      (type === 'float32' || type === 'float16') && k.type === type && v.type === type,
      `attention inputs must all be float32 or all float16, got ${q.type}, ${k.type}, ${v.type}`,
    );
    const dtype = type === 'float16' ? 'f16' : 'f32';
    const { device } = this.gpu;
    const bytes = N * H * d * (dtype === 'f16' ? 2 : 4);
    const o = device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: STORAGE_USAGE, label: 'attention out' });
    const bufs = { q: q.gpuBuffer as GPUBuffer, k: k.gpuBuffer as GPUBuffer, v: v.gpuBuffer as GPUBuffer, o };
    const shape = { N, H, D: d };
    if (this.opts.policy === 'dense') {
      const enc = device.createCommandEncoder();
      encodeAttention(this.gpu, enc, bufs, shape, { dtype });
      device.queue.submit([enc.finish()]);
      this.count(ctx.block, H * Math.ceil(N / 64), H * Math.ceil(N / 64));
    } else {
      await this.runSparse(bufs, shape, ctx, dtype);
    }
    return this.ort.Tensor.fromGpuBuffer(o, { dataType: type, dims: [N, H, d], dispose: () => o.destroy() });
  }

  private count(layer: number, kept: number, total: number): void {
    this.counters.kept += kept;
    this.counters.total += total;
    this.counters.perLayer[layer] = (this.counters.perLayer[layer] ?? 0) + kept;
  }

  private budgets(layer: number, H: number, L: MaskLayout): Int32Array {
    const key = `${layer}|${L.S}|${L.P}|${L.queryBlock}|${L.keyBlock}`;
    let b = this.budgetCache.get(key);
    if (!b) {
      const { policy, sparsity = 0, hess } = this.opts;
      let scores: number[];
      if (hess) {
        check(
          hess.heads === H && layer < hess.layers,
          `HeSS file is for ${hess.layers}×${hess.heads} heads, model has ${H} heads in layer ${layer}`,
          'use the HeSS file calibrated for this checkpoint',
        );
        scores = hess.scores[layer];
      } else {
        scores = new Array(H).fill(1 / H);
      }
      const alloc = { keyBlocks: L.candidateKeyBlocks, sparsity, policy: policy as BudgetPolicy };
      b =
        this.opts.allocation === 'proportional'
          ? allocateProportional(scores, H, alloc)
          : allocateBudgets(this.wasm, scores, H, alloc);
      this.budgetCache.set(key, b);
    }
    return b;
  }

  private perm(S: number, P: number, N: number): { fwd: GPUBuffer; inv: GPUBuffer } {
    const key = `${S}|${P}`;
    let p = this.permCache.get(key);
    if (!p) {
      const fwd = tokenPermutation(S, P);
      p = {
        fwd: createStorageBuffer(this.gpu.device, Uint32Array.from(fwd)),
        inv: createStorageBuffer(this.gpu.device, Uint32Array.from(inversePermutation(fwd))),
      };
      check(fwd.length === N, `token permutation of ${fwd.length} tokens for N = ${N}`);
      this.permCache.set(key, p);
    }
    return p;
  }

  private encodeGather(
    enc: GPUCommandEncoder,
    src: GPUBuffer,
    index: GPUBuffer,
    dst: GPUBuffer,
    rows: number,
    width: number,
  ): void {
    const { device } = this.gpu;
    const pipe = getPipeline(device, gatherWgsl, 'main', { WG: GATHER_WG });
    const pass = enc.beginComputePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(
      0,
      bindBuffers(device, pipe, [src, index, dst, createUniform(device, GATHER_PARAMS, { rows, width })]),
    );
    const groups = Math.ceil((rows * width) / GATHER_WG);
    const x = Math.min(groups, device.limits.maxComputeWorkgroupsPerDimension);
    pass.dispatchWorkgroups(x, Math.ceil(groups / x));
    pass.end();
  }

  private async runSparse(
    bufs: { q: GPUBuffer; k: GPUBuffer; v: GPUBuffer; o: GPUBuffer },
    shape: { N: number; H: number; D: number },
    ctx: AttentionContext,
    dtype: 'f32' | 'f16',
  ): Promise<void> {
    const { N, H, D } = shape;
    const { S, P, block } = ctx;
    const { device } = this.gpu;
    const qb = this.opts.queryBlock ?? 128;
    const kb = this.opts.keyBlock ?? 64;
    const L = maskLayout(S, P, qb, kb);
    const useGpu =
      this.opts.planner === 'gpu' || (this.opts.planner !== 'wasm' && N >= (this.opts.gpuFromTokens ?? 4096));
    // The Wasm planner reads Q and K back, which waits for the pre-segment's GPU work: let that finish first so
    // that planMs measures planning, not the segment.
    if (!useGpu) await device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    const budgets = this.budgets(block, H, L);
    const maskInput = { S, P, heads: H, headDim: D, budgets, queryBlock: qb, keyBlock: kb };
    let offsets: Uint32Array;
    let indices: GPUBuffer;
    let cleanup: () => void;
    if (useGpu) {
      const enc = device.createCommandEncoder();
      const m = encodeMaskBuild(this.gpu, enc, { ...maskInput, q: bufs.q, k: bufs.k, dtype });
      device.queue.submit([enc.finish()]);
      offsets = m.offsets;
      indices = m.indices;
      cleanup = () => m.destroy();
    } else {
      // f16 Q/K widen exactly: the Wasm planner then gives the WGSL builder's masks bit for bit.
      const read = async (b: GPUBuffer) =>
        dtype === 'f16'
          ? fromF16(new Uint16Array(await readBuffer(device, b, N * H * D * 2)))
          : readF32(device, b, N * H * D);
      const [q, k] = await Promise.all([read(bufs.q), read(bufs.k)]);
      const mask = buildMasks(this.wasm, { ...maskInput, q, k });
      offsets = mask.offsets;
      indices = createStorageBuffer(device, mask.indices.length ? mask.indices : new Uint32Array(1));
      cleanup = () => indices.destroy();
    }
    this.counters.planMs += performance.now() - t0;
    this.counters.budgets[block] = Array.from(budgets);
    const kept = offsets[offsets.length - 1];
    this.count(block, kept, H * L.numQueryBlocks * L.numKeyBlocks);

    const offsetsBuf = createStorageBuffer(device, offsets);
    const plan: BlockSparsePlan = {
      shape: { N, H, D },
      queryBlock: qb,
      keyBlock: kb,
      nQB: L.numQueryBlocks,
      nKB: L.numKeyBlocks,
      keptFraction: kept / (H * L.numQueryBlocks * L.numKeyBlocks),
      offsets: offsetsBuf,
      indices,
      destroy: () => offsetsBuf.destroy(),
    };
    // Gather Q/K/V into the planner's token order (special tokens first), attend, scatter O back. The gather moves
    // 32-bit words, so a float16 row of H·D values is H·D/2 words.
    const perm = this.perm(S, P, N);
    check(dtype === 'f32' || (H * D) % 2 === 0, 'float16 sparse attention needs an even H·D');
    const width = dtype === 'f16' ? (H * D) / 2 : H * D;
    const tmp = this.scratchBuffers(N * width * 4);
    const enc = device.createCommandEncoder();
    this.encodeGather(enc, bufs.q, perm.fwd, tmp[0], N, width);
    this.encodeGather(enc, bufs.k, perm.fwd, tmp[1], N, width);
    this.encodeGather(enc, bufs.v, perm.fwd, tmp[2], N, width);
    // Small blocks (few tokens): tiles the size of the blocks. The default 128-row × 64-key tiles spend ~19× the
    // time at q16/k8 (lavapipe: 722 vs 38 ms per layer, same output); K/V tiles kept ≤ 8 KB of workgroup memory.
    const tiling = { rows: qb < 128 ? qb : undefined, keys: kb % 4 === 0 && kb * D <= 1024 ? kb : undefined };
    encodeBlockSparseAttention(this.gpu, enc, { q: tmp[0], k: tmp[1], v: tmp[2], o: tmp[3] }, plan, { tiling, dtype });
    this.encodeGather(enc, tmp[3], perm.inv, bufs.o, N, width);
    device.queue.submit([enc.finish()]);
    // No wait: WebGPU keeps destroyed buffers alive for work already submitted, and the next segment is queued
    // behind this one, so layers stream without a CPU↔GPU round trip (except the Wasm planner's Q/K readback).
    plan.destroy();
    cleanup();
  }

  private scratchBuffers(bytes: number): GPUBuffer[] {
    if (this.scratch?.bytes !== bytes) {
      for (const b of this.scratch?.bufs ?? []) b.destroy();
      const bufs = ['q', 'k', 'v', 'o'].map((n) =>
        this.gpu.device.createBuffer({ size: bytes, usage: STORAGE_USAGE, label: `permuted ${n}` }),
      );
      this.scratch = { bytes, bufs };
    }
    return this.scratch.bufs;
  }

  async dispose(): Promise<void> {
    for (const b of this.scratch?.bufs ?? []) b.destroy();
    this.scratch = null;
    for (const p of this.permCache.values()) {
      p.fwd.destroy();
      p.inv.destroy();
    }
    this.permCache.clear();
  }
}
