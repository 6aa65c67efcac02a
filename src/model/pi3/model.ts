/**
 * The public π³ (Pi3) model: checkpoint → encoder + decoder (the shared trunk, {@link createPi3Trunk}) + π³'s heads
 * on onnxruntime-web, with the same options, progress, abort, error and device conventions as {@link Vggt}. The 18
 * global layers take the same pluggable attention core: dense ONNX, our WGSL kernels, HeSS block-sparse.
 */
import type { HessDevice } from '../../gpu/device.js';
import { abortCheckpoint } from '../../runtime/checkpoint.js';
import type { ExecutionTarget, Ort, OrtOptions } from '../../runtime/ort.js';
import type { SparsityStats, WgslAttention } from '../../runtime/wgsl-attention.js';
import type { UrlCacheOption } from '../source/cache.js';
import {
  checkHessFile,
  type DeviceOption,
  type ImageTensor,
  type ModelSource,
  type ProgressEvent,
} from '../model-io.js';
import { loadSessions, type ModelSessions } from '../model-session.js';
import type { RgbaImage } from '../image/rgba-image.js';
import type { Aggregator } from '../trunk/aggregator.js';
import { disposeLayers } from '../trunk/aggregator.js';
import type { AttentionCore } from '../trunk/attention-core.js';
import { checkModelFit } from '../estimate/fit.js';
import { estimateModelMemory } from '../estimate/trunk.js';
import type { EstimateInput, FitReport, HeadsMemory, MemoryEstimate, MemoryLimits } from '../estimate/types.js';
import type { VggtRunOptions } from '../vggt/model.js';
import { inferPi3Config, type Pi3Config, type Pi3ConfigOverride } from './config.js';
import { pi3HeadsMemory, pi3TrunkEstimateConfig } from './estimate.js';
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
  readonly kind = 'pi3' as const;
  readonly target: ExecutionTarget;
  /** The heads' dtype: the trunk's (an fp16 trunk hands its layer to fp16 heads on the GPU); the estimate follows it. */
  private get headsDtype(): 'fp32' | 'fp16' {
    return this.sessions.memory.dtype;
  }

  private constructor(
    readonly config: Pi3Config,
    readonly ort: Ort,
    private readonly sessions: ModelSessions<Pi3Parts>,
  ) {
    this.target = sessions.target;
  }

  /** The WGSL attention core when the model uses it (policies are set per run). */
  get wgsl(): WgslAttention | null {
    return this.sessions.parts.wgsl;
  }

  /** The device the model runs on (null on the wasm EP). */
  get gpu(): HessDevice | null {
    return this.sessions.gpu;
  }

  static async load(source: ModelSource, opts: Pi3LoadOptions = {}): Promise<Pi3> {
    const { config, sessions } = await loadSessions<Pi3Config, Pi3Parts>(source, opts, {
      name: 'π³',
      className: 'Pi3',
      inferConfig: inferPi3Config,
      build: async ({ reader, config, target, ort, attention, progress }, built) => {
        built.trunk = await createPi3Trunk(reader, config, {
          target,
          ort,
          attention,
          signal: opts.signal,
          dtype: opts.dtype,
        });
        progress({ stage: 'sessions', message: 'encoder + decoder ready' });
        built.heads = await Pi3Heads.create(reader, headsConfig(config), target, {
          ort,
          framesChunk: opts.framesChunk,
          signal: opts.signal,
          dtype: opts.dtype,
        });
      },
      parts: (p) => [p.trunk, p.wgsl, p.heads],
    });
    return new Pi3(config, sessions.ort, sessions);
  }

  /** What this model's runs are checked against: the device's buffer limits and maxGpuBytes, or the wasm heap. */
  memoryLimits(maxGpuBytes?: number): MemoryLimits {
    return this.sessions.memoryLimits(maxGpuBytes);
  }

  /**
   * Memory a run would need, per stage, on this model's device, and with `limits` whether it fits and the largest S
   * that does (as {@link Vggt.estimate}): the encoder, decoder, attention and π³'s heads (their weights, the layer
   * they read, one frame chunk of the three head decoders).
   */
  estimate(
    input: Pick<EstimateInput, 'S' | 'H' | 'W' | 'dtype' | 'policy' | 'sparsity'>,
    limits?: MemoryLimits,
  ): MemoryEstimate & { fit: FitReport | null } {
    const full = this.sessions.estimateInput(input);
    const c = pi3TrunkEstimateConfig(this.config);
    const heads = this.headsMemory();
    return {
      ...estimateModelMemory(c, full, heads),
      fit: limits ? checkModelFit(c, full, limits, heads) : null,
    };
  }

  /** The heads' part of the estimate, from the heads as loaded (their widths, frames per run). */
  private headsMemory(): HeadsMemory {
    const { heads } = this.sessions.parts;
    const model = pi3HeadsMemory(heads.config, heads.dims, this.headsDtype);
    return { ...model, framesChunk: ({ H, W }) => heads.framesPerRun(H, W) };
  }

  /**
   * Run the model on RgbaImage[] (preprocessed here, crop mode by default) or a preprocessed `[S,3,H,W]` tensor.
   * As {@link Vggt.run}: a memory pre-flight first, GPU error scopes around the run, a typed error after a failure
   * (the sessions rebuilt when ORT's state is unknown; DEVICE_LOST for good).
   */
  async run(images: readonly RgbaImage[] | ImageTensor, opts: Pi3RunOptions = {}): Promise<Pi3Result> {
    return this.sessions.run(images, opts, {
      patchSize: this.config.patchSize,
      checkHess: (hess) =>
        checkHessFile(hess, { kind: 'pi3', depth: this.config.depth, numHeads: this.config.numHeads }),
      fit: (input, limits) =>
        checkModelFit(
          pi3TrunkEstimateConfig(this.config),
          this.sessions.estimateInput(input),
          limits,
          this.headsMemory(),
        ),
      forward: (input, t0) => this.forward(input, opts, t0),
    });
  }

  private async forward(input: ImageTensor, opts: Pi3RunOptions, t0: number): Promise<Pi3Result> {
    const { S, H, W, data } = input;
    const progress = opts.onProgress ?? (() => {});
    progress({ stage: 'aggregator', message: 'encoder + decoder' });
    const last = this.config.depth - 1;
    const { trunk, heads, wgsl } = this.sessions.parts;
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

  /** Release the sessions and close the checkpoint. */
  async dispose(): Promise<void> {
    await this.sessions.dispose();
  }
}

/** The heads' spec from π³'s config. */
function headsConfig(c: Pi3Config) {
  return { heads: c.headHeads, registers: c.numRegisterTokens, patchSize: c.patchSize, ropeFreq: c.ropeBase };
}
