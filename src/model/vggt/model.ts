/**
 * The public VGGT model: checkpoint → aggregator + camera / depth / point heads on onnxruntime-web, with the
 * global-attention core pluggable (dense ONNX, our WGSL kernels, HeSS block-sparse).
 */
import { HessError, check } from '../../errors';
import { abortCheckpoint } from '../../runtime/checkpoint';
import { assertAlive, createDevice, deviceLostError, type HessDevice, withGpuErrorScopes } from '../../gpu/device';
import { loadOrt, type ExecutionTarget, type Ort, type OrtOptions } from '../../runtime/ort';
import { openCheckpointPath, openCheckpointUrl } from '../checkpoint';
import type { UrlCacheOption } from '../cache';
import { weightCache } from '../weight-cache';
import { inferVggtConfig, type VggtConfig, type VggtConfigOverride } from '../config';
import { preprocessImages, type PreprocessMode } from '../preprocess';
import type { RgbaImage } from '../rgba-image';
import {
  blobSource, bytesSource, openSafetensors, type ByteSource, type Safetensors,
} from '../safetensors';
import { Aggregator, checkComputeType, disposeLayers, HEAD_LAYERS } from './aggregator';
import type { AttentionCore } from './attention-core';
import { CameraHead } from './camera-head';
import { DptHead } from './dpt-head';
import {
  checkMemoryFit, estimateMemory, type EstimateInput, type FitReport, type MemoryEstimate, type MemoryLimits,
  VGGT_1B_CONFIG, WASM_HEAP_BYTES,
} from './estimate';
import { poseEncodingToExtriIntri } from './pose';
import { WgslAttention, type SparsityOptions, type SparsityStats } from '../../runtime/wgsl-attention';

/** Where the checkpoint comes from: a URL, a file path (Node/Deno/Bun), bytes, a Blob/File, or any ByteSource. */
export type ModelSource = string | URL | Uint8Array | Blob | ByteSource;

/** transformers.js-style progress events. */
export interface ProgressEvent {
  stage: 'open' | 'weights' | 'sessions' | 'ready' | 'preprocess' | 'aggregator' | 'heads' | 'done';
  /** 0…1 within the stage where known. */
  progress?: number;
  /** 'weights': checkpoint bytes read so far and in all. */
  loaded?: number;
  total?: number;
  message?: string;
  /** 'open' with `persist: true`: whether the browser granted persistent storage for the weight cache. */
  persisted?: boolean;
}

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

/** Images already preprocessed: `[S, 3, H, W]` in [0, 1]. */
export interface ImageTensor {
  data: Float32Array;
  S: number;
  H: number;
  W: number;
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

const isNode = () => Boolean((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node);

async function openSource(source: ModelSource, opts: VggtLoadOptions): Promise<{ st: Safetensors; override: VggtConfigOverride }> {
  let src: ByteSource;
  if (source instanceof Uint8Array) src = bytesSource(source);
  else if (typeof Blob !== 'undefined' && source instanceof Blob) src = blobSource(source);
  else if (typeof source === 'object' && 'read' in source && 'size' in source) src = source as ByteSource;
  else {
    const s = String(source);
    if (/^https?:|^blob:/.test(s) || !isNode()) {
      if (opts.persist) opts.onProgress?.({ stage: 'open', persisted: await weightCache.persist() });
      return openCheckpointUrl(s, { signal: opts.signal, cache: opts.cache }); // a file or directory URL (+ config.json)
    } else {
      return openCheckpointPath(s, { signal: opts.signal }); // a file path or a directory (+ config.json)
    }
  }
  return { st: await openSafetensors(src, { signal: opts.signal }), override: {} };
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
  private disposed = false;
  /** Set when a failure left the model unusable (device lost, ORT's state unknown): every later run throws it. */
  private broken: HessError | null = null;

  private constructor(
    readonly config: VggtConfig,
    readonly target: ExecutionTarget,
    readonly ort: Ort,
    private parts: ModelParts,
    /** Builds the sessions again from the still-open checkpoint (after a failed run left them unusable). */
    private readonly buildParts: () => Promise<ModelParts>,
    private readonly closeSource: () => Promise<void>,
    private readonly memory: { dtype: 'fp32' | 'fp16'; framesChunk?: number; maxGpuBytes?: number; attention: 'wgsl' | 'onnx' },
  ) {}

  /** The WGSL attention core when the model uses it (policies are set per run). */
  get wgsl(): WgslAttention | null {
    return this.parts.wgsl;
  }

  /** The device the model runs on (null on the wasm EP). */
  get gpu(): HessDevice | null {
    return this.target.ep === 'webgpu' ? this.target.gpu : null;
  }

  /**
   * Memory a run would need, per stage, without a model (default: VGGT-1B's architecture), and with `limits` whether
   * it fits and the largest S that does. See {@link estimateMemory} for what is modelled.
   *
   * @example
   * const e = Vggt.estimate({ S: 32, H: 518, W: 518, dtype: 'fp16', policy: 'hess' }, undefined, { maxGpuBytes: 16e9 });
   * console.log(e.gpuBytes / 2 ** 30, 'GiB;', e.fit?.fits, 'largest S', e.fit?.largestS);
   */
  static estimate(input: EstimateInput, config: VggtConfig = VGGT_1B_CONFIG, limits?: MemoryLimits): MemoryEstimate & { fit: FitReport | null } {
    return { ...estimateMemory(config, input), fit: limits ? checkMemoryFit(config, input, limits) : null };
  }

  /** {@link Vggt.estimate} for this model as loaded (its device, heads, attention, frames per DPT chunk). */
  estimate(input: Pick<EstimateInput, 'S' | 'H' | 'W' | 'dtype' | 'policy' | 'sparsity'>, limits?: MemoryLimits): MemoryEstimate & { fit: FitReport | null } {
    const full = this.estimateInput(input);
    return { ...estimateMemory(this.config, full), fit: limits ? checkMemoryFit(this.config, full, limits) : null };
  }

  /** What this model's runs are checked against: the device's buffer limits and maxGpuBytes, or the wasm heap. */
  memoryLimits(maxGpuBytes = this.memory.maxGpuBytes): MemoryLimits {
    if (this.target.ep === 'wasm') return { maxWasmBytes: WASM_HEAP_BYTES };
    const l = this.target.gpu.limits;
    return { maxBufferSize: l.maxBufferSize, maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxGpuBytes };
  }

  private estimateInput(input: Pick<EstimateInput, 'S' | 'H' | 'W' | 'dtype' | 'policy' | 'sparsity'>): EstimateInput {
    return {
      dtype: this.memory.dtype, ...input, ep: this.target.ep, attention: this.memory.attention, framesChunk: this.memory.framesChunk,
      // the aggregator and heads plan their chunks from the device's per-buffer limit (wasm: the estimate's default)
      limitBytes: this.target.ep === 'webgpu' ? Math.min(this.target.gpu.limits.maxStorageBufferBindingSize, this.target.gpu.limits.maxBufferSize) : undefined,
      heads: { camera: this.parts.camera !== null, depth: this.parts.depth !== null, points: this.parts.points !== null },
    };
  }

  static async load(source: ModelSource, opts: VggtLoadOptions = {}): Promise<Vggt> {
    check(opts.device === undefined || (typeof opts.device === 'string' ? ['webgpu', 'wasm'].includes(opts.device) : typeof opts.device === 'object' && opts.device !== null),
      `device must be 'webgpu', 'wasm', a GPUDevice or a HessDevice, got ${JSON.stringify(opts.device)}`, "pass device: 'webgpu' or 'wasm'");
    check(opts.maxGpuBytes === undefined || (typeof opts.maxGpuBytes === 'number' && opts.maxGpuBytes > 0),
      `maxGpuBytes must be a positive number of bytes, got ${String(opts.maxGpuBytes)}`);
    const progress = opts.onProgress ?? (() => {});
    progress({ stage: 'open' });
    const ort = await loadOrt(opts);
    const target = await chooseTarget(opts.device);
    checkComputeType(opts.dtype, target); // before any weight is read
    const { st, override } = await openSource(source, opts);
    const closeSource = async () => { await (st as { close?: () => Promise<void> }).close?.(); };
    try {
      await abortCheckpoint(opts.signal);
      const config = inferVggtConfig(st.tensors, { ...override, ...opts.config });
      checkWeightTypes(st);
      // Report weight reading as progress: every tensor read goes through this wrapper; each is checked for
      // NaN/Inf as it passes (one pass over data already in memory), so broken weights fail the load, not a run.
      const total = [...st.tensors.values()].reduce((a, t) => a + t.byteLength, 0);
      let loaded = 0;
      const reader = {
        ...st,
        tensors: st.tensors,
        read: async (name: string) => {
          const out = await st.read(name);
          checkFinite(out, name);
          loaded += st.tensors.get(name)?.byteLength ?? 0;
          progress({ stage: 'weights', progress: Math.min(1, loaded / total), loaded, total });
          return out;
        },
        readRaw: async (name: string) => { // fp16 models read F16/BF16 weights raw
          const out = await st.readRaw(name);
          loaded += st.tensors.get(name)?.byteLength ?? 0;
          progress({ stage: 'weights', progress: Math.min(1, loaded / total), loaded, total });
          return out;
        },
      } as Safetensors;
      const choice = opts.attention ?? (target.ep === 'webgpu' ? 'wgsl' : 'onnx');
      if (choice === 'wgsl' && target.ep !== 'webgpu') {
        throw new HessError('INVALID_ARGUMENT', "attention 'wgsl' needs WebGPU", "use attention 'onnx' on the wasm EP");
      }
      const build = async (): Promise<ModelParts> => {
        const wgsl = choice === 'wgsl' && target.ep === 'webgpu' ? await WgslAttention.create(ort, target.gpu) : null;
        const attention = wgsl ?? (typeof choice === 'object' ? choice : undefined);
        const built: Partial<ModelParts> = { wgsl };
        try {
          built.aggregator = await Aggregator.create(reader, config, { target, ort, attention, signal: opts.signal, dtype: opts.dtype });
          progress({ stage: 'sessions', message: 'aggregator ready' });
          const want = { camera: true, depth: true, points: true, ...opts.heads };
          const dimIn = 2 * config.embedDim;
          const common = { dimIn, patchSize: config.patchSize, patchStartIdx: config.patchStartIdx };
          const chunk = { framesChunk: opts.framesChunk, ort, dtype: opts.dtype };
          built.camera = want.camera && config.camera ? await CameraHead.create(reader, config.camera, target, { ort, dtype: opts.dtype }) : null;
          built.depth = want.depth && config.depthHead
            ? await DptHead.create(reader, { kind: 'depth', head: config.depthHead, ...common }, target, chunk) : null;
          built.points = want.points && config.pointHead
            ? await DptHead.create(reader, { kind: 'point', head: config.pointHead, ...common }, target, chunk) : null;
          return built as ModelParts;
        } catch (e) {
          await disposeParts(built);
          throw e;
        }
      };
      const parts = await build();
      progress({ stage: 'ready' });
      const memory = { dtype: opts.dtype ?? 'fp32', framesChunk: opts.framesChunk, maxGpuBytes: opts.maxGpuBytes, attention: parts.wgsl || typeof choice === 'object' ? 'wgsl' as const : 'onnx' as const };
      return new Vggt(config, target, ort, parts, build, closeSource, memory);
    } catch (e) {
      await closeSource();
      throw e;
    }
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
    if (this.disposed) throw new HessError('DISPOSED', 'Vggt.run after dispose()', 'load the model again');
    if (this.broken) throw this.broken;
    if (this.target.ep === 'webgpu') assertAlive(this.target.gpu);
    const t0 = performance.now();
    const input = this.input(images, opts);
    const policy = opts.policy ?? 'dense';
    if (opts.hess && (policy === 'hess' || policy === 'reverse')) this.checkHess(opts.hess);
    if (opts.checkMemory ?? true) this.preflight(input, opts, policy);
    if (this.wgsl) this.wgsl.configure({ ...opts, policy });
    else if (policy !== 'dense') {
      throw new HessError('INVALID_ARGUMENT', `policy '${policy}' needs the WGSL attention (WebGPU)`,
        "load the model on a WebGPU device with attention 'wgsl' (the default there)");
    }
    const gpu = this.target.ep === 'webgpu' ? this.target.gpu : null;
    try {
      if (!gpu) return await this.forward(input, opts, t0);
      const work = withGpuErrorScopes(gpu, () => this.forward(input, opts, t0));
      // A device lost mid-run can leave onnxruntime-web waiting on GPU work that will never complete: answer with
      // DEVICE_LOST as soon as the device says so, instead of waiting with it.
      work.catch(() => undefined);
      return await Promise.race([work, gpu.device.lost.then((info) => { throw deviceLostError(info); })]);
    } catch (e) {
      throw await this.failed(e);
    }
  }

  /** Validate and preprocess the images into one `[S, 3, H, W]` float32 tensor (finite values). */
  private input(images: readonly RgbaImage[] | ImageTensor, opts: VggtRunOptions): ImageTensor {
    let input: ImageTensor;
    if (Array.isArray(images)) {
      check(images.length > 0, 'run() needs at least one image');
      opts.onProgress?.({ stage: 'preprocess' });
      const pre = preprocessImages(images as RgbaImage[], { mode: opts.mode ?? 'crop' });
      input = { data: pre.data, S: pre.frames, H: pre.height, W: pre.width };
    } else {
      check(typeof images === 'object' && images !== null, 'run() takes RgbaImage[] or { data, S, H, W }');
      const { data } = images as ImageTensor;
      const f64 = (data as unknown) instanceof Float64Array;
      check(data instanceof Float32Array || f64, `images.data must be a Float32Array (or Float64Array), got ${Object.prototype.toString.call(data)}`,
        'pass [S, 3, H, W] values in [0, 1] as a Float32Array');
      input = { ...(images as ImageTensor), data: f64 ? Float32Array.from(data as unknown as Float64Array) : data };
    }
    const { S, H, W, data } = input;
    const ps = this.config.patchSize;
    if (!(Number.isInteger(S) && S > 0 && H > 0 && W > 0 && H % ps === 0 && W % ps === 0 && data.length === S * 3 * H * W)) {
      throw new HessError('SHAPE_MISMATCH', `images must be [S, 3, H, W] with H, W multiples of ${ps}; got S=${S} H=${H} W=${W} (${data.length} values)`,
        'pass RgbaImage[] to have them preprocessed, or use preprocessImages()');
    }
    const frame = 3 * H * W;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v - v !== 0) { // NaN or ±Inf, in one comparison
        throw new HessError('INVALID_ARGUMENT', `frame ${Math.floor(i / frame)} has a ${Number.isNaN(v) ? 'NaN' : 'infinite'} value (element ${i % frame})`,
          'pass finite pixel values in [0, 1] (preprocessImages makes them from RGBA images)');
      }
    }
    return input;
  }

  /** A HeSS file must describe this model's global attention: one row per global block, one score per head. */
  private checkHess(hess: NonNullable<VggtRunOptions['hess']>): void {
    const { depth, numHeads } = this.config;
    const rows = Array.isArray(hess.scores) ? hess.scores : [];
    if (hess.layers !== depth || hess.heads !== numHeads || rows.length !== depth || rows.some((r) => !Array.isArray(r) || r.length !== numHeads)) {
      throw new HessError('BAD_HESS_FILE', `the HeSS file is for ${hess.layers} layers × ${hess.heads} heads (${rows.length} score rows); this model has ${depth} × ${numHeads}`,
        'use the HeSS file calibrated for this checkpoint (npx hess-vggt calibrate makes one)');
    }
  }

  /** Refuse, before allocating, a run that cannot fit the device's limits, maxGpuBytes or the wasm heap. */
  private preflight(input: ImageTensor, opts: VggtRunOptions, policy: string): void {
    const { S, H, W } = input;
    const maxGpuBytes = opts.maxGpuBytes ?? this.memory.maxGpuBytes;
    check(maxGpuBytes === undefined || (typeof maxGpuBytes === 'number' && maxGpuBytes > 0), `maxGpuBytes must be a positive number of bytes, got ${String(maxGpuBytes)}`);
    const est = this.estimateInput({ S, H, W, policy: policy as EstimateInput['policy'], sparsity: opts.sparsity });
    const fit = checkMemoryFit(this.config, est, this.memoryLimits(maxGpuBytes));
    if (fit.fits) return;
    const most = fit.largestS > 0 ? `at most ${fit.largestS} frame${fit.largestS > 1 ? 's' : ''} fit at ${H}×${W}` : `not even one frame fits at ${H}×${W}`;
    const fix = this.target.ep === 'wasm'
      ? `use WebGPU or fewer frames (at most ${fit.largestS} at this size)`
      : `use at most ${fit.largestS} frames or a smaller resolution${fit.code === 'OUT_OF_MEMORY' ? ', or raise maxGpuBytes if the GPU has more' : ', or a GPU/browser with larger buffer limits'}`;
    throw new HessError(fit.code!, `${S} frames at ${H}×${W}: ${fit.reason}; ${most}`, fix);
  }

  private async forward(input: ImageTensor, opts: VggtRunOptions, t0: number): Promise<VggtResult> {
    const { S, H, W, data } = input;
    const progress = opts.onProgress ?? (() => {});
    progress({ stage: 'aggregator' });
    const last = this.config.depth - 1;
    const layers = new Set<number>([last]);
    const { aggregator, camera, depth, points, wgsl } = this.parts;
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
      S, H, W, poseEnc,
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

  /**
   * Turn a run's failure into a typed error, and leave the model usable or say it is not. Deliberate errors (bad
   * input, abort) leave it as it was. A lost device breaks it for good (DEVICE_LOST on every later run). A GPU or
   * onnxruntime-web failure inside the run (OUT_OF_MEMORY, GPU_ERROR, ORT_ERROR with the cause) can leave ORT's
   * sessions unusable — on WebGPU the next run then failed or hung (measured: a GPU validation error mid-run, then
   * "createBindGroup: no overload matched" and a run that never answered) — so the sessions are rebuilt from the
   * still-open checkpoint before this returns; if that fails too, every later run throws.
   */
  private async failed(e: unknown): Promise<HessError> {
    const gpu = this.target.ep === 'webgpu' ? this.target.gpu : null;
    if (gpu?.lost() || (e instanceof HessError && e.code === 'DEVICE_LOST')) {
      this.broken = e instanceof HessError && e.code === 'DEVICE_LOST' ? e : deviceLostError(e);
      return this.broken;
    }
    const deliberate = e instanceof HessError && !['OUT_OF_MEMORY', 'GPU_ERROR', 'ORT_ERROR', 'LIMIT_TOO_SMALL'].includes(e.code);
    if (deliberate) return e as HessError;
    const err = e instanceof HessError ? e : new HessError('ORT_ERROR', `onnxruntime-web failed during the run: ${String((e as Error)?.message ?? e)}`,
      'use fewer frames or a smaller resolution (Vggt.estimate says what fits); if it persists, reload the model', { cause: e });
    const old = this.parts;
    try {
      await disposeParts(old);
      this.parts = await this.buildParts();
    } catch (rebuild) {
      this.broken = new HessError(err.code, `the model is unusable after a failed run (${err.message}); rebuilding its sessions failed: ${String((rebuild as Error)?.message ?? rebuild)}`,
        'dispose() it and Vggt.load() again', { cause: rebuild });
    }
    return err;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await disposeParts(this.parts);
    await this.closeSource();
  }
}

async function chooseTarget(device: VggtLoadOptions['device']): Promise<ExecutionTarget> {
  check(device === undefined || device === 'webgpu' || device === 'wasm' || (typeof device === 'object' && device !== null), `device must be 'webgpu', 'wasm' or a GPUDevice, got ${JSON.stringify(device)}`, "e.g. Vggt.load(path, { device: 'wasm' })");
  if (device === 'wasm') return { ep: 'wasm' };
  if (device && device !== 'webgpu') {
    const gpu = 'device' in device && 'features' in device && 'lost' in device && typeof (device as HessDevice).lost === 'function'
      ? (device as HessDevice) : await createDevice({ device: device as GPUDevice });
    return { ep: 'webgpu', gpu };
  }
  try {
    return { ep: 'webgpu', gpu: await createDevice() };
  } catch (e) {
    if (device === 'webgpu') throw e;
    return { ep: 'wasm' }; // no WebGPU here: the CPU path still works
  }
}

/** Every weight the model reads must be a float type, as `convert` requires (an int tensor would run as garbage). */
function checkWeightTypes(st: Safetensors): void {
  const floats = new Set(['F64', 'F32', 'F16', 'BF16']);
  for (const t of st.tensors.values()) {
    if (t.name.startsWith('track_head.')) continue; // never read
    if (!floats.has(t.dtype)) {
      throw new HessError('BAD_CHECKPOINT', `tensor ${t.name} is ${t.dtype}; VGGT weights are floating point`, 'use an unmodified VGGT checkpoint');
    }
  }
}

/** NaN/Inf in a weight would surface much later as a misleading error (e.g. "quaternion has no direction"). */
function checkFinite(a: Float32Array, name: string): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0) {
      throw new HessError('BAD_CHECKPOINT', `tensor ${name} holds ${Number.isNaN(v) ? 'NaN' : 'infinite'} values (element ${i})`,
        'the checkpoint is corrupt: fetch or convert it again');
    }
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

/** Release whatever of `p` exists; a session that fails to release (after a failed run) does not stop the rest. */
async function disposeParts(p: Partial<ModelParts>): Promise<void> {
  for (const x of [p.aggregator, p.wgsl, p.camera, p.depth, p.points]) await x?.dispose().catch(() => undefined);
}
