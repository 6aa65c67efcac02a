/**
 * Memory model of one {@link import('./model').Vggt} run, computed from the architecture alone (no device, no
 * weights): per stage, the peak bytes on the GPU, the largest single GPU buffer, the host (JS) bytes and the bytes
 * in onnxruntime-web's wasm heap. `Vggt.run` checks it against the device's limits before allocating anything.
 *
 * It models the CURRENT implementation tensor by tensor (read from aggregator.ts, blocks.ts, attention-core.ts,
 * runtime/wgsl-attention.ts, camera-head.ts, dpt-head.ts):
 * - WebGPU: every block's weights are GPU-resident storage buffers (per-type sessions); the heads' weights are
 *   baked into their sessions (on the GPU once created); activations are ORT's GPU tensors.
 * - wasm EP: the block weights live in JS and are copied into the wasm heap for each segment run (ORT copies CPU
 *   inputs); baked initializers (embed, bridge, camera head, DPT heads) live in the wasm heap; activations too.
 * - ORT frees an intermediate after its last consumer, so a phase's peak is the tensors alive at its widest op.
 *   Fusions (bias-add into MatMul, GELU) are NOT assumed: the counts below are the unfused ones (an upper bound;
 *   bench/results/scale-estimate.md compares them with measured peaks on the wasm EP).
 *
 * Every tensor is one named {@link MemoryTerm}, built in one place per stage ({@link stageTerms}), so that when
 * the attention/chunking rewrite lands only a few terms change: {@link localScores} (the [S, H, T, T] score tensor
 * of DINO and frame attention, held twice), {@link globalScores} (dense ONNX global attention) and the token-chunk
 * sizes of global pre/post and the MLP ({@link EstimateInput.chunkTokens}; today the whole sequence, N = S·P).
 *
 * fp16: there is no fp16 compute yet. `dtype: 'fp16'` estimates as if weights and activations were float16
 * (2 bytes) everywhere they are float32 today; inputs and outputs on the host stay float32.
 */
import { check } from '../../errors';
import type { VggtConfig } from '../config';
import { maskLayout } from '../../mask/layout';

/** Stages of a run, in order ('weights' is what loading leaves resident, plus the load's own transient peak). */
export type EstimateStage = 'weights' | 'dino' | 'frame' | 'global' | 'attention' | 'heads';
export const ESTIMATE_STAGES: readonly EstimateStage[] = ['weights', 'dino', 'frame', 'global', 'attention', 'heads'];

/** Where a tensor lives: GPU memory, the JS heap (ArrayBuffers), or onnxruntime-web's wasm heap (≤ 4 GiB). */
export type MemoryLocation = 'gpu' | 'host' | 'wasm';

/** One tensor (or group of equal tensors) of the model. */
export interface MemoryTerm {
  readonly name: string;
  /** Total bytes of the term (all `count` copies). */
  readonly bytes: number;
  /** Bytes of one buffer of the term (what has to fit a binding). */
  readonly bufferBytes: number;
  readonly on: MemoryLocation;
}

/** What to estimate: a run's shape and how the model was loaded. */
export interface EstimateInput {
  /** Frames. */
  S: number;
  /** Preprocessed image size (multiples of the patch size). */
  H: number;
  W: number;
  /** Default 'fp32'. 'fp16' = as if weights and activations were float16 (no fp16 compute exists yet). */
  dtype?: 'fp32' | 'fp16';
  /** Global-attention policy (default 'dense'); sparse policies cost the WGSL kernel's scratch and mask. */
  policy?: 'dense' | 'uniform' | 'hess' | 'reverse';
  /** Requested sparsity of sparse policies (default 0.73; sizes the mask). */
  sparsity?: number;
  /** Default 'webgpu'. */
  ep?: 'webgpu' | 'wasm';
  /** Global attention core: 'wgsl' (default on WebGPU) or 'onnx' (dense ONNX; the only one on the wasm EP). */
  attention?: 'wgsl' | 'onnx';
  /** Heads loaded (default: every head the config has). */
  heads?: { camera?: boolean; depth?: boolean; points?: boolean };
  /** Frames per DPT-head run (default 8, as the model). */
  framesChunk?: number;
  /**
   * Tokens per chunk of the global pre/post segments and the MLPs. Today these run on all N = S·P tokens at once
   * (the default); a token-chunked implementation sets this to its chunk size.
   */
  chunkTokens?: number;
}

/** Per-stage estimate. */
export interface StageEstimate {
  stage: EstimateStage;
  /** Peak GPU bytes during the stage (resident weights included); 0 on the wasm EP. */
  gpuBytes: number;
  /** Largest single GPU buffer of the stage. */
  largestBuffer: { name: string; bytes: number };
  /** Peak JS-heap bytes (weights kept in JS, inputs, head layers, outputs). */
  hostBytes: number;
  /** Peak bytes in onnxruntime-web's wasm heap. */
  wasmBytes: number;
  /** The terms alive at the stage's peak (the widest phase plus everything resident). */
  terms: MemoryTerm[];
}

export interface MemoryEstimate {
  input: Required<Omit<EstimateInput, 'heads'>> & { heads: { camera: boolean; depth: boolean; points: boolean } };
  stages: StageEstimate[];
  /** Maxima over the stages. */
  gpuBytes: number;
  largestBuffer: { name: string; bytes: number; stage: EstimateStage };
  hostBytes: number;
  wasmBytes: number;
}

/** Limits to check an estimate against (any subset). */
export interface MemoryLimits {
  /** GPUDevice.limits.maxBufferSize. */
  maxBufferSize?: number;
  /** GPUDevice.limits.maxStorageBufferBindingSize (every ORT/WGSL tensor is bound as storage). */
  maxStorageBufferBindingSize?: number;
  /** A user budget for the whole GPU (e.g. the card's memory less what the page needs). */
  maxGpuBytes?: number;
  /** onnxruntime-web's wasm heap (4 GiB: wasm32). Checked when set. */
  maxWasmBytes?: number;
}

/** VGGT-1B (facebook/VGGT-1B) as inferVggtConfig reads it: what to estimate before downloading 5 GB. */
export const VGGT_1B_CONFIG: VggtConfig = {
  embedDim: 1024, numHeads: 16, headDim: 64, depth: 24, mlpHiddenDim: 4096, patchSize: 14, numRegisterTokens: 4, patchStartIdx: 5,
  dino: { dim: 1024, depth: 24, heads: 16, headDim: 64, mlpHiddenDim: 4096, posGrid: 37, imgSize: 518, numRegisters: 4 },
  camera: { dim: 2048, heads: 16, headDim: 128, trunkDepth: 4, mlpHiddenDim: 8192, poseDim: 9 },
  depthHead: { features: 256, outChannels: [256, 512, 1024, 1024], outputDim: 2 },
  pointHead: { features: 256, outChannels: [256, 512, 1024, 1024], outputDim: 4 },
  hasTrackHead: true, assumed: [],
};

/** onnxruntime-web's wasm heap: a wasm32 memory, at most 4 GiB. */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

/** Why an estimate does not fit, and the largest S at the same H, W and options that does (0: none). */
export interface FitReport {
  fits: boolean;
  code?: 'LIMIT_TOO_SMALL' | 'OUT_OF_MEMORY';
  reason?: string;
  largestS: number;
}

/** Parameters of one transformer block (norms, qkv, proj, LayerScales, MLP; + per-head q/k norms). */
export function blockParams(C: number, M: number, d: number, qkNorm: boolean): number {
  return 4 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + C * M + M + M * C + C + (qkNorm ? 4 * d : 0);
}

/** Parameters of the camera head (pose-branch hidden width dim/2 as in VGGT). */
export function cameraHeadParams(cfg: NonNullable<VggtConfig['camera']>): number {
  const { dim: C, mlpHiddenDim: M, trunkDepth, poseDim: D } = cfg;
  const hb = C / 2;
  return 2 * C + trunkDepth * blockParams(C, M, 0, false) + 2 * C + D + (D * C + C) + (3 * C * C + 3 * C) + (hb * C + hb) + (D * hb + D);
}

/** Parameters of one DPT head (refinenet4 has no first residual unit, as in the checkpoint). */
export function dptHeadParams(head: NonNullable<VggtConfig['depthHead']>, dimIn: number): number {
  const { features: F, outChannels: oc, outputDim: od } = head;
  const F2 = F / 2;
  const hf2 = 32;
  const rcu = 2 * (F * F * 9 + F);
  let n = 2 * dimIn;
  for (let k = 0; k < 4; k++) n += oc[k]! * dimIn + oc[k]! + F * oc[k]! * 9;
  n += oc[0]! * oc[0]! * 16 + oc[0]! + oc[1]! * oc[1]! * 4 + oc[1]! + oc[3]! * oc[3]! * 9 + oc[3]!;
  n += 3 * (2 * rcu + F * F + F) + (rcu + F * F + F);
  return n + (F2 * F * 9 + F2) + (hf2 * F2 * 9 + hf2) + (od * hf2 + od);
}

/**
 * DINO and frame attention today: MatMul → Softmax over [B, H, T, T] scores per frame, the MatMul output and the
 * Softmax output alive at once (2 buffers). A flash kernel with a frame axis makes this term 0.
 */
export function localScores(B: number, heads: number, T: number, e: number): MemoryTerm[] {
  const one = B * heads * T * T * e;
  return [{ name: 'local attention scores [S,H,T,T] (MatMul out)', bytes: one, bufferBytes: one, on: 'gpu' },
    { name: 'local attention probs [S,H,T,T] (Softmax out)', bytes: one, bufferBytes: one, on: 'gpu' }];
}

/** Dense ONNX global attention (wasm EP, or attention 'onnx'): [1, H, N, N] scores + probabilities. */
export function globalScores(N: number, heads: number, e: number): MemoryTerm[] {
  const one = heads * N * N * e;
  return [{ name: 'global attention scores [H,N,N] (MatMul out)', bytes: one, bufferBytes: one, on: 'gpu' },
    { name: 'global attention probs [H,N,N] (Softmax out)', bytes: one, bufferBytes: one, on: 'gpu' }];
}

/** Copies of a baked-weight model in the wasm heap while its session is created (bytes, ModelProto, initializers). */
export const SESSION_CREATION_COPIES = 3;

/** Live [·, M] tensors of an unfused MLP at its widest op (fc1 MatMul + bias Add, GELU's Mul/Erf/Add/Mul chain). */
export const MLP_HIDDEN_LIVE = 3;

const term = (name: string, count: number, bufferBytes: number, on: MemoryLocation): MemoryTerm =>
  ({ name: count === 1 ? name : `${name} ×${count}`, bytes: count * bufferBytes, bufferBytes, on });

function resolve(config: VggtConfig, input: EstimateInput): MemoryEstimate['input'] {
  const { S, H, W } = input;
  const ps = config.patchSize;
  check(Number.isInteger(S) && S > 0, `S must be a positive integer, got ${S}`);
  check(Number.isInteger(H) && Number.isInteger(W) && H > 0 && W > 0 && H % ps === 0 && W % ps === 0,
    `H and W must be positive multiples of ${ps}, got ${H}×${W}`);
  const ep = input.ep ?? 'webgpu';
  const attention = input.attention ?? (ep === 'webgpu' ? 'wgsl' : 'onnx');
  check(ep === 'webgpu' || attention === 'onnx', "attention 'wgsl' needs the WebGPU EP");
  const P = config.patchStartIdx + (H / ps) * (W / ps);
  const h = input.heads ?? {};
  return {
    S, H, W, ep, attention,
    dtype: input.dtype ?? 'fp32',
    policy: input.policy ?? 'dense',
    sparsity: input.sparsity ?? 0.73,
    framesChunk: input.framesChunk ?? 8,
    chunkTokens: Math.min(input.chunkTokens ?? S * P, S * P),
    heads: {
      camera: (h.camera ?? true) && config.camera !== null,
      depth: (h.depth ?? true) && config.depthHead !== null,
      points: (h.points ?? true) && config.pointHead !== null,
    },
  };
}

/**
 * The terms of each stage: `resident` (alive for the whole run from that stage on) and `phases` (each a set of
 * tensors alive at once; the stage's peak is its widest phase). This is the one table of the model.
 */
function stageTerms(c: VggtConfig, x: MemoryEstimate['input']): Record<EstimateStage, { resident: MemoryTerm[]; phases: MemoryTerm[][] }> {
  const { S, H, W, ep } = x;
  const e = x.dtype === 'fp16' ? 2 : 4;
  const dev: MemoryLocation = ep === 'webgpu' ? 'gpu' : 'wasm';
  const ps = c.patchSize;
  const gh = H / ps, gw = W / ps, L = gh * gw;
  const Td = 1 + c.dino.numRegisters + L; // DINO tokens per frame
  const P = c.patchStartIdx + L;
  const N = S * P;
  const n = x.chunkTokens; // tokens per global pre/post and MLP chunk (today N)
  const { embedDim: C, numHeads: Hh, headDim: d, mlpHiddenDim: M } = c;
  const Cd = c.dino.dim, Md = c.dino.mlpHiddenDim;
  const C2 = 2 * C;
  const on = (t: MemoryTerm, where: MemoryLocation): MemoryTerm => ({ ...t, on: where });

  // --- weights -------------------------------------------------------------------------------------------
  const dinoBlock = blockParams(Cd, Md, c.dino.headDim, false);
  const aggBlock = blockParams(C, M, d, true);
  const aggW = (c.dino.depth * dinoBlock + 2 * c.depth * aggBlock) * e;
  const bakedW = (Cd * 3 * ps * ps + Cd + 2 * Cd) * e; // embed conv + bridge norm: initializers of their sessions
  const consts = ((1 + c.dino.posGrid ** 2) * Cd + (1 + c.dino.numRegisters) * Cd + (2 + 2 * c.numRegisterTokens) * C) * 4;
  const camW = x.heads.camera && c.camera ? cameraHeadParams(c.camera) * e : 0;
  const dptW = (k: 'depthHead' | 'pointHead') => (c[k] ? dptHeadParams(c[k]!, C2) * e : 0);
  const depthW = x.heads.depth ? dptW('depthHead') : 0;
  const pointW = x.heads.points ? dptW('pointHead') : 0;
  const largestWeight = Math.max(3 * C * C, C * M, Cd * Md, 3 * Cd * Cd) * e; // qkv or fc1 of one block
  const weightsResident: MemoryTerm[] = [
    // WebGPU: one storage buffer per block weight; wasm: JS Float32Arrays fed (copied into the heap) per run
    { name: 'aggregator block weights', bytes: aggW, bufferBytes: largestWeight, on: ep === 'webgpu' ? 'gpu' : 'host' },
    term('embed + bridge initializers', 1, bakedW, dev),
    term('aggregator constants (pos-embed, tokens)', 1, consts, 'host'),
  ];
  if (camW) weightsResident.push(term('camera head initializers', 1, camW, dev));
  // DPT heads keep their weights in JS to build one graph per image size; the session holds a second copy
  for (const [k, w] of [['depth', depthW], ['point', pointW]] as const) {
    if (!w) continue;
    weightsResident.push(term(`${k} head weights (JS, for graphs per image size)`, 1, w, 'host'));
    weightsResident.push(term(`${k} head initializers`, 1, w, dev));
  }
  // Creating a session with baked weights holds, for a moment, the graph bytes in JS (next to the weights map) and
  // three copies in the wasm heap: the model bytes copied in, the parsed ModelProto, the session's initializer
  // tensors (measured on the wasm EP: bench/results/scale-estimate.md). The camera head's is the largest at load;
  // each DPT head's happens at the first run of an image size.
  const creation = (what: string, w: number): MemoryTerm[] => [term(`${what} weights + graph bytes (JS)`, 2, w, 'host'), term(`${what} model bytes, proto, initializers (wasm, creating)`, SESSION_CREATION_COPIES, w, 'wasm')];
  const loadPeak: MemoryTerm[] = camW ? creation('camera head', camW) : [];

  // --- per run -------------------------------------------------------------------------------------------
  const run: MemoryTerm[] = [term('input images [S,3,H,W] f32', 1, S * 3 * H * W * 4, 'host')];
  const ropeF = term('frame RoPE tables [P,1,d]', 2, P * d * 4, ep === 'webgpu' ? 'gpu' : 'host');
  const ropeG = term('global RoPE tables [N,1,d]', 2, N * d * 4, ep === 'webgpu' ? 'gpu' : 'host');
  const needLayers = x.heads.depth || x.heads.points;
  const keptLayers = new Set([c.depth - 1, ...(needLayers ? [4, 11, 17, 23].filter((l) => l < c.depth) : [])]).size;
  // On WebGPU the aggregator hands the layers to the heads as GPU tensors (interleaved on the device).
  const headLayers = term(`head layers [S,P,2C] (${ep === 'webgpu' ? 'GPU' : 'host'})`, keptLayers, S * P * C2 * e, ep === 'webgpu' ? 'gpu' : 'host');

  // A wasm-EP segment run copies its block weights into the heap for the run.
  const blockCopy = (params: number, what: string): MemoryTerm[] => (ep === 'wasm' ? [term(`${what} block weights (per-run copy)`, 1, params * e, 'wasm')] : []);
  const act = (name: string, count: number, elems: number) => term(name, count, elems * e, dev);

  // Local (DINO / frame) block on B = S frames of T tokens: attention phase and MLP phase.
  const local = (T: number, CC: number, MM: number, heads: number, params: number, what: string): MemoryTerm[][] => [
    [...blockCopy(params, what), act(`${what} x [S,T,C]`, 1, S * T * CC), act(`${what} q/k/v heads [S,H,T,d]`, 3, S * T * CC),
      ...localScores(S, heads, T, e).map((t) => on(t, dev))],
    [...blockCopy(params, what), act(`${what} x, x1 [S,T,C]`, 2, S * T * CC), act(`${what} MLP hidden [S·T,M]`, MLP_HIDDEN_LIVE, S * T * MM)],
  ];
  const dino = { resident: [], phases: local(Td, Cd, Md, c.dino.heads, dinoBlock, 'DINO') };
  const frame = { resident: [ropeF], phases: local(P, C, M, Hh, aggBlock, 'frame') };

  // Global pre (x → q, k, v over all N tokens, n per chunk) and post (proj + MLP), the block input xf held by the
  // caller throughout (interleaved with the block output into a head layer after the post segment).
  const preW = 4 * C + 3 * C * C + 3 * C + 4 * d, postW = aggBlock - preW;
  const global = {
    resident: [ropeG],
    phases: [
      [...blockCopy(preW, 'global pre'), act('global xf [N,C]', 1, N * C), act('qkv MatMul + bias out [n,3C]', 2, n * 3 * C)],
      [...blockCopy(postW, 'global post'), act('global xf, o [N,C]', 2, N * C), act('x1 [n,C]', 1, n * C),
        act('global MLP hidden [n,M]', MLP_HIDDEN_LIVE, n * M)],
    ],
  };

  // Attention core: q, k, v in, o out; the WGSL sparse path adds 4 permuted copies and the block mask.
  const core: MemoryTerm[] = [act('global xf [N,C]', 1, N * C), act('q, k, v, o [N,H,d]', 4, N * C)];
  if (x.attention === 'onnx') {
    core.push(act('q/k/v transposed [H,N,d]', 3, N * C), ...globalScores(N, Hh, e).map((t) => on(t, dev)));
  } else if (x.policy !== 'dense') {
    const Lm = maskLayout(S, P);
    const keptPerRow = Lm.specialKeyBlocks + Math.ceil((1 - x.sparsity) * Lm.candidateKeyBlocks);
    const rows = Lm.denseQueryBlocks * Lm.numKeyBlocks + (Lm.numQueryBlocks - Lm.denseQueryBlocks) * keptPerRow;
    core.push(act('permuted q, k, v, o [N,H,d]', 4, N * C), term('block mask indices', 1, Hh * rows * 4, 'gpu'));
    if (N < 4096) core.push(term('q, k read back for the Wasm planner', 2, N * C * 4, 'host'));
  }
  const attention = { resident: [], phases: [core] };

  // Heads: the camera head's activations are [S, 2C]-sized (negligible); a DPT head runs `chunk` frames at a time.
  const heads: { resident: MemoryTerm[]; phases: MemoryTerm[][] } = { resident: [], phases: [] };
  const chunk = Math.min(x.framesChunk, S);
  const F = (c.depthHead ?? c.pointHead)?.features ?? 0;
  const dptPhases = (od: number, what: string): MemoryTerm[][] => {
    const inputs = [term(`${what} inputs 4×[n,P,2C] (staged)`, 4, chunk * P * C2 * 4, 'wasm'), ...(ep === 'webgpu' ? [act(`${what} inputs 4×[n,P,2C]`, 4, chunk * P * C2)] : [])];
    const out = [act(`${what} output [n,od,H,W]`, 1, chunk * od * H * W), term(`${what} output copy-out`, 1, chunk * od * H * W * 4, 'wasm')];
    return [
      [...inputs, act(`${what} fusion maps [n,F,8h,8w]`, 2, chunk * F * 64 * L)],
      [...inputs, act(`${what} full-res maps [n,F/2,H,W]`, 2, chunk * (F / 2) * H * W), ...out],
    ];
  };
  const outputs: MemoryTerm[] = [];
  if (x.heads.depth) outputs.push(term('depth + conf [S,H,W] f32', 2, S * H * W * 4, 'host'));
  if (x.heads.points) outputs.push(term('points [S,H,W,3] + conf f32', 1, S * H * W * 16, 'host'));
  heads.resident.push(...outputs);
  if (x.heads.depth && c.depthHead) heads.phases.push(...dptPhases(c.depthHead.outputDim, 'depth head'), creation('depth head', depthW));
  if (x.heads.points && c.pointHead) heads.phases.push(...dptPhases(c.pointHead.outputDim, 'point head'), creation('point head', pointW));
  if (heads.phases.length === 0) heads.phases.push([]);
  return {
    weights: { resident: weightsResident, phases: [loadPeak] },
    dino: { resident: run, phases: dino.phases },
    frame: { resident: [...frame.resident, headLayers], phases: frame.phases },
    global: { resident: global.resident, phases: global.phases },
    attention,
    heads,
  };
}

const sumOn = (ts: MemoryTerm[], where: MemoryLocation) => ts.reduce((a, t) => a + (t.on === where ? t.bytes : 0), 0);

/**
 * Estimate a run's memory from the architecture alone.
 *
 * @example
 * const est = estimateMemory(model.config, { S: 32, H: 518, W: 518, dtype: 'fp32', policy: 'hess' });
 * console.log(est.gpuBytes / 2 ** 30, 'GiB peak;', est.largestBuffer);
 */
export function estimateMemory(config: VggtConfig, input: EstimateInput): MemoryEstimate {
  const x = resolve(config, input);
  const table = stageTerms(config, x);
  const stages: StageEstimate[] = [];
  const resident: MemoryTerm[] = [];
  for (const stage of ESTIMATE_STAGES) {
    const s = table[stage];
    resident.push(...s.resident);
    let best: StageEstimate | null = null;
    for (const phase of s.phases) {
      const terms = [...resident, ...phase];
      const gpu = sumOn(terms, 'gpu'), host = sumOn(terms, 'host'), wasm = sumOn(terms, 'wasm');
      if (!best) best = { stage, gpuBytes: gpu, hostBytes: host, wasmBytes: wasm, largestBuffer: { name: '', bytes: 0 }, terms };
      else {
        // per location, the widest phase; terms reported for the phase widest on the model's device
        if ((x.ep === 'webgpu' ? gpu > best.gpuBytes : wasm > best.wasmBytes)) best.terms = terms;
        best.gpuBytes = Math.max(best.gpuBytes, gpu);
        best.hostBytes = Math.max(best.hostBytes, host);
        best.wasmBytes = Math.max(best.wasmBytes, wasm);
      }
      for (const t of phase.concat(resident)) {
        if (t.on === 'gpu' && t.bufferBytes > best.largestBuffer.bytes) best.largestBuffer = { name: t.name, bytes: t.bufferBytes };
      }
    }
    stages.push(best!);
  }
  const top = stages.reduce((a, s) => (s.largestBuffer.bytes > a.largestBuffer.bytes ? s : a));
  return {
    input: x,
    stages,
    gpuBytes: Math.max(...stages.map((s) => s.gpuBytes)),
    largestBuffer: { ...top.largestBuffer, stage: top.stage },
    hostBytes: Math.max(...stages.map((s) => s.hostBytes)),
    wasmBytes: Math.max(...stages.map((s) => s.wasmBytes)),
  };
}

/** Why `est` does not fit `limits` (null when it fits). */
function overLimit(est: MemoryEstimate, limits: MemoryLimits): { code: 'LIMIT_TOO_SMALL' | 'OUT_OF_MEMORY'; reason: string } | null {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const binding = Math.min(limits.maxBufferSize ?? Infinity, limits.maxStorageBufferBindingSize ?? Infinity);
  if (est.input.ep === 'webgpu' && est.largestBuffer.bytes > binding) {
    return { code: 'LIMIT_TOO_SMALL', reason: `the largest buffer (${est.largestBuffer.name}, ${gib(est.largestBuffer.bytes)}, ${est.largestBuffer.stage}) exceeds the device's buffer/binding limit of ${gib(binding)}` };
  }
  if (limits.maxGpuBytes !== undefined && est.gpuBytes > limits.maxGpuBytes) {
    return { code: 'OUT_OF_MEMORY', reason: `the run needs about ${gib(est.gpuBytes)} of GPU memory, over the budget of ${gib(limits.maxGpuBytes)}` };
  }
  if (limits.maxWasmBytes !== undefined && est.wasmBytes > limits.maxWasmBytes) {
    return { code: 'OUT_OF_MEMORY', reason: `the run needs about ${gib(est.wasmBytes)} in onnxruntime-web's wasm heap, over its ${gib(limits.maxWasmBytes)}` };
  }
  return null;
}

/**
 * Check a run against limits, and find the largest S (same H, W and options) that fits: 0 when even one frame
 * does not.
 *
 * @example
 * const r = checkMemoryFit(cfg, { S: 200, H: 518, W: 518 }, { maxStorageBufferBindingSize: 2 ** 31, maxGpuBytes: 24e9 });
 * if (!r.fits) console.log(r.reason, 'largest S:', r.largestS);
 */
export function checkMemoryFit(config: VggtConfig, input: EstimateInput, limits: MemoryLimits): FitReport {
  const over = overLimit(estimateMemory(config, input), limits);
  const fitsAt = (S: number) => overLimit(estimateMemory(config, { ...input, S }), limits) === null;
  // Memory grows with S: double until it does not fit, then bisect.
  let lo = 0, hi = 1;
  while (hi <= 1 << 20 && fitsAt(hi)) { lo = hi; hi *= 2; }
  if (hi > 1 << 20) return { fits: over === null, largestS: lo, ...(over ?? {}) };
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fitsAt(mid)) lo = mid; else hi = mid;
  }
  return over ? { fits: false, ...over, largestS: lo } : { fits: true, largestS: lo };
}
