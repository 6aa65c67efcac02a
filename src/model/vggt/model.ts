/**
 * The public VGGT model: checkpoint → aggregator + camera / depth / point heads on onnxruntime-web, with the
 * global-attention core pluggable (dense ONNX, our WGSL kernels, HeSS block-sparse).
 */
import { HessError, check, throwIfAborted } from '../../errors';
import { assertAlive, createDevice, type HessDevice } from '../../gpu/device';
import { loadOrt, type ExecutionTarget, type Ort, type OrtOptions } from '../../runtime/ort';
import { openCheckpointPath, openCheckpointUrl } from '../checkpoint';
import { inferVggtConfig, type VggtConfig, type VggtConfigOverride } from '../config';
import { preprocessImages, type PreprocessMode, type RgbaImage } from '../preprocess';
import {
  blobSource, bytesSource, openSafetensors, type ByteSource, type Safetensors,
} from '../safetensors';
import { Aggregator, checkComputeType, HEAD_LAYERS } from './aggregator';
import type { AttentionCore } from './attention-core';
import { CameraHead } from './camera-head';
import { DptHead } from './dpt-head';
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
}

export interface VggtLoadOptions extends OrtOptions {
  /**
   * `'webgpu'` (default where WebGPU exists), `'wasm'` (CPU), or a device to share (your GPUDevice or a
   * {@link HessDevice} from createDevice()).
   */
  device?: 'webgpu' | 'wasm' | GPUDevice | HessDevice;
  /**
   * 'fp32' (default, the reference precision) or 'fp16': the aggregator computes in float16 on WebGPU (weights
   * uploaded as f16, LayerNorm/Softmax in fp32); the heads stay fp32. 'fp16' needs shader-f16 (NO_SHADER_F16
   * otherwise) and WebGPU (INVALID_ARGUMENT on the wasm EP).
   */
  dtype?: 'fp32' | 'fp16';
  /** What the shapes cannot say (e.g. `{ camera_heads: 16 }`; read from config.json next to a file path). */
  config?: VggtConfigOverride;
  /** Heads to load (default: all present in the checkpoint). */
  heads?: { camera?: boolean; depth?: boolean; points?: boolean };
  /** Frames per DPT-head run (memory bound; default 8). */
  framesChunk?: number;
  /**
   * Global-attention implementation: 'wgsl' (our kernels; dense or HeSS-sparse per run; the default on WebGPU),
   * 'onnx' (dense ONNX attention; the only choice on the wasm EP), or your own {@link AttentionCore}.
   */
  attention?: 'wgsl' | 'onnx' | AttentionCore;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

export interface VggtRunOptions extends Partial<SparsityOptions> {
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  /** Preprocessing for RgbaImage inputs (default 'crop'). */
  mode?: PreprocessMode;
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
      return openCheckpointUrl(s, { signal: opts.signal }); // a file or directory URL (+ config.json)
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

  private constructor(
    readonly config: VggtConfig,
    readonly target: ExecutionTarget,
    readonly ort: Ort,
    private readonly aggregator: Aggregator,
    private readonly camera: CameraHead | null,
    private readonly depth: DptHead | null,
    private readonly points: DptHead | null,
    private readonly closeSource: () => Promise<void>,
    /** The WGSL attention core when the model uses it (policies are set per run). */
    readonly wgsl: WgslAttention | null,
  ) {}

  /** The device the model runs on (null on the wasm EP). */
  get gpu(): HessDevice | null {
    return this.target.ep === 'webgpu' ? this.target.gpu : null;
  }

  static async load(source: ModelSource, opts: VggtLoadOptions = {}): Promise<Vggt> {
    const progress = opts.onProgress ?? (() => {});
    progress({ stage: 'open' });
    const ort = await loadOrt(opts);
    const target = await chooseTarget(opts.device);
    checkComputeType(opts.dtype, target); // before any weight is read
    const { st, override } = await openSource(source, opts);
    const closeSource = async () => { await (st as { close?: () => Promise<void> }).close?.(); };
    try {
      throwIfAborted(opts.signal);
      const config = inferVggtConfig(st.tensors, { ...override, ...opts.config });
      // Report weight reading as progress: every tensor read goes through this wrapper.
      const total = [...st.tensors.values()].reduce((a, t) => a + t.byteLength, 0);
      let loaded = 0;
      const reader = {
        ...st,
        tensors: st.tensors,
        read: async (name: string) => {
          const out = await st.read(name);
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
      const wgsl = choice === 'wgsl' && target.ep === 'webgpu' ? await WgslAttention.create(ort, target.gpu) : null;
      const attention = wgsl ?? (typeof choice === 'object' ? choice : undefined);
      const aggregator = await Aggregator.create(reader, config, { target, ort, attention, signal: opts.signal, dtype: opts.dtype });
      progress({ stage: 'sessions', message: 'aggregator ready' });
      const want = { camera: true, depth: true, points: true, ...opts.heads };
      const dimIn = 2 * config.embedDim;
      const common = { dimIn, patchSize: config.patchSize, patchStartIdx: config.patchStartIdx };
      const chunk = { framesChunk: opts.framesChunk, ort };
      const camera = want.camera && config.camera ? await CameraHead.create(reader, config.camera, target, { ort }) : null;
      const depth = want.depth && config.depthHead
        ? await DptHead.create(reader, { kind: 'depth', head: config.depthHead, ...common }, target, chunk) : null;
      const points = want.points && config.pointHead
        ? await DptHead.create(reader, { kind: 'point', head: config.pointHead, ...common }, target, chunk) : null;
      progress({ stage: 'ready' });
      return new Vggt(config, target, ort, aggregator, camera, depth, points, closeSource, wgsl);
    } catch (e) {
      await closeSource();
      throw e;
    }
  }

  /** Run the model on RgbaImage[] (preprocessed here, crop mode by default) or a preprocessed `[S,3,H,W]` tensor. */
  async run(images: readonly RgbaImage[] | ImageTensor, opts: VggtRunOptions = {}): Promise<VggtResult> {
    if (this.disposed) throw new HessError('DISPOSED', 'Vggt.run after dispose()', 'load the model again');
    if (this.target.ep === 'webgpu') assertAlive(this.target.gpu);
    const progress = opts.onProgress ?? (() => {});
    const t0 = performance.now();
    let input: ImageTensor;
    if (Array.isArray(images)) {
      check(images.length > 0, 'run() needs at least one image');
      progress({ stage: 'preprocess' });
      const pre = preprocessImages(images as RgbaImage[], { mode: opts.mode ?? 'crop' });
      input = { data: pre.data, S: pre.frames, H: pre.height, W: pre.width };
    } else {
      input = images as ImageTensor;
    }
    const { S, H, W, data } = input;
    const ps = this.config.patchSize;
    if (!(Number.isInteger(S) && S > 0 && H > 0 && W > 0 && H % ps === 0 && W % ps === 0 && data.length === S * 3 * H * W)) {
      throw new HessError('SHAPE_MISMATCH', `images must be [S, 3, H, W] with H, W multiples of ${ps}; got S=${S} H=${H} W=${W} (${data.length} values)`,
        'pass RgbaImage[] to have them preprocessed, or use preprocessImages()');
    }
    const policy = opts.policy ?? 'dense';
    if (this.wgsl) this.wgsl.configure({ ...opts, policy });
    else if (policy !== 'dense') {
      throw new HessError('INVALID_ARGUMENT', `policy '${policy}' needs the WGSL attention (WebGPU)`,
        "load the model on a WebGPU device with attention 'wgsl' (the default there)");
    }
    progress({ stage: 'aggregator' });
    const last = this.config.depth - 1;
    const layers = new Set<number>([last]);
    if (this.depth || this.points) for (const l of HEAD_LAYERS) if (l < this.config.depth) layers.add(l);
    const agg = await this.aggregator.run(data, { S, H, W }, { layers: [...layers], signal: opts.signal });
    const t1 = performance.now();
    progress({ stage: 'heads' });
    throwIfAborted(opts.signal);
    const poseEnc = this.camera ? await this.camera.run(agg.layers.get(last)!, S) : null;
    const cams = poseEnc ? poseEncodingToExtriIntri(poseEnc, S, H, W) : null;
    const d = this.depth ? await this.depth.run(agg.layers, S, H, W, { signal: opts.signal }) : null;
    const p = this.points ? await this.points.run(agg.layers, S, H, W, { signal: opts.signal }) : null;
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
      sparsity: this.wgsl?.stats() ?? null,
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.aggregator.dispose();
    await this.wgsl?.dispose();
    for (const h of [this.camera, this.depth, this.points]) await h?.dispose();
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
