/**
 * What every model's `load` and `run` share (VGGT's and π³'s): opening a checkpoint from any source, choosing the
 * device, checking and reporting weights as they are read, validating the images, the memory pre-flight's error,
 * and running inside GPU error scopes with a typed failure afterwards.
 */
import { HessError, check } from '../errors.js';
import { createDevice, deviceLostError, type HessDevice, withGpuErrorScopes } from '../gpu/device.js';
import type { ExecutionTarget } from '../runtime/ort.js';
import type { HessFile } from '../hess/hess-file.js';
import type { UrlCacheOption } from './source/cache.js';
import { openCheckpointPath, openCheckpointUrl } from './source/checkpoint.js';
import type { FitReport } from './estimate/types.js';
import { preprocessImages, type PreprocessMode } from './image/preprocess.js';
import type { RgbaImage } from './image/rgba-image.js';
import { blobSource, bytesSource, openSafetensors, type ByteSource, type Safetensors } from './source/safetensors.js';
import { weightCache } from './source/weight-cache.js';

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

/** Images already preprocessed: `[S, 3, H, W]` in [0, 1]. */
export interface ImageTensor {
  data: Float32Array;
  S: number;
  H: number;
  W: number;
}

/** The device choice every model's load takes. */
export type DeviceOption = 'webgpu' | 'wasm' | GPUDevice | HessDevice;

const isNode = () => Boolean((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node);

/**
 * Open `source` as safetensors, with the config.json beside it where there is one (a directory, a file path or a
 * URL; bytes, Blobs and ByteSources have none).
 */
export async function openSource(
  source: ModelSource,
  opts: { signal?: AbortSignal; cache?: UrlCacheOption; persist?: boolean; onProgress?: (e: ProgressEvent) => void },
): Promise<{ st: Safetensors; override: Record<string, unknown> }> {
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

/** Check a load's `device` option (before anything is opened). */
export function checkDeviceOption(device: unknown): void {
  check(
    device === undefined ||
      (typeof device === 'string'
        ? ['webgpu', 'wasm'].includes(device)
        : typeof device === 'object' && device !== null),
    `device must be 'webgpu', 'wasm', a GPUDevice or a HessDevice, got ${JSON.stringify(device)}`,
    "pass device: 'webgpu' or 'wasm'",
  );
}

/** The execution target for `device`: WebGPU when asked or available (else the wasm EP), or the device given. */
export async function chooseTarget(device: DeviceOption | undefined): Promise<ExecutionTarget> {
  check(
    device === undefined || device === 'webgpu' || device === 'wasm' || (typeof device === 'object' && device !== null),
    `device must be 'webgpu', 'wasm' or a GPUDevice, got ${JSON.stringify(device)}`,
    "e.g. Vggt.load(path, { device: 'wasm' })",
  );
  if (device === 'wasm') return { ep: 'wasm' };
  if (device && device !== 'webgpu') {
    const gpu =
      'device' in device &&
      'features' in device &&
      'lost' in device &&
      typeof (device as HessDevice).lost === 'function'
        ? (device as HessDevice)
        : await createDevice({ device: device as GPUDevice });
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
export function checkWeightTypes(
  st: Safetensors,
  model: string,
  unread: (name: string) => boolean = () => false,
): void {
  const floats = new Set(['F64', 'F32', 'F16', 'BF16']);
  for (const t of st.tensors.values()) {
    if (unread(t.name)) continue;
    if (!floats.has(t.dtype)) {
      throw new HessError(
        'BAD_CHECKPOINT',
        `tensor ${t.name} is ${t.dtype}; ${model} weights are floating point`,
        `use an unmodified ${model} checkpoint`,
      );
    }
  }
}

/** NaN/Inf in a weight would surface much later as a misleading error (e.g. "quaternion has no direction"). */
export function checkFinite(a: Float32Array, name: string): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0) {
      throw new HessError(
        'BAD_CHECKPOINT',
        `tensor ${name} holds ${Number.isNaN(v) ? 'NaN' : 'infinite'} values (element ${i})`,
        'the checkpoint is corrupt: fetch or convert it again',
      );
    }
  }
}

/**
 * `st` as a reader that reports weight reading as progress and checks each float32 read for NaN/Inf as it passes
 * (one pass over data already in memory), so broken weights fail the load, not a run.
 */
export function reportingReader(st: Safetensors, progress: (e: ProgressEvent) => void): Safetensors {
  const total = [...st.tensors.values()].reduce((a, t) => a + t.byteLength, 0);
  let loaded = 0;
  const step = (name: string) => {
    loaded += st.tensors.get(name)?.byteLength ?? 0;
    progress({ stage: 'weights', progress: Math.min(1, loaded / total), loaded, total });
  };
  return {
    ...st,
    tensors: st.tensors,
    read: async (name: string) => {
      const out = await st.read(name);
      checkFinite(out, name);
      step(name);
      return out;
    },
    readRaw: async (name: string) => {
      // fp16 models read F16/BF16 weights raw
      const out = await st.readRaw(name);
      step(name);
      return out;
    },
  } as Safetensors;
}

/**
 * Validate and preprocess run() images into one `[S, 3, H, W]` float32 tensor of finite values: RgbaImage[] are
 * preprocessed (`mode`, default 'crop'), an {@link ImageTensor} is checked (Float64 data narrowed).
 */
export function imageInput(
  images: readonly RgbaImage[] | ImageTensor,
  patchSize: number,
  opts: { mode?: PreprocessMode; onProgress?: (e: ProgressEvent) => void },
): ImageTensor {
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
    check(
      data instanceof Float32Array || f64,
      `images.data must be a Float32Array (or Float64Array), got ${Object.prototype.toString.call(data)}`,
      'pass [S, 3, H, W] values in [0, 1] as a Float32Array',
    );
    input = { ...(images as ImageTensor), data: f64 ? Float32Array.from(data as unknown as Float64Array) : data };
  }
  const { S, H, W, data } = input;
  const ps = patchSize;
  if (
    !(Number.isInteger(S) && S > 0 && H > 0 && W > 0 && H % ps === 0 && W % ps === 0 && data.length === S * 3 * H * W)
  ) {
    throw new HessError(
      'SHAPE_MISMATCH',
      `images must be [S, 3, H, W] with H, W multiples of ${ps}; got S=${S} H=${H} W=${W} (${data.length} values)`,
      'pass RgbaImage[] to have them preprocessed, or use preprocessImages()',
    );
  }
  const frame = 3 * H * W;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      // NaN or ±Inf, in one comparison
      throw new HessError(
        'INVALID_ARGUMENT',
        `frame ${Math.floor(i / frame)} has a ${Number.isNaN(v) ? 'NaN' : 'infinite'} value (element ${i % frame})`,
        'pass finite pixel values in [0, 1] (preprocessImages makes them from RGBA images)',
      );
    }
  }
  return input;
}

/**
 * A HeSS file must describe the model's global attention: made for this kind of model (when it says), one row per
 * global layer, one score per head.
 */
export function checkHessFile(hess: HessFile, model: { kind: 'vggt' | 'pi3'; depth: number; numHeads: number }): void {
  const names = { vggt: 'VGGT', pi3: 'π³' } as const;
  const fix =
    model.kind === 'vggt'
      ? 'use the HeSS file calibrated for this checkpoint (npx hess-vggt calibrate makes one)'
      : 'use the HeSS file calibrated for this π³ checkpoint';
  if (hess.model !== undefined && hess.model !== model.kind) {
    const other = names[hess.model as 'vggt' | 'pi3'] ?? String(hess.model);
    throw new HessError('BAD_HESS_FILE', `the HeSS file is for a ${other} model, not ${names[model.kind]}`, fix);
  }
  const { depth, numHeads } = model;
  const rows = Array.isArray(hess.scores) ? hess.scores : [];
  if (
    hess.layers !== depth ||
    hess.heads !== numHeads ||
    rows.length !== depth ||
    rows.some((r) => !Array.isArray(r) || r.length !== numHeads)
  ) {
    throw new HessError(
      'BAD_HESS_FILE',
      `the HeSS file is for ${hess.layers} layers × ${hess.heads} heads (${rows.length} score rows); this ${names[model.kind]} has ${depth} global layers × ${numHeads} heads`,
      fix,
    );
  }
}

/** The typed error of a memory pre-flight that does not fit (`fit.fits` false). */
export function preflightError(
  fit: FitReport,
  input: { S: number; H: number; W: number },
  ep: 'wasm' | 'webgpu',
): HessError {
  const { S, H, W } = input;
  const most =
    fit.largestS > 0
      ? `at most ${fit.largestS} frame${fit.largestS > 1 ? 's' : ''} fit at ${H}×${W}`
      : `not even one frame fits at ${H}×${W}`;
  const fix =
    ep === 'wasm'
      ? `use WebGPU or fewer frames (at most ${fit.largestS} at this size)`
      : `use at most ${fit.largestS} frames or a smaller resolution${fit.code === 'OUT_OF_MEMORY' ? ', or raise maxGpuBytes if the GPU has more' : ', or a GPU/browser with larger buffer limits'}`;
  return new HessError(fit.code!, `${S} frames at ${H}×${W}: ${fit.reason}; ${most}`, fix);
}

/**
 * Run `fn` on `target`: on WebGPU inside GPU error scopes, answering DEVICE_LOST as soon as the device says so (a
 * device lost mid-run can leave onnxruntime-web waiting on GPU work that never completes).
 */
export async function runOnTarget<T>(target: ExecutionTarget, fn: () => Promise<T>): Promise<T> {
  if (target.ep !== 'webgpu') return fn();
  const gpu = target.gpu;
  const work = withGpuErrorScopes(gpu, fn);
  work.catch(() => undefined);
  return Promise.race([
    work,
    gpu.device.lost.then((info) => {
      throw deviceLostError(info);
    }),
  ]);
}

/**
 * Turn a run's failure into a typed error and say whether the model is still usable. Deliberate errors (bad input,
 * abort) leave it as it was. A lost device breaks it for good. A GPU or onnxruntime-web failure inside the run
 * (OUT_OF_MEMORY, GPU_ERROR, ORT_ERROR with the cause) can leave ORT's sessions unusable — on WebGPU the next run
 * then failed or hung — so `rebuild` (the sessions again, from the still-open checkpoint) runs before this
 * returns; if that fails too, `broken` is the error every later run throws.
 */
export async function classifyRunFailure(
  e: unknown,
  target: ExecutionTarget,
  rebuild: () => Promise<void>,
  model: string,
): Promise<{ error: HessError; broken: HessError | null }> {
  const gpu = target.ep === 'webgpu' ? target.gpu : null;
  if (gpu?.lost() || (e instanceof HessError && e.code === 'DEVICE_LOST')) {
    const lost = e instanceof HessError && e.code === 'DEVICE_LOST' ? e : deviceLostError(e);
    return { error: lost, broken: lost };
  }
  const deliberate =
    e instanceof HessError && !['OUT_OF_MEMORY', 'GPU_ERROR', 'ORT_ERROR', 'LIMIT_TOO_SMALL'].includes(e.code);
  if (deliberate) return { error: e as HessError, broken: null };
  const err =
    e instanceof HessError
      ? e
      : new HessError(
          'ORT_ERROR',
          `onnxruntime-web failed during the run: ${String((e as Error)?.message ?? e)}`,
          `use fewer frames or a smaller resolution (${model}.estimate says what fits); if it persists, reload the model`,
          { cause: e },
        );
  try {
    await rebuild();
    return { error: err, broken: null };
  } catch (again) {
    return {
      error: err,
      broken: new HessError(
        err.code,
        `the model is unusable after a failed run (${err.message}); rebuilding its sessions failed: ${String((again as Error)?.message ?? again)}`,
        `dispose() it and ${model}.load() again`,
        { cause: again },
      ),
    };
  }
}
