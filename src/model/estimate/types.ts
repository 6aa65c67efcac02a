/**
 * The memory estimate's types, shared by every model: what to estimate, the terms and stages it reports, the limits
 * a run is checked against, and what a model's heads add ({@link HeadsMemory}).
 */

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

/** Why an estimate does not fit, and the largest S at the same H, W and options that does (0: none). */
export interface FitReport {
  fits: boolean;
  code?: 'LIMIT_TOO_SMALL' | 'OUT_OF_MEMORY';
  reason?: string;
  largestS: number;
}

/**
 * A model's heads in the estimate (VGGT's: `vggtHeadsMemory` in `vggt/estimate.ts`; π³'s: `pi3/estimate.ts`). The
 * trunk's stages are the same for every model; these say what the heads hold, which trunk layers they take and how
 * they run.
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
