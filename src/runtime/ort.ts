import { HessError } from '../errors';
import { getGpu, type HessDevice } from '../gpu/device';

// onnxruntime-web stays an external dependency of our bundles: its own .wasm files are large and versioned with it.
// Where they are served from is the caller's `wasmPaths` (default: next to onnxruntime-web's own dist files).
export type Ort = typeof import('onnxruntime-web');

export interface OrtOptions {
  /** Where onnxruntime-web's .wasm/.mjs files are served (string prefix or per-file map), e.g. '/ort/'. */
  wasmPaths?: string | Record<string, string>;
  /** Wasm EP threads (default: ORT's choice). Browsers need cross-origin isolation for more than 1. */
  numThreads?: number;
  /** onnxruntime-web's log level (default 'error': its per-session EP-placement warnings are noise for SDK users). */
  logLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
}

let ortPromise: Promise<Ort> | undefined;

/**
 * Load onnxruntime-web once (its WebGPU build, which also has the wasm EP).
 *
 * @example
 * const ort = await loadOrt({ wasmPaths: '/static/ort/' });
 */
export async function loadOrt(opts: OrtOptions = {}): Promise<Ort> {
  ortPromise ??= (async () => {
    try {
      const name = 'onnxruntime-web/webgpu';
      return (await import(/* @vite-ignore */ name)) as Ort;
    } catch (e) {
      ortPromise = undefined;
      throw new HessError('ORT_ERROR', `cannot load onnxruntime-web: ${String(e)}`, 'npm install onnxruntime-web@1.30.0', { cause: e });
    }
  })();
  const ort = await ortPromise;
  if (opts.wasmPaths !== undefined) ort.env.wasm.wasmPaths = opts.wasmPaths as never;
  ort.env.logLevel = opts.logLevel ?? 'error';
  if (opts.numThreads !== undefined) ort.env.wasm.numThreads = opts.numThreads;
  else if (!ort.env.wasm.numThreads) ort.env.wasm.numThreads = await defaultThreads();
  return ort;
}

/**
 * ORT's own default calls `require('node:os')` where there is no `navigator`, which fails in Node ESM; decide here.
 */
async function defaultThreads(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  let cores = nav?.hardwareConcurrency;
  if (!cores && (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node) {
    const name = 'node:os';
    cores = ((await import(/* @vite-ignore */ name)) as typeof import('node:os')).cpus().length;
  }
  return Math.min(4, Math.ceil((cores || 1) / 2));
}

// Only one WebGPU session may be in creation at a time (ORT initialises its backend state lazily): queue them.
let creationQueue: Promise<unknown> = Promise.resolve();

export type ExecutionTarget = { ep: 'webgpu'; gpu: HessDevice } | { ep: 'wasm' };

/**
 * Create an inference session, queued behind any other session creation. On WebGPU the session uses the given
 * device, so its GPU tensors can feed our WGSL kernels without a CPU round trip.
 *
 * @example
 * const s = await createSession(ort, modelBytes, { ep: 'webgpu', gpu });
 */
export async function createSession(
  ort: Ort,
  model: Uint8Array,
  target: ExecutionTarget,
  extra: Partial<import('onnxruntime-web').InferenceSession.SessionOptions> = {},
): Promise<import('onnxruntime-web').InferenceSession> {
  if (target.ep === 'webgpu') await getGpu(); // in Node: makes navigator.gpu exist, which ORT checks
  const ep = target.ep === 'webgpu' ? [{ name: 'webgpu', device: target.gpu.device } as never] : ['wasm'];
  const run = creationQueue.then(() =>
    // logSeverityLevel 3 (errors): ORT's native per-session EP-placement warnings are noise for SDK users.
    ort.InferenceSession.create(model, { executionProviders: ep, graphOptimizationLevel: 'all', logSeverityLevel: 3, ...extra }),
  );
  creationQueue = run.catch(() => undefined);
  try {
    return await run;
  } catch (e) {
    throw new HessError('ORT_ERROR', `onnxruntime-web session creation failed: ${String((e as Error)?.message ?? e)}`,
      'check the model bytes and that the execution provider is available', { cause: e });
  }
}
