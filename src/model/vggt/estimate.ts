/**
 * Memory model of one {@link import('./model').Vggt} run, computed from the architecture alone (no device, no
 * weights): per stage, the peak bytes on the GPU, the largest single GPU buffer, the host (JS) bytes and the bytes
 * in onnxruntime-web's wasm heap. `Vggt.run` checks it against the device's limits before allocating anything.
 * The trunk's stages are every model's; a model's heads come as a {@link HeadsMemory} (VGGT's: {@link vggtHeadsMemory};
 * π³'s: `pi3/estimate.ts`).
 *
 * It models the CURRENT implementation tensor by tensor (aggregator.ts, chunks.ts, attention-core.ts,
 * runtime/wgsl-attention.ts, camera-head.ts, dpt-head.ts, head-params.ts):
 * - WebGPU: every block's weights are GPU-resident storage buffers (per-type sessions), float16 under dtype 'fp16';
 *   the heads' weights are graph inputs uploaded once, in the same dtype (fp16 heads take the aggregator's float16
 *   layers on the GPU; their activations are float16, their outputs float32).
 * - wasm EP: block and head weights live in JS and are copied into the wasm heap for each segment run (ORT copies
 *   CPU inputs); the baked embed/bridge initializers live in the wasm heap; activations too.
 * - Pre/post segments run in token chunks of n = ⌊L / (4·max(3C, M))⌋ rows (`planChunks`; L the per-tensor
 *   limit, 4 bytes/element even in fp16), their outputs copied into whole [N, C] tensors. On WebGPU DINO and
 *   frame attention are the WGSL flash kernel (no scores); on the wasm EP ('onnx' local) the whole-block session
 *   runs f frames at a time, f from planChunks (its [f, H, T, T] scores held twice).
 * - ORT frees an intermediate after its last consumer, so a phase's peak is the tensors alive at its widest op.
 *   Fusions (bias-add into MatMul, GELU) are NOT assumed: the counts below are the unfused ones (an upper bound).
 *   ORT's WebGPU buffer cache keeps freed buffers for reuse, so the measured peak of created bytes can exceed this.
 */
import { check } from '../../errors.js';
import type { VggtConfig } from '../config.js';
import { maskLayout } from '../../mask/layout.js';
import { planChunks, WASM_TENSOR_BYTES } from '../trunk/chunks.js';
import { dptFrameBytes } from './dpt-head.js';

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
  /** Default 'fp32'. 'fp16': aggregator and head weights and activations float16 (WebGPU); inputs, outputs fp32. */
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
  /** Frames per DPT-head run (the model's `framesChunk`; default: sized from `dptChunkBytes` as the heads do). */
  framesChunk?: number;
  /**
   * Bytes one tensor may take, L = min(maxStorageBufferBindingSize, maxBufferSize) (wasm: 256 MiB), from which
   * the aggregator's chunks are planned. Default: WebGPU 2 GiB, wasm `WASM_TENSOR_BYTES`;
   * {@link checkMemoryFit} takes it from its limits when not given.
   */
  limitBytes?: number;
  /** Override of the token rows per pre/post chunk (default: `planChunks` from limitBytes). */
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
  input: Required<Omit<EstimateInput, 'heads' | 'chunkTokens'>> & {
    heads: { camera: boolean; depth: boolean; points: boolean };
    chunkTokens: number;
  };
  stages: StageEstimate[];
  /** Maxima over the stages. */
  gpuBytes: number;
  largestBuffer: { name: string; bytes: number; stage: EstimateStage };
  hostBytes: number;
  wasmBytes: number;
  /**
   * Bytes Aggregator.run checks against the per-tensor limit before it starts: the attention cores' whole
   * [S·max(P,T), C] tensors counted at 4 bytes/element (in fp16 too), so S ≤ ⌊L / (max(P,T)·C·4)⌋.
   */
  attentionCheckBytes: number;
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
  embedDim: 1024,
  numHeads: 16,
  headDim: 64,
  depth: 24,
  mlpHiddenDim: 4096,
  patchSize: 14,
  numRegisterTokens: 4,
  patchStartIdx: 5,
  dino: {
    dim: 1024,
    depth: 24,
    heads: 16,
    headDim: 64,
    mlpHiddenDim: 4096,
    posGrid: 37,
    imgSize: 518,
    numRegisters: 4,
  },
  camera: { dim: 2048, heads: 16, headDim: 128, trunkDepth: 4, mlpHiddenDim: 8192, poseDim: 9 },
  depthHead: { features: 256, outChannels: [256, 512, 1024, 1024], outputDim: 2 },
  pointHead: { features: 256, outChannels: [256, 512, 1024, 1024], outputDim: 4 },
  hasTrackHead: true,
  assumed: [],
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

/**
 * A model's heads in the estimate (VGGT's: {@link vggtHeadsMemory}; π³'s: `pi3/estimate.ts`). The trunk's stages
 * are the same for every model; these say what the heads hold, which trunk layers they take and how they run.
 */
export interface HeadsMemory {
  /** The heads loaded, from those the input asks for (default: all the model has). */
  loaded(requested: EstimateInput['heads']): MemoryEstimate['input']['heads'];
  /** Frames per head run when the input does not say (sized as the heads size their chunks). */
  framesChunk(x: {
    S: number;
    H: number;
    W: number;
    ep: 'webgpu' | 'wasm';
    dtype: 'fp32' | 'fp16';
    limitBytes: number;
  }): number;
  /** The heads' terms for a resolved input. */
  terms(x: MemoryEstimate['input']): HeadsTerms;
}

/** What {@link HeadsMemory.terms} returns. */
export interface HeadsTerms {
  /** Weights, resident from loading on. */
  weights: MemoryTerm[];
  /**
   * How many trunk layers the heads read, and where they ask for them: 'gpu' (in the trunk's dtype, when one
   * [N, 2C] buffer fits the limit; else read back) or 'host' (float32).
   */
  layers: { count: number; on: 'gpu' | 'host' };
  /** Alive from the heads stage to the end of the run (the outputs). */
  resident: MemoryTerm[];
  /** Each a set of tensors alive at once during the heads; the stage's peak is the widest. */
  phases: MemoryTerm[][];
}

/** Parameters of one transformer block (norms, qkv, proj, LayerScales, MLP; + per-head q/k norms). */
export function blockParams(C: number, M: number, d: number, qkNorm: boolean): number {
  return 4 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + C * M + M + M * C + C + (qkNorm ? 4 * d : 0);
}

/** Parameters of the camera head (pose-branch hidden width dim/2 as in VGGT). */
export function cameraHeadParams(cfg: NonNullable<VggtConfig['camera']>): number {
  const { dim: C, mlpHiddenDim: M, trunkDepth, poseDim: D } = cfg;
  const hb = C / 2;
  return (
    2 * C +
    trunkDepth * blockParams(C, M, 0, false) +
    2 * C +
    D +
    (D * C + C) +
    (3 * C * C + 3 * C) +
    (hb * C + hb) +
    (D * hb + D)
  );
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
 * VGGT's camera and DPT heads in the estimate, in the model's dtype (outputs float32). Weights: graph inputs,
 * uploaded once on WebGPU (JS arrays copied into the wasm heap per run on the wasm EP). The camera head's activations
 * are [S, 2C]-sized (negligible); a DPT head runs `framesChunk` frames at a time, its four layer spans copied per
 * chunk (WebGPU) or fed from JS (wasm). fp16 heads keep only their LayerNorm's tokens and the od-channel
 * activations in float32: the output term.
 */
export function vggtHeadsMemory(c: VggtConfig): HeadsMemory {
  const C2 = 2 * c.embedDim;
  const dpt = c.depthHead ?? c.pointHead;
  return {
    loaded: (h = {}) => ({
      camera: (h.camera ?? true) && c.camera !== null,
      depth: (h.depth ?? true) && c.depthHead !== null,
      points: (h.points ?? true) && c.pointHead !== null,
    }),
    framesChunk: ({ S, H, W, ep, dtype, limitBytes }) => {
      if (!dpt) return S;
      const spec = {
        kind: 'depth' as const,
        head: dpt,
        dimIn: C2,
        patchSize: c.patchSize,
        patchStartIdx: c.patchStartIdx,
      };
      const frame = dptFrameBytes(spec, H, W, undefined, dtype === 'fp16' ? 'float16' : 'float32');
      return Math.max(1, Math.floor(dptChunkBytes(ep, limitBytes) / frame));
    },
    terms: (x) => {
      const { S, H, W, ep } = x;
      const e = x.dtype === 'fp16' ? 2 : 4;
      const ty = x.dtype === 'fp16' ? 'f16' : 'f32';
      const dev: MemoryLocation = ep === 'webgpu' ? 'gpu' : 'wasm';
      const L = (H / c.patchSize) * (W / c.patchSize);
      const P = c.patchStartIdx + L;
      const camW = x.heads.camera && c.camera ? cameraHeadParams(c.camera) * e : 0;
      const dptW = (k: 'depthHead' | 'pointHead') => (c[k] ? dptHeadParams(c[k]!, C2) * e : 0);
      const depthW = x.heads.depth ? dptW('depthHead') : 0;
      const pointW = x.heads.points ? dptW('pointHead') : 0;
      const weightWhere: MemoryLocation = ep === 'webgpu' ? 'gpu' : 'host';
      const weights: MemoryTerm[] = [];
      const headLargest = (C: number, M: number) => Math.max(3 * C * C, C * M) * e;
      // a DPT head's largest weight: resize_layers.3 (oc3² · 9) or a projection (oc · 2C)
      const dptLargest = (h: NonNullable<VggtConfig['depthHead']>) =>
        Math.max(
          ...h.outChannels.map((o) => Math.max(o * C2, o * h.features * 9)),
          h.outChannels[3]! ** 2 * 9,
          h.outChannels[0]! ** 2 * 16,
        ) * e;
      if (camW)
        weights.push({
          name: 'camera head weights (inputs)',
          bytes: camW,
          bufferBytes: headLargest(c.camera!.dim, c.camera!.mlpHiddenDim),
          on: weightWhere,
        });
      for (const [k, w] of [
        ['depth', depthW],
        ['point', pointW],
      ] as const) {
        if (w)
          weights.push({
            name: `${k} head weights (inputs)`,
            bytes: w,
            bufferBytes: dptLargest(c[k === 'depth' ? 'depthHead' : 'pointHead']!),
            on: weightWhere,
          });
      }

      // the last layer always (camera head), the four DPT layers when a DPT head is loaded
      const needLayers = x.heads.depth || x.heads.points;
      const count = new Set([c.depth - 1, ...(needLayers ? [4, 11, 17, 23].filter((l) => l < c.depth) : [])]).size;

      const chunk = Math.min(x.framesChunk, S);
      const F = dpt?.features ?? 0;
      const headCopy = (w: number, what: string): MemoryTerm[] =>
        ep === 'wasm' ? [term(`${what} weights (per-run copy)`, 1, w, 'wasm')] : [];
      const f32 = (name: string, count: number, elems: number) => term(name, count, elems * 4, dev);
      const hd = (name: string, count: number, elems: number) => term(`${name} ${ty}`, count, elems * e, dev);
      const dptPhases = (od: number, w: number, what: string): MemoryTerm[][] => {
        const inputs = [...headCopy(w, what), hd(`${what} inputs 4×[f,P,2C]`, 4, chunk * P * C2)];
        const out = [
          f32(`${what} output [f,od,H,W] f32`, 1, chunk * od * H * W),
          term(`${what} output copy-out`, 1, chunk * od * H * W * 4, 'host'),
        ];
        return [
          [...inputs, hd(`${what} fusion maps [f,F,8h,8w]`, 2, chunk * F * 64 * L)],
          [...inputs, hd(`${what} full-res maps [f,F/2,H,W]`, 2, chunk * (F / 2) * H * W), ...out],
        ];
      };
      const resident: MemoryTerm[] = [];
      if (x.heads.depth) resident.push(term('depth + conf [S,H,W] f32', 2, S * H * W * 4, 'host'));
      if (x.heads.points) resident.push(term('points [S,H,W,3] + conf f32', 1, S * H * W * 16, 'host'));
      const phases: MemoryTerm[][] = [];
      if (camW) phases.push([...headCopy(camW, 'camera head'), hd('camera tokens [S,2C]', 4, S * C2)]);
      if (x.heads.depth && c.depthHead) phases.push(...dptPhases(c.depthHead.outputDim, depthW, 'depth head'));
      if (x.heads.points && c.pointHead) phases.push(...dptPhases(c.pointHead.outputDim, pointW, 'point head'));
      return { weights, layers: { count, on: 'gpu' }, resident, phases };
    },
  };
}

/**
 * DINO and frame attention on the ONNX local path (wasm EP): MatMul → Softmax over [B, H, T, T] scores for a chunk
 * of B frames, the MatMul output and the Softmax output alive at once (2 buffers). 0 on the WGSL flash path.
 */
export function localScores(B: number, heads: number, T: number, e: number): MemoryTerm[] {
  const one = B * heads * T * T * e;
  return [
    { name: 'local attention scores [f,H,T,T] (MatMul out)', bytes: one, bufferBytes: one, on: 'gpu' },
    { name: 'local attention probs [f,H,T,T] (Softmax out)', bytes: one, bufferBytes: one, on: 'gpu' },
  ];
}

/** Dense ONNX global attention (wasm EP, or attention 'onnx'): [1, H, N, N] scores + probabilities. */
export function globalScores(N: number, heads: number, e: number): MemoryTerm[] {
  const one = heads * N * N * e;
  return [
    { name: 'global attention scores [H,N,N] (MatMul out)', bytes: one, bufferBytes: one, on: 'gpu' },
    { name: 'global attention probs [H,N,N] (Softmax out)', bytes: one, bufferBytes: one, on: 'gpu' },
  ];
}

/** Default per-tensor limit L on WebGPU when none is given (a typical adapter's maxStorageBufferBindingSize). */
export const DEFAULT_WEBGPU_LIMIT_BYTES = 2 ** 31;

/** The DPT heads' byte budget per run (dpt-head.ts): min(L, 1 GiB) on WebGPU, 256 MiB on the wasm EP. */
export function dptChunkBytes(ep: 'webgpu' | 'wasm', limitBytes: number): number {
  return ep === 'webgpu' ? Math.min(limitBytes, 2 ** 30) : 256 * 2 ** 20;
}

/** Live [·, M] tensors of an unfused MLP at its widest op (fc1 MatMul + bias Add, GELU's Mul/Erf/Add/Mul chain). */
export const MLP_HIDDEN_LIVE = 3;

/** `count` equal buffers of `bufferBytes` as one term. */
export const term = (name: string, count: number, bufferBytes: number, on: MemoryLocation): MemoryTerm => ({
  name: count === 1 ? name : `${name} ×${count}`,
  bytes: count * bufferBytes,
  bufferBytes,
  on,
});

function resolve(config: VggtConfig, input: EstimateInput, heads: HeadsMemory): MemoryEstimate['input'] {
  const { S, H, W } = input;
  const ps = config.patchSize;
  check(Number.isInteger(S) && S > 0, `S must be a positive integer, got ${S}`);
  check(
    Number.isInteger(H) && Number.isInteger(W) && H > 0 && W > 0 && H % ps === 0 && W % ps === 0,
    `H and W must be positive multiples of ${ps}, got ${H}×${W}`,
  );
  const ep = input.ep ?? 'webgpu';
  const attention = input.attention ?? (ep === 'webgpu' ? 'wgsl' : 'onnx');
  check(ep === 'webgpu' || attention === 'onnx', "attention 'wgsl' needs the WebGPU EP");
  const dtype = input.dtype ?? 'fp32';
  check(dtype === 'fp32' || ep === 'webgpu', "dtype 'fp16' needs the WebGPU EP");
  const L = input.limitBytes ?? (ep === 'webgpu' ? DEFAULT_WEBGPU_LIMIT_BYTES : WASM_TENSOR_BYTES);
  check(L > 0, `limitBytes must be positive, got ${L}`);
  const P = config.patchStartIdx + (H / ps) * (W / ps);
  const T = 1 + config.dino.numRegisters + (H / ps) * (W / ps);
  const plan = planChunks(
    S,
    P,
    T,
    L,
    { C: config.embedDim, H: config.numHeads, M: config.mlpHiddenDim },
    { C: config.dino.dim, H: config.dino.heads, M: config.dino.mlpHiddenDim },
  );
  return {
    S,
    H,
    W,
    ep,
    attention,
    dtype,
    policy: input.policy ?? 'dense',
    sparsity: input.sparsity ?? 0.73,
    framesChunk: input.framesChunk ?? heads.framesChunk({ S, H, W, ep, dtype, limitBytes: L }),
    limitBytes: L,
    chunkTokens: Math.min(input.chunkTokens ?? plan.tokenRows, S * P),
    heads: heads.loaded(input.heads),
  };
}

/**
 * The terms of each stage: `resident` (alive for the whole run from that stage on) and `phases` (each a set of
 * tensors alive at once; the stage's peak is its widest phase). This is the one table of the model.
 */
function stageTerms(
  c: VggtConfig,
  x: MemoryEstimate['input'],
  headsMemory: HeadsMemory,
): Record<EstimateStage, { resident: MemoryTerm[]; phases: MemoryTerm[][] }> {
  const { S, H, W, ep } = x;
  const e = x.dtype === 'fp16' ? 2 : 4; // trunk weights and activations
  const ty = x.dtype === 'fp16' ? 'f16' : 'f32';
  const dev: MemoryLocation = ep === 'webgpu' ? 'gpu' : 'wasm';
  const ps = c.patchSize;
  const gh = H / ps,
    gw = W / ps,
    L = gh * gw;
  const Td = 1 + c.dino.numRegisters + L; // DINO tokens per frame
  const P = c.patchStartIdx + L;
  const N = S * P;
  const { embedDim: C, numHeads: Hh, headDim: d, mlpHiddenDim: M } = c;
  const Cd = c.dino.dim,
    Md = c.dino.mlpHiddenDim;
  const C2 = 2 * C;
  const plan = planChunks(S, P, Td, x.limitBytes, { C, H: Hh, M }, { C: Cd, H: c.dino.heads, M: Md });
  const n = x.chunkTokens; // token rows per aggregator pre/post chunk
  const nd = Math.min(x.chunkTokens, plan.dinoTokenRows, S * Td); // DINO's
  const on = (t: MemoryTerm, where: MemoryLocation): MemoryTerm => ({ ...t, on: where });

  // --- weights -------------------------------------------------------------------------------------------
  const dinoBlock = blockParams(Cd, Md, c.dino.headDim, false);
  const aggBlock = blockParams(C, M, d, true);
  const aggW = (c.dino.depth * dinoBlock + 2 * c.depth * aggBlock) * e;
  const bakedW = (Cd * 3 * ps * ps + Cd + 2 * Cd) * 4; // embed conv + bridge norm: float32 initializers (fp16 too)
  const consts =
    ((1 + c.dino.posGrid ** 2) * Cd + (1 + c.dino.numRegisters) * Cd + (2 + 2 * c.numRegisterTokens) * C) * 4;
  const largestWeight = Math.max(3 * C * C, C * M, Cd * Md, 3 * Cd * Cd) * e; // qkv or fc1 of one block
  const weightWhere: MemoryLocation = ep === 'webgpu' ? 'gpu' : 'host';
  const heads = headsMemory.terms(x);
  const weightsResident: MemoryTerm[] = [
    // WebGPU: one storage buffer per block weight; wasm: JS Float32Arrays fed (copied into the heap) per run
    { name: 'aggregator block weights', bytes: aggW, bufferBytes: largestWeight, on: weightWhere },
    term('embed + bridge initializers', 1, bakedW, dev),
    term('aggregator constants (pos-embed, tokens)', 1, consts, 'host'),
    ...heads.weights,
  ];

  // --- per run -------------------------------------------------------------------------------------------
  const run: MemoryTerm[] = [term('input images [S,3,H,W] f32', 1, S * 3 * H * W * 4, 'host')];
  // On WebGPU the aggregator hands the layers to the heads as GPU tensors in its dtype (interleaved on the device)
  // when asked and one [N,2C] buffer fits the limit; else (and on wasm) they are read back to the host as float32.
  const layersOnGpu = ep === 'webgpu' && heads.layers.on === 'gpu' && 2 * N * C * e <= x.limitBytes;
  const headLayers = layersOnGpu
    ? term(`head layers [S,P,2C] ${ty} (GPU)`, heads.layers.count, S * P * C2 * e, 'gpu')
    : term('head layers [S,P,2C] f32 (host)', heads.layers.count, S * P * C2 * 4, 'host');

  // A wasm-EP segment run copies its block weights into the heap for the run.
  const blockCopy = (params: number, what: string): MemoryTerm[] =>
    ep === 'wasm' ? [term(`${what} block weights (per-run copy)`, 1, params * 4, 'wasm')] : [];
  const act = (name: string, count: number, elems: number) => term(name, count, elems * e, dev);
  // Whole [rows, C] tensors the chunks are assembled into: on the wasm EP JS arrays, on WebGPU GPU buffers.
  const whole = (name: string, count: number, elems: number) =>
    term(name, count, elems * e, ep === 'webgpu' ? 'gpu' : 'host');

  /**
   * A block split at its attention into token-chunked pre/post segments (global blocks; DINO and frame blocks on
   * WebGPU): x and the assembled q, k, v, o, y are whole [R, C]; a chunk of r rows runs the segment.
   */
  const split = (
    R: number,
    r: number,
    CC: number,
    MM: number,
    pre: number,
    post: number,
    what: string,
  ): MemoryTerm[][] => [
    [
      ...blockCopy(pre, `${what} pre`),
      whole(`${what} x, q, k, v [R,C]`, 4, R * CC),
      act(`${what} x chunk [r,C]`, 1, r * CC),
      act(`${what} qkv MatMul + bias out [r,3C]`, 2, r * 3 * CC),
      act(`${what} q, k, v chunk [r,C]`, 3, r * CC),
    ],
    [
      ...blockCopy(post, `${what} post`),
      whole(`${what} x, o, y [R,C]`, 3, R * CC),
      act(`${what} x, o chunks [r,C]`, 2, r * CC),
      act(`${what} x1 [r,C]`, 1, r * CC),
      act(`${what} MLP hidden [r,M]`, MLP_HIDDEN_LIVE, r * MM),
      act(`${what} y chunk [r,C]`, 1, r * CC),
    ],
  ];
  /** The attention core over whole tensors: x, q, k, v in, o out (the WGSL flash kernels hold no scores). */
  const flash = (R: number, CC: number, what: string): MemoryTerm[] => [
    whole(`${what} x, q, k, v, o [R,C]`, 5, R * CC),
  ];
  const preParams = (CC: number, dd: number, qk: boolean) => 4 * CC + 3 * CC * CC + 3 * CC + (qk ? 4 * dd : 0);

  /** A whole local block as one ONNX session over f frames at a time (wasm EP): x and y whole, scores per chunk. */
  const onnxLocal = (
    T: number,
    CC: number,
    MM: number,
    heads: number,
    params: number,
    f: number,
    what: string,
  ): MemoryTerm[][] => [
    [
      ...blockCopy(params, what),
      whole(`${what} x, y [S,T,C]`, 2, S * T * CC),
      act(`${what} x chunk, q/k/v heads [f,T,C]`, 4, f * T * CC),
      ...localScores(f, heads, T, e).map((t) => on(t, dev)),
    ],
    [
      ...blockCopy(params, what),
      whole(`${what} x, y [S,T,C]`, 2, S * T * CC),
      act(`${what} x chunk, x1 [f,T,C]`, 2, f * T * CC),
      act(`${what} MLP hidden [f·T,M]`, MLP_HIDDEN_LIVE, f * T * MM),
    ],
  ];
  const wgslLocal = ep === 'webgpu';
  const dinoPre = preParams(Cd, c.dino.headDim, false);
  const aggPre = preParams(C, d, true);
  const dino = wgslLocal
    ? [...split(S * Td, nd, Cd, Md, dinoPre, dinoBlock - dinoPre, 'DINO'), flash(S * Td, Cd, 'DINO')]
    : onnxLocal(Td, Cd, Md, c.dino.heads, dinoBlock, plan.dinoFrames, 'DINO');
  // RoPE tables over all N tokens, uploaded once per run in the chunks' cut (WebGPU); host arrays on wasm.
  const rope = term('RoPE tables [N,1,d]', 2, N * d * (ep === 'webgpu' ? e : 4), ep === 'webgpu' ? 'gpu' : 'host');
  const frame = wgslLocal
    ? [...split(N, n, C, M, aggPre, aggBlock - aggPre, 'frame'), flash(N, C, 'frame')]
    : onnxLocal(P, C, M, Hh, aggBlock, plan.frames, 'frame');
  // Global blocks: the frame-block output xf is held throughout (read back as a head layer with the block output).
  const xf = whole('global xf [N,C]', 1, N * C);
  const global = split(N, n, C, M, aggPre, aggBlock - aggPre, 'global').map((ph) => [xf, ...ph]);
  if (ep === 'webgpu' && !layersOnGpu)
    global[1]!.push(term('layer readback staging [N,C] (fp16)', 1, N * C * e, 'gpu'));

  // Global attention core: xf, q, k, v in, o out; the WGSL sparse path adds 4 permuted copies and the block mask.
  const core: MemoryTerm[] = [
    xf,
    ...flash(N, C, 'global').map((t) => ({ ...t, name: 'global q, k, v, o [N,C]', bytes: (t.bytes * 4) / 5 })),
  ];
  if (x.attention === 'onnx') {
    core.push(act('q/k/v transposed [H,N,d]', 3, N * C), ...globalScores(N, Hh, e).map((t) => on(t, dev)));
  } else if (x.policy !== 'dense') {
    const Lm = maskLayout(S, P);
    const keptPerRow = Lm.specialKeyBlocks + Math.ceil((1 - x.sparsity) * Lm.candidateKeyBlocks);
    const rows = Lm.denseQueryBlocks * Lm.numKeyBlocks + (Lm.numQueryBlocks - Lm.denseQueryBlocks) * keptPerRow;
    core.push(
      term('permuted q, k, v, o [N,H,d] f32', 4, N * C * 4, 'gpu'),
      term('block mask indices', 1, Hh * rows * 4, 'gpu'),
    );
    if (N < 4096) core.push(term('q, k read back for the Wasm planner', 2, N * C * 4, 'host'));
  }
  const attention = { resident: [], phases: [core] };

  return {
    weights: { resident: weightsResident, phases: [[]] },
    dino: { resident: run, phases: dino },
    frame: { resident: [rope, headLayers], phases: frame },
    global: { resident: [], phases: global },
    attention,
    heads: { resident: heads.resident, phases: heads.phases.length ? heads.phases : [[]] },
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
  return estimateModelMemory(config, input, vggtHeadsMemory(config));
}

/** A model's memory estimate: the trunk's stages from `config`, the heads' from `heads`. */
export function estimateModelMemory(config: VggtConfig, input: EstimateInput, heads: HeadsMemory): MemoryEstimate {
  const x = resolve(config, input, heads);
  const table = stageTerms(config, x, heads);
  const stages: StageEstimate[] = [];
  const resident: MemoryTerm[] = [];
  for (const stage of ESTIMATE_STAGES) {
    const s = table[stage];
    resident.push(...s.resident);
    let best: StageEstimate | null = null;
    for (const phase of s.phases) {
      const terms = [...resident, ...phase];
      const gpu = sumOn(terms, 'gpu'),
        host = sumOn(terms, 'host'),
        wasm = sumOn(terms, 'wasm');
      if (!best)
        best = { stage, gpuBytes: gpu, hostBytes: host, wasmBytes: wasm, largestBuffer: { name: '', bytes: 0 }, terms };
      else {
        // per location, the widest phase; terms reported for the phase widest on the model's device
        if (x.ep === 'webgpu' ? gpu > best.gpuBytes : wasm > best.wasmBytes) best.terms = terms;
        best.gpuBytes = Math.max(best.gpuBytes, gpu);
        best.hostBytes = Math.max(best.hostBytes, host);
        best.wasmBytes = Math.max(best.wasmBytes, wasm);
      }
      for (const t of phase.concat(resident)) {
        if (t.on === 'gpu' && t.bufferBytes > best.largestBuffer.bytes)
          best.largestBuffer = { name: t.name, bytes: t.bufferBytes };
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
    // as Aggregator.run: S · max(P, T) · C · 4
    attentionCheckBytes:
      x.S *
      (Math.max(config.patchStartIdx, 1 + config.dino.numRegisters) + (x.H * x.W) / config.patchSize ** 2) *
      config.embedDim *
      4,
  };
}

/** Why `est` does not fit `limits` (null when it fits). */
function overLimit(
  est: MemoryEstimate,
  limits: MemoryLimits,
): { code: 'LIMIT_TOO_SMALL' | 'OUT_OF_MEMORY'; reason: string } | null {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const binding = Math.min(limits.maxBufferSize ?? Infinity, limits.maxStorageBufferBindingSize ?? Infinity);
  if (est.input.ep === 'webgpu' && est.attentionCheckBytes > binding) {
    return {
      code: 'LIMIT_TOO_SMALL',
      reason: `the attention tensors [S·tokens, C] (${gib(est.attentionCheckBytes)} at 4 bytes/element) exceed the device's buffer/binding limit of ${gib(binding)}`,
    };
  }
  if (est.input.ep === 'webgpu' && est.largestBuffer.bytes > binding) {
    return {
      code: 'LIMIT_TOO_SMALL',
      reason: `the largest buffer (${est.largestBuffer.name}, ${gib(est.largestBuffer.bytes)}, ${est.largestBuffer.stage}) exceeds the device's buffer/binding limit of ${gib(binding)}`,
    };
  }
  if (limits.maxGpuBytes !== undefined && est.gpuBytes > limits.maxGpuBytes) {
    return {
      code: 'OUT_OF_MEMORY',
      reason: `the run needs about ${gib(est.gpuBytes)} of GPU memory, over the budget of ${gib(limits.maxGpuBytes)}`,
    };
  }
  if (limits.maxWasmBytes !== undefined && est.wasmBytes > limits.maxWasmBytes) {
    return {
      code: 'OUT_OF_MEMORY',
      reason: `the run needs about ${gib(est.wasmBytes)} in onnxruntime-web's wasm heap, over its ${gib(limits.maxWasmBytes)}`,
    };
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
  return checkModelFit(config, input, limits, vggtHeadsMemory(config));
}

/** {@link checkMemoryFit} for a model's trunk and heads (as {@link estimateModelMemory}). */
export function checkModelFit(
  config: VggtConfig,
  input: EstimateInput,
  limits: MemoryLimits,
  heads: HeadsMemory,
): FitReport {
  // The chunks are planned from the same limit the buffers are checked against.
  const binding = Math.min(limits.maxBufferSize ?? Infinity, limits.maxStorageBufferBindingSize ?? Infinity);
  if (input.limitBytes === undefined && (input.ep ?? 'webgpu') === 'webgpu' && Number.isFinite(binding))
    input = { ...input, limitBytes: binding };
  const over = overLimit(estimateModelMemory(config, input, heads), limits);
  const fitsAt = (S: number) => overLimit(estimateModelMemory(config, { ...input, S }, heads), limits) === null;
  // Memory grows with S: double until it does not fit, then bisect.
  let lo = 0,
    hi = 1;
  while (hi <= 1 << 20 && fitsAt(hi)) {
    lo = hi;
    hi *= 2;
  }
  if (hi > 1 << 20) return { fits: over === null, largestS: lo, ...(over ?? {}) };
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fitsAt(mid)) lo = mid;
    else hi = mid;
  }
  return over ? { fits: false, ...over, largestS: lo } : { fits: true, largestS: lo };
}
