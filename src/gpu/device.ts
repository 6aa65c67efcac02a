import { HessError } from '../errors.js';
import { hasWasmRelaxedSimd, hasWasmSimd } from '../wasm/features.js';

export { hasWasmSimd };

/** What this environment can do, found without downloading anything. */
export interface Capabilities {
  webgpu: boolean;
  adapter: { vendor: string; architecture: string; device: string; description: string; isFallback: boolean } | null;
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  wasmSimd: boolean;
  wasmRelaxedSimd: boolean;
  /** Why WebGPU is unavailable, when it is. */
  reason?: string;
}

/** Options for {@link createDevice}. */
export interface DeviceOptions {
  /** Use this device instead of creating one (it must stay usable for the SDK's lifetime). */
  device?: GPUDevice;
  /** The `GPU` object to use (defaults to `navigator.gpu`, or the npm `webgpu` package in Node/Bun). */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Throw NO_SHADER_F16 when the adapter lacks `shader-f16` (default: fall back to fp32). */
  requireF16?: boolean;
  /** Minimum limits the caller needs; LIMIT_TOO_SMALL names the first one the adapter cannot give. */
  requiredLimits?: Partial<Record<keyof GPUSupportedLimits, number>>;
}

/** A device plus what it got: the SDK passes this around instead of a bare GPUDevice. */
export interface HessDevice {
  device: GPUDevice;
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  limits: GPUSupportedLimits;
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  /** Resolves (never rejects) when the device is lost; `lost()` tells whether it already was. */
  lost: () => boolean;
  /** Name for logs and results files, e.g. "mesa llvmpipe (software)". */
  name: string;
}

// Limits onnxruntime-web's WebGPU EP raises when present; we ask for the adapter's maximum of each so that ORT
// and our kernels can share one device.
const MAX_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxBindGroups',
] as const;

let nodeGpu: Promise<GPU | undefined> | undefined;

/** `navigator.gpu`, or in Node/Bun the npm `webgpu` package (Dawn), loaded lazily and only there. */
export async function getGpu(gpu?: GPU): Promise<GPU | undefined> {
  if (gpu) return gpu;
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (!proc?.versions?.node) return undefined;
  nodeGpu ??= (async () => {
    try {
      const name = 'webgpu'; // a variable so that browser bundlers leave it alone
      const mod = (await import(/* @vite-ignore */ name)) as {
        create: (flags: string[]) => GPU;
        globals: Record<string, unknown>;
      };
      for (const [k, v] of Object.entries(mod.globals)) (globalThis as Record<string, unknown>)[k] ??= v;
      installDawnWriteBufferShim();
      const gpu = mod.create([]);
      // onnxruntime-web's WebGPU EP checks navigator.gpu even when it is handed a device: expose it.
      const g = globalThis as { navigator?: object };
      if (!g.navigator) g.navigator = { gpu };
      else if (!('gpu' in g.navigator)) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
      return gpu;
    } catch {
      return undefined;
    }
  })();
  return nodeGpu;
}

/**
 * dawn.node rejects `writeBuffer` data backed by a SharedArrayBuffer ("Invalid argument"), which is exactly what
 * onnxruntime-web's threaded wasm heap hands it. Copy such views first. Browsers and Deno do not need this.
 */
function installDawnWriteBufferShim(): void {
  const Q = (globalThis as { GPUQueue?: { prototype: GPUQueue & { __hessShim?: boolean } } }).GPUQueue?.prototype;
  if (!Q || Q.__hessShim) return;
  const orig = Q.writeBuffer;
  Q.writeBuffer = function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: unknown, ...rest: unknown[]) {
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      data = (data as Uint8Array).slice();
    } else if (typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer) {
      data = new Uint8Array(data).slice().buffer;
    }
    return (orig as (...a: unknown[]) => void).call(this, buffer, offset, data, ...rest);
  } as GPUQueue['writeBuffer'];
  Q.__hessShim = true;
}

/**
 * Tell what this environment can do: WebGPU (and on which adapter), shader-f16, subgroups, Wasm SIMD.
 * Creates no device and downloads nothing.
 *
 * @example
 * const caps = await probe();
 * if (!caps.webgpu) console.log('CPU planner only:', caps.reason);
 */
export async function probe(opts: { gpu?: GPU } = {}): Promise<Capabilities> {
  const base = { wasmSimd: hasWasmSimd(), wasmRelaxedSimd: hasWasmRelaxedSimd() };
  const none = (reason: string): Capabilities => ({
    webgpu: false,
    adapter: null,
    shaderF16: false,
    subgroups: false,
    timestampQuery: false,
    reason,
    ...base,
  });
  const gpu = await getGpu(opts.gpu);
  if (!gpu)
    return none('no WebGPU in this runtime (navigator.gpu is missing and the npm `webgpu` package is not installed)');
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return none(`requestAdapter failed: ${String(e)}`);
  }
  if (!adapter) return none('requestAdapter() returned null (no usable GPU or software Vulkan driver)');
  const info = adapter.info;
  return {
    webgpu: true,
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallback: Boolean(
        (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
          (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
      ),
    },
    shaderF16: adapter.features.has('shader-f16'),
    subgroups: adapter.features.has('subgroups'),
    timestampQuery: adapter.features.has('timestamp-query'),
    ...base,
  };
}

function describe(device: GPUDevice, adapterInfo: GPUAdapterInfo | undefined): HessDevice['adapterInfo'] {
  const info = adapterInfo ?? (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
  };
}

function wrap(device: GPUDevice, adapterInfo?: GPUAdapterInfo): HessDevice {
  let isLost = false;
  device.lost.then(() => {
    isLost = true;
  });
  const info = describe(device, adapterInfo);
  return {
    device,
    features: {
      shaderF16: device.features.has('shader-f16'),
      subgroups: device.features.has('subgroups'),
      timestampQuery: device.features.has('timestamp-query'),
    },
    limits: device.limits,
    adapterInfo: info,
    lost: () => isLost,
    name: [info.vendor, info.description || info.device || info.architecture].filter(Boolean).join(' ') || 'webgpu',
  };
}

/**
 * Create (or adopt) the one GPUDevice that the SDK, onnxruntime-web's WebGPU EP and our WGSL kernels share.
 * Requests shader-f16, subgroups and timestamp-query when the adapter has them, and the adapter's maximum of the
 * limits ORT raises (buffer sizes, workgroup storage, invocations).
 *
 * @example
 * const gpu = await createDevice();
 * console.log(gpu.name, gpu.features.shaderF16 ? 'f16' : 'f32 only');
 * // or bring your own:
 * const mine = await createDevice({ device: myDevice });
 */
export async function createDevice(opts: DeviceOptions = {}): Promise<HessDevice> {
  if (opts.device) {
    const d = wrap(opts.device);
    if (opts.requireF16 && !d.features.shaderF16) throw noF16();
    return d;
  }
  const gpu = await getGpu(opts.gpu);
  if (!gpu) {
    throw new HessError(
      'NO_WEBGPU',
      'WebGPU is not available in this runtime',
      'use a browser with WebGPU, Deno, or in Node/Bun `npm install webgpu@0.6.2`; the planner (`hess-vggt/planner`) works without it',
    );
  }
  const adapter = await gpu.requestAdapter(
    opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined,
  );
  if (!adapter) {
    throw new HessError(
      'NO_ADAPTER',
      'requestAdapter() returned null',
      'on a machine without a GPU set VK_ICD_FILENAMES to a software Vulkan driver (Mesa 25 lavapipe or /usr/lib/chromium/vk_swiftshader_icd.json); in Chromium pass --enable-unsafe-webgpu',
    );
  }
  const wanted: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  if (opts.requireF16 && !adapter.features.has('shader-f16')) throw noF16();
  const requiredLimits: Record<string, number> = {};
  for (const k of MAX_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  for (const [k, need] of Object.entries(opts.requiredLimits ?? {})) {
    const have = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof need === 'number' && !(have >= need)) {
      throw new HessError(
        'LIMIT_TOO_SMALL',
        `adapter limit ${k} is ${have}, need ${need}`,
        'use fewer frames or a smaller resolution, or a GPU/browser with larger limits',
      );
    }
    if (typeof need === 'number') requiredLimits[k] = Math.max(requiredLimits[k] ?? 0, need);
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (e) {
    throw new HessError('GPU_ERROR', `requestDevice failed: ${String(e)}`, 'pass your own device with { device }', {
      cause: e,
    });
  }
  return wrap(device, adapter.info);
}

function noF16(): HessError {
  return new HessError(
    'NO_SHADER_F16',
    'the adapter has no shader-f16 feature',
    'use dtype "fp32" (always available), or a GPU/driver with shader-f16',
  );
}

/** Throw DEVICE_LOST if the device is gone (check before long GPU work, so the caller gets a clear error). */
export function assertAlive(d: HessDevice): void {
  if (d.lost()) throw deviceLostError();
}

/** DEVICE_LOST with the fix every caller gives. */
export function deviceLostError(cause?: unknown): HessError {
  return new HessError(
    'DEVICE_LOST',
    'the GPU device was lost',
    'create a new device with createDevice() and reload the model',
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Run `fn` inside WebGPU 'out-of-memory' and 'validation' error scopes, so that a failed allocation or an invalid
 * buffer inside it (ours or onnxruntime-web's) becomes a typed error instead of a silent invalid object:
 * device lost → DEVICE_LOST, out of memory → OUT_OF_MEMORY, a validation error → GPU_ERROR (with the GPU's message;
 * `cause` holds what `fn` threw, if anything). A HessError thrown by `fn` wins when the GPU reported nothing.
 *
 * @example
 * const out = await withGpuErrorScopes(gpu, () => session.run(feeds));
 */
export async function withGpuErrorScopes<T>(d: HessDevice, fn: () => Promise<T>): Promise<T> {
  const dev = d.device;
  dev.pushErrorScope('out-of-memory');
  dev.pushErrorScope('validation');
  let value: T | undefined;
  let thrown: unknown;
  let ok = false;
  try {
    value = await fn();
    ok = true;
  } catch (e) {
    thrown = e;
  }
  // Pop both scopes whatever happened (an unpopped scope would swallow every later error on this device). Popping
  // waits for the work submitted inside them; a lost device resolves it with null.
  const validation = await dev.popErrorScope().catch(() => null);
  const oom = await dev.popErrorScope().catch(() => null);
  if (d.lost()) throw deviceLostError(thrown);
  if (oom) {
    throw new HessError(
      'OUT_OF_MEMORY',
      `the GPU ran out of memory: ${oom.message}`,
      'use fewer frames or a smaller resolution (Vggt.estimate says what fits), or set maxGpuBytes to what the GPU can spare',
      { cause: thrown ?? oom },
    );
  }
  if (validation) {
    throw new HessError(
      'GPU_ERROR',
      `WebGPU validation error: ${validation.message}`,
      'use fewer frames or a smaller resolution; if it persists, report it with the message',
      { cause: thrown ?? validation },
    );
  }
  if (!ok) throw thrown;
  return value as T;
}
