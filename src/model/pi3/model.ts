/**
 * The public π³ (Pi3) model: checkpoint → encoder + decoder (the shared trunk, {@link createPi3Trunk}) + π³'s heads
 * on onnxruntime-web, with the same options, progress, abort, error and device conventions as {@link Vggt}. The 18
 * global layers take the same pluggable attention core: dense ONNX, our WGSL kernels, HeSS block-sparse.
 */
import { HessError, check } from '../../errors.js';
import { abortCheckpoint } from '../../runtime/checkpoint.js';
import { assertAlive, type HessDevice } from '../../gpu/device.js';
import { loadOrt, type ExecutionTarget, type Ort, type OrtOptions } from '../../runtime/ort.js';
import { WgslAttention, type SparsityStats } from '../../runtime/wgsl-attention.js';
import type { UrlCacheOption } from '../cache.js';
import type { VggtConfig } from '../config.js';
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
} from '../model-io.js';
import type { RgbaImage } from '../rgba-image.js';
import type { Aggregator } from '../trunk/aggregator.js';
import { checkComputeType, disposeLayers } from '../trunk/aggregator.js';
import type { AttentionCore } from '../trunk/attention-core.js';
import {
  checkMemoryFit,
  estimateMemory,
  type EstimateInput,
  type FitReport,
  type MemoryEstimate,
  type MemoryLimits,
  WASM_HEAP_BYTES,
} from '../vggt/estimate.js';
import type { VggtRunOptions } from '../vggt/model.js';
import { inferPi3Config, type Pi3Config, type Pi3ConfigOverride } from './config.js';
import { Pi3Heads } from './heads.js';
import { createPi3Trunk } from './trunk.js';

export interface Pi3LoadOptions extends OrtOptions {
  /** `'webgpu'` (default where WebGPU exists), `'wasm'` (CPU), or a device to share. */
  device?: DeviceOption;
  /** 'fp32' (default) or 'fp16' (encoder, decoder and heads in float16 on WebGPU with shader-f16). */
  dtype?: 'fp32' | 'fp16';
  /** What the shapes cannot say (e.g. `{ encoder_heads: 16 }`; read from config.json next to a file path). */
  config?: Pi3ConfigOverride;
  /** Frames per head run (default: as many as fit the heads' byte budget). */
  framesChunk?: number;
  /** GPU memory the model may use, in bytes (runs whose estimate exceeds it are refused with OUT_OF_MEMORY). */
  maxGpuBytes?: number;
  /** Global-attention implementation: 'wgsl' (default on WebGPU), 'onnx' (the only choice on wasm), or your own. */
  attention?: 'wgsl' | 'onnx' | AttentionCore;
  /** Where the weights of a URL are cached (see {@link VggtLoadOptions.cache}). */
  cache?: UrlCacheOption;
  /** Browsers: ask `navigator.storage.persist()` before caching. */
  persist?: boolean;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

/** Run options: as {@link Vggt.run}'s (policy, sparsity, hess, mode, maxGpuBytes, checkMemory, signal, progress). */
export type Pi3RunOptions = VggtRunOptions;

/** What {@link Pi3.run} returns, all float32, row-major, frame-major (as the reference's outputs). */
export interface Pi3Result {
  S: number;
  H: number;
  W: number;
  /** `[S, H, W, 3]` world points: `cameraPoses[s] · (localPoints, 1)`. */
  points: Float32Array;
  /** `[S, H, W, 3]` points in each camera's frame. */
  localPoints: Float32Array;
  /** `[S, H, W]` confidence, raw logits (as the reference returns them). */
  conf: Float32Array;
  /** `[S, 4, 4]` camera-to-world poses (no reference frame: π³ is permutation-equivariant). */
  cameraPoses: Float32Array;
  /** Milliseconds per stage. */
  timings: { trunk: number; heads: number; total: number };
  /** What global attention did (WGSL attention only). */
  sparsity: SparsityStats | null;
}

/** What a loaded model runs: its sessions (rebuilt together after a failed run). */
interface Pi3Parts {
  trunk: Aggregator;
  heads: Pi3Heads;
  wgsl: WgslAttention | null;
}

async function disposeParts(p: Partial<Pi3Parts>): Promise<void> {
  for (const x of [p.trunk, p.wgsl, p.heads]) await x?.dispose().catch(() => undefined);
}

/**
 * The trunk's part of π³ as the memory estimate's config (no VGGT heads: π³'s heads are not modelled yet, so the
 * pre-flight checks the encoder, decoder and attention stages).
 */
function estimateConfig(c: Pi3Config): VggtConfig {
  // The estimate counts VGGT's special tokens as (2 + 2R)·C floats; 2 registers ≥ π³'s 5 tokens per frame.
  return {
    ...c,
    numRegisterTokens: Math.ceil(Math.max(0, c.patchStartIdx - 2) / 2),
    camera: null,
    depthHead: null,
    pointHead: null,
    hasTrackHead: false,
  };
}

/**
 * π³: images → world points, camera-frame points, confidence and camera-to-world poses.
 *
 * @example
 * const model = await Pi3.load('/models/pi3/', { onProgress: (e) => console.log(e.stage) });
 * const r = await model.run(images);        // RgbaImage[] or a preprocessed ImageTensor
 * console.log(r.cameraPoses, r.points);
 * await model.dispose();
 */
export class Pi3 {
  private disposed = false;
  private broken: HessError | null = null;
  readonly kind = 'pi3' as const;

  private constructor(
    readonly config: Pi3Config,
    readonly target: ExecutionTarget,
    readonly ort: Ort,
    private parts: Pi3Parts,
    private readonly buildParts: () => Promise<Pi3Parts>,
    private readonly closeSource: () => Promise<void>,
    private readonly memory: { dtype: 'fp32' | 'fp16'; maxGpuBytes?: number; attention: 'wgsl' | 'onnx' },
  ) {}

  /** The WGSL attention core when the model uses it (policies are set per run). */
  get wgsl(): WgslAttention | null {
    return this.parts.wgsl;
  }

  /** The device the model runs on (null on the wasm EP). */
  get gpu(): HessDevice | null {
    return this.target.ep === 'webgpu' ? this.target.gpu : null;
  }

  static async load(source: ModelSource, opts: Pi3LoadOptions = {}): Promise<Pi3> {
    checkDeviceOption(opts.device);
    check(
      opts.maxGpuBytes === undefined || (typeof opts.maxGpuBytes === 'number' && opts.maxGpuBytes > 0),
      `maxGpuBytes must be a positive number of bytes, got ${String(opts.maxGpuBytes)}`,
    );
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
      const config = inferPi3Config(st.tensors, { ...override, ...opts.config });
      checkWeightTypes(st, 'π³');
      const reader = reportingReader(st, progress);
      const choice = opts.attention ?? (target.ep === 'webgpu' ? 'wgsl' : 'onnx');
      if (choice === 'wgsl' && target.ep !== 'webgpu') {
        throw new HessError('INVALID_ARGUMENT', "attention 'wgsl' needs WebGPU", "use attention 'onnx' on the wasm EP");
      }
      const build = async (): Promise<Pi3Parts> => {
        const wgsl = choice === 'wgsl' && target.ep === 'webgpu' ? await WgslAttention.create(ort, target.gpu) : null;
        const attention = wgsl ?? (typeof choice === 'object' ? choice : undefined);
        const built: Partial<Pi3Parts> = { wgsl };
        try {
          built.trunk = await createPi3Trunk(reader, config, {
            target,
            ort,
            attention,
            signal: opts.signal,
            dtype: opts.dtype,
          });
          progress({ stage: 'sessions', message: 'encoder + decoder ready' });
          built.heads = await Pi3Heads.create(
            reader,
            {
              heads: config.headHeads,
              registers: config.numRegisterTokens,
              patchSize: config.patchSize,
              ropeFreq: config.ropeBase,
            },
            target,
            { ort, framesChunk: opts.framesChunk, signal: opts.signal, dtype: opts.dtype },
          );
          return built as Pi3Parts;
        } catch (e) {
          await disposeParts(built);
          throw e;
        }
      };
      const parts = await build();
      progress({ stage: 'ready' });
      const memory = {
        dtype: opts.dtype ?? 'fp32',
        maxGpuBytes: opts.maxGpuBytes,
        attention: parts.wgsl || typeof choice === 'object' ? ('wgsl' as const) : ('onnx' as const),
      };
      return new Pi3(config, target, ort, parts, build, closeSource, memory);
    } catch (e) {
      await closeSource();
      throw e;
    }
  }

  /** What this model's runs are checked against: the device's buffer limits and maxGpuBytes, or the wasm heap. */
  memoryLimits(maxGpuBytes = this.memory.maxGpuBytes): MemoryLimits {
    if (this.target.ep === 'wasm') return { maxWasmBytes: WASM_HEAP_BYTES };
    const l = this.target.gpu.limits;
    return { maxBufferSize: l.maxBufferSize, maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxGpuBytes };
  }

  /**
   * Memory a run would need, per stage, on this model's device, and with `limits` whether it fits and the largest S
   * that does (as {@link Vggt.estimate}; the encoder, decoder and attention stages: π³'s heads are not modelled).
   */
  estimate(
    input: Pick<EstimateInput, 'S' | 'H' | 'W' | 'dtype' | 'policy' | 'sparsity'>,
    limits?: MemoryLimits,
  ): MemoryEstimate & { fit: FitReport | null } {
    const full = this.estimateInput(input);
    const c = estimateConfig(this.config);
    return { ...estimateMemory(c, full), fit: limits ? checkMemoryFit(c, full, limits) : null };
  }

  private estimateInput(input: Pick<EstimateInput, 'S' | 'H' | 'W' | 'dtype' | 'policy' | 'sparsity'>): EstimateInput {
    return {
      dtype: this.memory.dtype,
      ...input,
      ep: this.target.ep,
      attention: this.memory.attention,
      limitBytes:
        this.target.ep === 'webgpu'
          ? Math.min(this.target.gpu.limits.maxStorageBufferBindingSize, this.target.gpu.limits.maxBufferSize)
          : undefined,
      heads: { camera: false, depth: false, points: false },
    };
  }

  /**
   * Run the model on RgbaImage[] (preprocessed here, crop mode by default) or a preprocessed `[S,3,H,W]` tensor.
   * As {@link Vggt.run}: a memory pre-flight first, GPU error scopes around the run, a typed error after a failure
   * (the sessions rebuilt when ORT's state is unknown; DEVICE_LOST for good).
   */
  async run(images: readonly RgbaImage[] | ImageTensor, opts: Pi3RunOptions = {}): Promise<Pi3Result> {
    if (this.disposed) throw new HessError('DISPOSED', 'Pi3.run after dispose()', 'load the model again');
    if (this.broken) throw this.broken;
    if (this.target.ep === 'webgpu') assertAlive(this.target.gpu);
    const t0 = performance.now();
    const input = imageInput(images, this.config.patchSize, opts);
    const policy = opts.policy ?? 'dense';
    if (opts.hess && (policy === 'hess' || policy === 'reverse')) this.checkHess(opts.hess);
    if (opts.checkMemory ?? true) {
      const maxGpuBytes = opts.maxGpuBytes ?? this.memory.maxGpuBytes;
      check(
        maxGpuBytes === undefined || (typeof maxGpuBytes === 'number' && maxGpuBytes > 0),
        `maxGpuBytes must be a positive number of bytes, got ${String(maxGpuBytes)}`,
      );
      const est = this.estimateInput({ S: input.S, H: input.H, W: input.W, policy, sparsity: opts.sparsity });
      const fit = checkMemoryFit(estimateConfig(this.config), est, this.memoryLimits(maxGpuBytes));
      if (!fit.fits) throw preflightError(fit, input, this.target.ep);
    }
    if (this.wgsl) this.wgsl.configure({ ...opts, policy });
    else if (policy !== 'dense') {
      throw new HessError(
        'INVALID_ARGUMENT',
        `policy '${policy}' needs the WGSL attention (WebGPU)`,
        "load the model on a WebGPU device with attention 'wgsl' (the default there)",
      );
    }
    try {
      return await runOnTarget(this.target, () => this.forward(input, opts, t0));
    } catch (e) {
      const { error, broken } = await classifyRunFailure(
        e,
        this.target,
        async () => {
          await disposeParts(this.parts);
          this.parts = await this.buildParts();
        },
        'Pi3',
      );
      if (broken) this.broken = broken;
      throw error;
    }
  }

  /** A HeSS file must describe π³'s global attention: one row per global layer (18), one score per head. */
  private checkHess(hess: NonNullable<Pi3RunOptions['hess']>): void {
    const { depth, numHeads } = this.config;
    if (hess.model !== undefined && hess.model !== 'pi3') {
      throw new HessError(
        'BAD_HESS_FILE',
        `the HeSS file is for a ${hess.model === 'vggt' ? 'VGGT' : String(hess.model)} model, not π³`,
        'use the HeSS file calibrated for this π³ checkpoint',
      );
    }
    const rows = Array.isArray(hess.scores) ? hess.scores : [];
    if (
      hess.layers !== depth ||
      hess.heads !== numHeads ||
      rows.length !== depth ||
      rows.some((r) => !Array.isArray(r) || r.length !== numHeads)
    ) {
      throw new HessError(
        'BAD_HESS_FILE',
        `the HeSS file is for ${hess.layers} layers × ${hess.heads} heads (${rows.length} score rows); this π³ has ${depth} global layers × ${numHeads} heads`,
        'use the HeSS file calibrated for this checkpoint',
      );
    }
  }

  private async forward(input: ImageTensor, opts: Pi3RunOptions, t0: number): Promise<Pi3Result> {
    const { S, H, W, data } = input;
    const progress = opts.onProgress ?? (() => {});
    progress({ stage: 'aggregator', message: 'encoder + decoder' });
    const last = this.config.depth - 1;
    const { trunk, heads, wgsl } = this.parts;
    // On WebGPU the hidden layer stays on the device (a GPU tensor of the trunk's dtype, which the heads share and
    // read in place); it is ours to dispose.
    const out = await trunk.run(data, { S, H, W }, { layers: [last], signal: opts.signal, layersOn: 'gpu' });
    const t1 = performance.now();
    let r;
    try {
      progress({ stage: 'heads' });
      await abortCheckpoint(opts.signal);
      r = await heads.run(out.layers.get(last)!, S, H, W, { signal: opts.signal });
    } finally {
      disposeLayers(out.layers);
    }
    const t2 = performance.now();
    progress({ stage: 'done' });
    return {
      S,
      H,
      W,
      points: r.points,
      localPoints: r.localPoints,
      conf: r.conf,
      cameraPoses: r.cameraPoses,
      timings: { trunk: t1 - t0, heads: t2 - t1, total: t2 - t0 },
      sparsity: wgsl?.stats() ?? null,
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await disposeParts(this.parts);
    await this.closeSource();
  }
}
