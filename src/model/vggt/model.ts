/**
 * The public VGGT model: checkpoint → aggregator + camera / depth / point heads on onnxruntime-web, with the
 * global-attention core pluggable (dense ONNX, our WGSL kernels, HeSS block-sparse).
 */
import type { HessDevice } from '../../gpu/device.js';
import type { ExecutionTarget, Ort, OrtOptions } from '../../runtime/ort.js';
import type { UrlCacheOption } from '../source/cache.js';
import { inferVggtConfig, type VggtConfig, type VggtConfigOverride } from '../config.js';
import { checkHessFile, type ImageTensor, type ModelSource, type ProgressEvent } from '../model-io.js';
import { loadSessions, type ModelSessions } from '../model-session.js';
import type { PreprocessMode } from '../image/preprocess.js';
import type { RgbaImage } from '../image/rgba-image.js';
import { abortCheckpoint } from '../../runtime/checkpoint.js';
import { Aggregator, disposeLayers, HEAD_LAYERS } from '../trunk/aggregator.js';
import type { AttentionCore } from '../trunk/attention-core.js';
import { CameraHead } from './camera-head.js';
import { DptHead } from './dpt-head.js';
import type { EstimateInput, FitReport, MemoryEstimate, MemoryLimits } from '../estimate/types.js';
import { checkMemoryFit, estimateMemory, VGGT_1B_CONFIG } from './estimate.js';
import { poseEncodingToExtriIntri } from './pose.js';
import type { SparsityOptions, SparsityStats, WgslAttention } from '../../runtime/wgsl-attention.js';

export type { ImageTensor, ModelSource, ProgressEvent } from '../model-io.js';

export interface VggtLoadOptions extends OrtOptions {
  /**
   * `'webgpu'` (default where WebGPU exists), `'wasm'` (CPU), or a device to share (your GPUDevice or a
   * {@link HessDevice} from createDevice()).
   */
  device?: 'webgpu' | 'wasm' | GPUDevice | HessDevice;
  /**
   * 'fp32' (default, the reference precision) or 'fp16': the aggregator and the heads compute in float16 on WebGPU
   * (weights uploaded as f16 with no fp32 copy, LayerNorm/Softmax and the heads' output activations in fp32; the
   * head layers passed on the GPU in f16). 'fp16' needs shader-f16 (NO_SHADER_F16 otherwise) and WebGPU
   * (INVALID_ARGUMENT on the wasm EP). Outputs are float32 either way.
   */
  dtype?: 'fp32' | 'fp16';
  /** What the shapes cannot say (e.g. `{ camera_heads: 16 }`; read from config.json next to a file path). */
  config?: VggtConfigOverride;
  /** Heads to load (default: all present in the checkpoint). */
  heads?: { camera?: boolean; depth?: boolean; points?: boolean };
  /** Frames per DPT-head run (default: as many as fit the heads' byte budget, min(binding limit, 1 GiB) on WebGPU). */
  framesChunk?: number;
  /**
   * GPU memory the model may use, in bytes (default: unchecked; WebGPU cannot tell how much a GPU has). Runs whose
   * {@link Vggt.estimate} exceeds it are refused with OUT_OF_MEMORY before anything is allocated.
   */
  maxGpuBytes?: number;
  /**
   * Global-attention implementation: 'wgsl' (our kernels; dense or HeSS-sparse per run; the default on WebGPU),
   * 'onnx' (dense ONNX attention; the only choice on the wasm EP), or your own {@link AttentionCore}.
   */
  attention?: 'wgsl' | 'onnx' | AttentionCore;
  /**
   * Where the weights of a URL are cached (ranges fetched once, verified by CRC-32 when read back): 'auto'
   * (default: the Cache API where it exists, else none), 'cache-api', 'opfs', 'none', `{ dir }` (a folder on
   * disk in Node/Deno/Bun) or your own `{ get, put }`. Inspect and clear it with {@link weightCache}.
   */
  cache?: UrlCacheOption;
  /**
   * Browsers: ask `navigator.storage.persist()` (once per load, before caching) so the cache is not evicted;
   * the answer is reported as an 'open' progress event with `persisted`. No-op where the API is absent.
   */
  persist?: boolean;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

export interface VggtRunOptions extends Partial<SparsityOptions> {
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  /** Preprocessing for RgbaImage inputs (default 'crop'). */
  mode?: PreprocessMode;
  /** Overrides the load option for this run. */
  maxGpuBytes?: number;
  /**
   * Check the memory estimate against the device's limits (and maxGpuBytes) before the run (default true). With
   * false an over-size run reaches onnxruntime-web, which may fail (a typed error from the GPU error scopes) or
   * never answer: on Dawn, a run with a tensor over maxStorageBufferBindingSize gave no answer within 10 minutes.
   */
  checkMemory?: boolean;
}

/** What {@link Vggt.run} returns. Arrays are row-major, frame-major. */
export interface VggtResult {
  S: number;
  H: number;
  W: number;
  /** `[S, 9]`: T xyz, quaternion XYZW, FoV h/w (radians). */
  poseEnc: Float32Array | null;
  /** `[S, 3, 4]` camera-from-world (OpenCV; world = first camera). */
  extrinsics: Float64Array | null;
  /** `[S, 3, 3]` pixel intrinsics of the preprocessed H×W images. */
  intrinsics: Float64Array | null;
  /** `[S, H, W]`. */
  depth: Float32Array | null;
  depthConf: Float32Array | null;
  /** `[S, H, W, 3]` in the first camera's frame. */
  worldPoints: Float32Array | null;
  worldPointsConf: Float32Array | null;
  /** Milliseconds per stage. */
  timings: { aggregator: number; heads: number; total: number };
  /** What global attention did (WGSL attention only): the achieved sparsity, blocks per layer, budgets. */
  sparsity: SparsityStats | null;
}

/**
 * VGGT: images → cameras, depth and point maps.
 *
 * @example
 * const model = await Vggt.load('/models/vggt-1b/model.safetensors', { onProgress: (e) => console.log(e.stage) });
 * const r = await model.run(images);        // RgbaImage[] (ImageData-like) or a preprocessed ImageTensor
 * console.log(r.extrinsics, r.depth);
 * await model.dispose();
 */
export class Vggt {
  /** Which model this is ({@link loadModel} returns a Vggt or a Pi3). */
  readonly kind = 'vggt' as const;
  readonly target: ExecutionTarget;

  private constructor(
    readonly config: VggtConfig,
    readonly ort: Ort,
    private readonly sessions: ModelSessions<ModelParts>,
    private readonly framesChunk: number | undefined,
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

  /**
   * Memory a run would need, per stage, without a model (default: VGGT-1B's architecture), and with `limits` whether
   * it fits and the largest S that does. See {@link estimateMemory} for what is modelled.
   *
   * @example
   * const e = Vggt.estimate({ S: 32, H: 518, W: 518, dtype: 'fp16', policy: 'hess' }, undefined, { maxGpuBytes: 16e9 });
   * console.log(e.gpuBytes / 2 ** 30, 'GiB;', e.fit?.fits, 'largest S', e.fit?.largestS);
   */
  static estimate(
    input: EstimateInput,
    config: VggtConfig = VGGT_1B_CONFIG,
    limits?: MemoryLimits,
  ): MemoryEstimate & { fit: FitReport | null } {
    return { ...estimateMemory(config, input), fit: limits ? checkMemoryFit(config, input, limits) : null };
  }

  /** {@link Vggt.estimate} for this model as loaded (its device, heads, attention, frames per DPT chunk). */
  estimate(
    input: Pick<EstimateInput, 'S' | 'H' | 'W' | 'dtype' | 'policy' | 'sparsity'>,
    limits?: MemoryLimits,
  ): MemoryEstimate & { fit: FitReport | null } {
    const full = this.estimateInput(input);
    return { ...estimateMemory(this.config, full), fit: limits ? checkMemoryFit(this.config, full, limits) : null };
  }

  /** What this model's runs are checked against: the device's buffer limits and maxGpuBytes, or the wasm heap. */
  memoryLimits(maxGpuBytes?: number): MemoryLimits {
    return this.sessions.memoryLimits(maxGpuBytes);
  }

  private estimateInput(input: Pick<EstimateInput, 'S' | 'H' | 'W' | 'dtype' | 'policy' | 'sparsity'>): EstimateInput {
    const { camera, depth, points } = this.sessions.parts;
    return {
      ...this.sessions.estimateInput(input),
      framesChunk: this.framesChunk,
      heads: { camera: camera !== null, depth: depth !== null, points: points !== null },
    };
  }

  static async load(source: ModelSource, opts: VggtLoadOptions = {}): Promise<Vggt> {
    const want = { camera: true, depth: true, points: true, ...opts.heads };
    const { config, sessions } = await loadSessions<VggtConfig, ModelParts>(source, opts, {
      name: 'VGGT',
      className: 'Vggt',
      inferConfig: inferVggtConfig,
      unread: (name) => name.startsWith('track_head.'), // the track head is never read
      build: async ({ reader, config, target, ort, attention, progress }, built) => {
        built.aggregator = await Aggregator.create(reader, config, {
          target,
          ort,
          attention,
          signal: opts.signal,
          dtype: opts.dtype,
        });
        progress({ stage: 'sessions', message: 'aggregator ready' });
        const dimIn = 2 * config.embedDim;
        const common = { dimIn, patchSize: config.patchSize, patchStartIdx: config.patchStartIdx };
        const chunk = { framesChunk: opts.framesChunk, ort, dtype: opts.dtype };
        built.camera =
          want.camera && config.camera
            ? await CameraHead.create(reader, config.camera, target, { ort, dtype: opts.dtype })
            : null;
        built.depth =
          want.depth && config.depthHead
            ? await DptHead.create(reader, { kind: 'depth', head: config.depthHead, ...common }, target, chunk)
            : null;
        built.points =
          want.points && config.pointHead
            ? await DptHead.create(reader, { kind: 'point', head: config.pointHead, ...common }, target, chunk)
            : null;
      },
      parts: (p) => [p.aggregator, p.wgsl, p.camera, p.depth, p.points],
    });
    return new Vggt(config, sessions.ort, sessions, opts.framesChunk);
  }

  /**
   * Run the model on RgbaImage[] (preprocessed here, crop mode by default) or a preprocessed `[S,3,H,W]` tensor.
   *
   * Before anything is allocated, the run's {@link Vggt.estimate} is checked against the device's buffer limits
   * and `maxGpuBytes` (WebGPU) or the 4 GiB wasm heap: LIMIT_TOO_SMALL / OUT_OF_MEMORY name the largest S that
   * fits. On WebGPU the run sits inside GPU error scopes: a failed allocation is OUT_OF_MEMORY, a lost device
   * DEVICE_LOST, an onnxruntime-web failure ORT_ERROR (with its `cause`). After such a failure the model stays
   * usable when its sessions still answer (checked at once); otherwise every later run throws the same typed error.
   */
  async run(images: readonly RgbaImage[] | ImageTensor, opts: VggtRunOptions = {}): Promise<VggtResult> {
    return this.sessions.run(images, opts, {
      patchSize: this.config.patchSize,
      checkHess: (hess) =>
        checkHessFile(hess, { kind: 'vggt', depth: this.config.depth, numHeads: this.config.numHeads }),
      fit: (input, limits) => checkMemoryFit(this.config, this.estimateInput(input), limits),
      forward: (input, t0) => this.forward(input, opts, t0),
    });
  }

  private async forward(input: ImageTensor, opts: VggtRunOptions, t0: number): Promise<VggtResult> {
    const { S, H, W, data } = input;
    const progress = opts.onProgress ?? (() => {});
    progress({ stage: 'aggregator' });
    const last = this.config.depth - 1;
    const layers = new Set<number>([last]);
    const { aggregator, camera, depth, points, wgsl } = this.sessions.parts;
    if (depth || points) for (const l of HEAD_LAYERS) if (l < this.config.depth) layers.add(l);
    // On WebGPU the layers stay on the device (GPU tensors the heads read in place); they are ours to dispose.
    const agg = await aggregator.run(data, { S, H, W }, { layers: [...layers], signal: opts.signal, layersOn: 'gpu' });
    const t1 = performance.now();
    let poseEnc: Float32Array | null, d: { values: Float32Array; conf: Float32Array } | null, p: typeof d;
    try {
      progress({ stage: 'heads' });
      // Checkpoints between the heads: each is one or more onnxruntime runs that hold the thread on the wasm EP.
      await abortCheckpoint(opts.signal);
      poseEnc = camera ? await camera.run(agg.layers.get(last)!, S) : null;
      await abortCheckpoint(opts.signal);
      d = depth ? await depth.run(agg.layers, S, H, W, { signal: opts.signal }) : null;
      await abortCheckpoint(opts.signal);
      p = points ? await points.run(agg.layers, S, H, W, { signal: opts.signal }) : null;
    } finally {
      disposeLayers(agg.layers);
    }
    const cams = poseEnc ? poseEncodingToExtriIntri(poseEnc, S, H, W) : null;
    const t2 = performance.now();
    progress({ stage: 'done' });
    return {
      S,
      H,
      W,
      poseEnc,
      extrinsics: cams?.extrinsics ?? null,
      intrinsics: cams?.intrinsics ?? null,
      depth: d?.values ?? null,
      depthConf: d?.conf ?? null,
      worldPoints: p?.values ?? null,
      worldPointsConf: p?.conf ?? null,
      timings: { aggregator: t1 - t0, heads: t2 - t1, total: t2 - t0 },
      sparsity: wgsl?.stats() ?? null,
    };
  }

  /** Release the sessions and close the checkpoint. */
  async dispose(): Promise<void> {
    await this.sessions.dispose();
  }
}

/** What a loaded model runs: its sessions (rebuilt together after a failed run). */
interface ModelParts {
  aggregator: Aggregator;
  camera: CameraHead | null;
  depth: DptHead | null;
  points: DptHead | null;
  wgsl: WgslAttention | null;
}
