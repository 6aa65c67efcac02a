/**
 * The load/run skeleton every model shares (VGGT's and π³'s), around what is each model's own (its config, its
 * sessions, its forward pass, its memory estimate):
 * - {@link loadSessions}: check the options, load onnxruntime-web, choose the device, open the source, infer the
 *   config, check the weights, pick the global-attention core, build the sessions (closing the source and
 *   releasing what was built when anything fails).
 * - {@link ModelSessions}: a loaded model's sessions. `run` checks the model is usable, validates the images and
 *   the HeSS file, refuses a run the memory pre-flight says does not fit, configures the attention, and runs the
 *   forward pass inside GPU error scopes, rebuilding the sessions after a failure that may have left them unusable.
 */
import { HessError, check } from '../errors.js';
import { assertAlive, type HessDevice } from '../gpu/device.js';
import { abortCheckpoint } from '../runtime/checkpoint.js';
import { loadOrt, type ExecutionTarget, type Ort, type OrtOptions } from '../runtime/ort.js';
import { type SparsityOptions, WgslAttention } from '../runtime/wgsl-attention.js';
import type { UrlCacheOption } from './source/cache.js';
import { WASM_HEAP_BYTES } from './estimate/fit.js';
import type { EstimateInput, FitReport, MemoryLimits } from './estimate/types.js';
import { checkComputeType } from './graph/half-weights.js';
import {
  checkDeviceOption,
  checkWeightTypes,
  chooseTarget,
  classifyRunFailure,
  type DeviceOption,
  type ImageTensor,
  imageInput,
  type ModelSource,
  openSource,
  preflightError,
  type ProgressEvent,
  reportingReader,
  runOnTarget,
} from './model-io.js';
import type { PreprocessMode } from './image/preprocess.js';
import type { RgbaImage } from './image/rgba-image.js';
import type { Safetensors } from './source/safetensors.js';
import type { AttentionCore } from './trunk/attention-core.js';
import type { TensorShapes } from './config.js';

/** The load options every model takes. */
export interface SessionLoadOptions extends OrtOptions {
  device?: DeviceOption;
  dtype?: 'fp32' | 'fp16';
  maxGpuBytes?: number;
  attention?: 'wgsl' | 'onnx' | AttentionCore;
  cache?: UrlCacheOption;
  persist?: boolean;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

/** The run options every model takes. */
export interface SessionRunOptions extends Partial<SparsityOptions> {
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  mode?: PreprocessMode;
  maxGpuBytes?: number;
  checkMemory?: boolean;
}

/** What every model's sessions have: the WGSL attention core when the model uses it. */
export interface SessionParts {
  wgsl: WgslAttention | null;
}

/** What a model's `build` gets: the checkpoint (read with progress and NaN checks), its config, where to run. */
export interface BuildContext<C> {
  reader: Safetensors;
  config: C;
  target: ExecutionTarget;
  ort: Ort;
  /** The global-attention core for the trunk: the WGSL one, the caller's, or undefined (dense ONNX). */
  attention: AttentionCore | undefined;
  progress: (e: ProgressEvent) => void;
}

/** What is each model's own in a load. */
export interface ModelSpec<C, P extends SessionParts> {
  /** The model's name in weight errors ('VGGT', 'π³'). */
  name: string;
  /** The model's class name in run errors ('Vggt', 'Pi3'). */
  className: string;
  inferConfig(tensors: TensorShapes, override: Record<string, unknown>): C;
  /** Tensors never read (their dtype is not checked). */
  unread?: (name: string) => boolean;
  /** Build the model's sessions into `built` (what is there is released if a later one fails). */
  build(ctx: BuildContext<C>, built: Partial<P>): Promise<void>;
  /** `p`'s sessions in the order they are released (a part that fails to release does not stop the rest). */
  parts(p: Partial<P>): ReadonlyArray<{ dispose(): Promise<void> } | null | undefined>;
}

/** What the load options say about memory: the estimate's dtype and attention, the GPU budget. */
export interface SessionMemory {
  dtype: 'fp32' | 'fp16';
  maxGpuBytes?: number;
  attention: 'wgsl' | 'onnx';
}

/**
 * Open `source`, build `model`'s sessions on the chosen device and return them with the config; on any failure the
 * source is closed and whatever was built released.
 */
export async function loadSessions<C, P extends SessionParts>(
  source: ModelSource,
  opts: SessionLoadOptions & { config?: object },
  model: ModelSpec<C, P>,
): Promise<{ config: C; sessions: ModelSessions<P> }> {
  checkDeviceOption(opts.device);
  checkMaxGpuBytes(opts.maxGpuBytes);
  const progress = opts.onProgress ?? (() => {});
  progress({ stage: 'open' });
  const ort = await loadOrt(opts);
  const target = await chooseTarget(opts.device);
  checkComputeType(opts.dtype, target); // before any weight is read
  const { st, override } = await openSource(source, opts);
  const closeSource = async () => {
    await (st as { close?: () => Promise<void> }).close?.();
  };
  try {
    await abortCheckpoint(opts.signal);
    const config = model.inferConfig(st.tensors, { ...override, ...opts.config });
    checkWeightTypes(st, model.name, model.unread);
    const reader = reportingReader(st, progress);
    const choice = opts.attention ?? (target.ep === 'webgpu' ? 'wgsl' : 'onnx');
    if (choice === 'wgsl' && target.ep !== 'webgpu') {
      throw new HessError('INVALID_ARGUMENT', "attention 'wgsl' needs WebGPU", "use attention 'onnx' on the wasm EP");
    }
    const disposeParts = async (p: Partial<P>) => {
      for (const x of model.parts(p)) await x?.dispose().catch(() => undefined);
    };
    const build = async (): Promise<P> => {
      const wgsl = choice === 'wgsl' && target.ep === 'webgpu' ? await WgslAttention.create(ort, target.gpu) : null;
      const attention = wgsl ?? (typeof choice === 'object' ? choice : undefined);
      const built = { wgsl } as Partial<P>;
      try {
        await model.build({ reader, config, target, ort, attention, progress }, built);
        return built as P;
      } catch (e) {
        await disposeParts(built);
        throw e;
      }
    };
    const parts = await build();
    progress({ stage: 'ready' });
    const memory: SessionMemory = {
      dtype: opts.dtype ?? 'fp32',
      maxGpuBytes: opts.maxGpuBytes,
      attention: parts.wgsl || typeof choice === 'object' ? 'wgsl' : 'onnx',
    };
    const sessions = new ModelSessions(model.className, target, ort, parts, build, disposeParts, closeSource, memory);
    return { config, sessions };
  } catch (e) {
    await closeSource();
    throw e;
  }
}

function checkMaxGpuBytes(maxGpuBytes: unknown): void {
  check(
    maxGpuBytes === undefined || (typeof maxGpuBytes === 'number' && maxGpuBytes > 0),
    `maxGpuBytes must be a positive number of bytes, got ${String(maxGpuBytes)}`,
  );
}

/** What is each model's own in a run. */
export interface RunSpec<R> {
  patchSize: number;
  /** Check a HeSS file against the model (only for the policies that read one). */
  checkHess(hess: NonNullable<SparsityOptions['hess']>): void;
  /** The memory pre-flight: whether a run of `input` with `policy` fits `limits`. */
  fit(input: Pick<EstimateInput, 'S' | 'H' | 'W' | 'policy' | 'sparsity'>, limits: MemoryLimits): FitReport;
  /** The forward pass (`t0`: when the run began). */
  forward(input: ImageTensor, t0: number): Promise<R>;
}

/** A loaded model's sessions, run and rebuilt together. */
export class ModelSessions<P extends SessionParts> {
  private disposed = false;
  /** Set when a failure left the model unusable (device lost, ORT's state unknown): every later run throws it. */
  private broken: HessError | null = null;

  constructor(
    private readonly className: string,
    readonly target: ExecutionTarget,
    readonly ort: Ort,
    private current: P,
    /** Builds the sessions again from the still-open checkpoint (after a failed run left them unusable). */
    private readonly build: () => Promise<P>,
    private readonly disposeParts: (p: Partial<P>) => Promise<void>,
    private readonly closeSource: () => Promise<void>,
    readonly memory: SessionMemory,
  ) {}

  /** The sessions as they are now (a failed run may have rebuilt them). */
  get parts(): P {
    return this.current;
  }

  /** The device the model runs on (null on the wasm EP). */
  get gpu(): HessDevice | null {
    return this.target.ep === 'webgpu' ? this.target.gpu : null;
  }

  /** What runs are checked against: the device's buffer limits and maxGpuBytes, or the wasm heap. */
  memoryLimits(maxGpuBytes = this.memory.maxGpuBytes): MemoryLimits {
    if (this.target.ep === 'wasm') return { maxWasmBytes: WASM_HEAP_BYTES };
    const l = this.target.gpu.limits;
    return { maxBufferSize: l.maxBufferSize, maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxGpuBytes };
  }

  /** The estimate's input for a run on these sessions (their dtype, device, attention and per-buffer limit). */
  estimateInput(input: Pick<EstimateInput, 'S' | 'H' | 'W' | 'dtype' | 'policy' | 'sparsity'>): EstimateInput {
    return {
      dtype: this.memory.dtype,
      ...input,
      ep: this.target.ep,
      attention: this.memory.attention,
      // the trunk and heads plan their chunks from the device's per-buffer limit (wasm: the estimate's default)
      limitBytes:
        this.target.ep === 'webgpu'
          ? Math.min(this.target.gpu.limits.maxStorageBufferBindingSize, this.target.gpu.limits.maxBufferSize)
          : undefined,
    };
  }

  /**
   * Run `spec.forward` on `images`: usable model, valid images and HeSS file, the memory pre-flight, the attention
   * policy, then the forward pass inside GPU error scopes; a failure comes back typed (see classifyRunFailure).
   */
  async run<R>(images: readonly RgbaImage[] | ImageTensor, opts: SessionRunOptions, spec: RunSpec<R>): Promise<R> {
    if (this.disposed) throw new HessError('DISPOSED', `${this.className}.run after dispose()`, 'load the model again');
    if (this.broken) throw this.broken;
    if (this.target.ep === 'webgpu') assertAlive(this.target.gpu);
    const t0 = performance.now();
    const input = imageInput(images, spec.patchSize, opts);
    const policy = opts.policy ?? 'dense';
    if (opts.hess && (policy === 'hess' || policy === 'reverse')) spec.checkHess(opts.hess);
    if (opts.checkMemory ?? true) {
      // Refuse, before allocating, a run that cannot fit the device's limits, maxGpuBytes or the wasm heap.
      const maxGpuBytes = opts.maxGpuBytes ?? this.memory.maxGpuBytes;
      checkMaxGpuBytes(maxGpuBytes);
      const { S, H, W } = input;
      const fit = spec.fit({ S, H, W, policy, sparsity: opts.sparsity }, this.memoryLimits(maxGpuBytes));
      if (!fit.fits) throw preflightError(fit, input, this.target.ep);
    }
    const wgsl = this.current.wgsl;
    if (wgsl) wgsl.configure({ ...opts, policy });
    else if (policy !== 'dense') {
      throw new HessError(
        'INVALID_ARGUMENT',
        `policy '${policy}' needs the WGSL attention (WebGPU)`,
        "load the model on a WebGPU device with attention 'wgsl' (the default there)",
      );
    }
    try {
      return await runOnTarget(this.target, () => spec.forward(input, t0));
    } catch (e) {
      const { error, broken } = await classifyRunFailure(
        e,
        this.target,
        async () => {
          await this.disposeParts(this.current);
          this.current = await this.build();
        },
        this.className,
      );
      if (broken) this.broken = broken;
      throw error;
    }
  }

  /** Release the sessions and close the source (once). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.disposeParts(this.current);
    await this.closeSource();
  }
}
