import { HessError } from '../errors.js';
import { getGpu, type HessDevice } from '../gpu/device.js';
import { chooseNodeWasmTiering } from './node-wasm-tiering.js';

// onnxruntime-web stays an external dependency of our bundles (a peer dependency of the package): its own .wasm
// files are large and versioned with it. The import below is a string literal so that the app's bundler (esbuild,
// Vite, webpack, Rollup) sees and resolves it; in Node, Deno and Bun it resolves through node_modules. Where it is
// served from is the caller's `wasmPaths` (default: next to onnxruntime-web's own dist files).
export type Ort = typeof import('onnxruntime-web');

export interface OrtOptions {
  /** Where onnxruntime-web's .wasm/.mjs files are served (string prefix or per-file map), e.g. '/ort/'. */
  wasmPaths?: string | Record<string, string>;
  /** Wasm EP threads (default: ORT's choice). Browsers need cross-origin isolation for more than 1. */
  numThreads?: number;
  /** onnxruntime-web's log level (default 'error': its per-session EP-placement warnings are noise for SDK users). */
  logLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  /**
   * Node only: let V8 optimise onnxruntime-web's Wasm (its default tiering). Default false: the first load in a
   * process sets V8's `--liftoff-only` (process-wide; JavaScript unaffected), because optimising ORT's 27 MB module
   * costs about a minute of CPU during the first load and runs (102 s vs 4.3 s for `Vggt.load` of the tiny model
   * on a loaded 2-core machine). A process started with a Wasm tiering flag is left as it is.
   */
  wasmTierUp?: boolean;
}

let ortPromise: Promise<Ort> | undefined;

/**
 * Use this onnxruntime-web module instead of importing `onnxruntime-web/webgpu` (a custom ORT build, a CDN copy,
 * or a module the app already loaded). Call before the first {@link loadOrt} / `Vggt.load`; a later call replaces
 * the module for sessions created afterwards.
 *
 * @example
 * import * as ort from 'onnxruntime-web/all';
 * setOrt(ort);
 */
export function setOrt(module: Ort): void {
  if (!module?.InferenceSession || !module?.env) {
    throw new HessError(
      'INVALID_ARGUMENT',
      'setOrt: not an onnxruntime-web module (no InferenceSession/env)',
      "pass the module namespace itself, e.g. setOrt(await import('onnxruntime-web/webgpu'))",
    );
  }
  ortPromise = Promise.resolve(module);
}

/** Why the import failed, in words a user can act on: missing package vs. a specifier nothing resolves. */
function ortImportFix(e: unknown): string {
  const msg = String((e as Error)?.message ?? e);
  if (/Cannot find (package|module)|Could not find|not a dependency|ERR_MODULE_NOT_FOUND/i.test(msg)) {
    return 'install the peer dependency next to hess-vggt: npm install onnxruntime-web@1.30.0';
  }
  return (
    "bundle the app (esbuild, Vite, webpack resolve 'onnxruntime-web/webgpu' from node_modules), map it in an " +
    'import map, or pass the module yourself with setOrt(ortModule) before Vggt.load'
  );
}

/**
 * Load onnxruntime-web once (its WebGPU build, which also has the wasm EP), or the module given to {@link setOrt}.
 *
 * @example
 * const ort = await loadOrt({ wasmPaths: '/static/ort/' });
 */
export async function loadOrt(opts: OrtOptions = {}): Promise<Ort> {
  await chooseNodeWasmTiering(opts.wasmTierUp ?? false); // before ORT compiles its Wasm (at its first session)
  ortPromise ??= (async () => {
    try {
      return (await import('onnxruntime-web/webgpu')) as Ort;
    } catch (e) {
      ortPromise = undefined;
      throw new HessError(
        'ORT_ERROR',
        `cannot load onnxruntime-web: ${String((e as Error)?.message ?? e)}`,
        ortImportFix(e),
        { cause: e },
      );
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
    ort.InferenceSession.create(model, {
      executionProviders: ep,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      ...extra,
    }),
  );
  creationQueue = run.catch(() => undefined);
  try {
    return await run;
  } catch (e) {
    throw new HessError(
      'ORT_ERROR',
      `onnxruntime-web session creation failed: ${String((e as Error)?.message ?? e)}`,
      'check the model bytes and that the execution provider is available',
      { cause: e },
    );
  }
}
