/**
 * The page side of `hess-vggt/worker`: proxies with the models' load/run/dispose API whose model lives in a Web
 * Worker, so the page's main thread stays free while onnxruntime computes. {@link ModelWorker} runs whichever model
 * a checkpoint holds (VGGT or π³: `load` resolves with the kind, `run` with a result tagged by it); {@link VggtWorker}
 * runs VGGT only, with `Vggt`'s result type. Progress events and AbortSignals are forwarded; results come back
 * as transferables (moved, not copied).
 *
 * Abort: the worker sees an abort at the model's next checkpoint (between two onnxruntime runs: blocks, chunks,
 * heads), and one onnxruntime run holds its thread. The proxy therefore rejects the page's promise with ABORTED at once, and gives the worker `abortGraceMs`
 * to acknowledge; a worker that has not by then is terminated (stopping its computation for sure) and, when the proxy
 * was given a worker factory, replaced by a fresh one that reloads the last model. The trade-off: a restart costs a
 * model load, and requests queued behind the aborted one are rejected with ABORTED too.
 *
 * @example
 * const vggt = await VggtWorker.create(() => new Worker(new URL('./vggt.worker.js', import.meta.url), { type: 'module' }));
 * await vggt.load('/models/vggt-synth/model.safetensors', { device: 'wasm', onProgress: (e) => console.log(e.stage) });
 * const r = await vggt.run(images, { signal: controller.signal });
 * await vggt.dispose();
 */
import { HessError } from '../errors.js';
import type { VggtConfig } from '../model/config.js';
import type { ModelKind } from '../model/load-model.js';
import type { Pi3Config } from '../model/pi3/config.js';
import type { ImageTensor, ProgressEvent, VggtResult } from '../model/vggt/model.js';
import type { RgbaImage } from '../model/image/rgba-image.js';
import type {
  FromWorker,
  LoadedInfo,
  SerializedError,
  ToWorker,
  WorkerLoadOptions,
  WorkerModelSource,
  WorkerResult,
  WorkerRunOptions,
} from './messages.js';

/** The part of a Worker the proxy uses. */
export interface WorkerLike {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message' | 'error' | 'messageerror', listener: (e: Event) => void): void;
  terminate(): void;
}

/** Options of {@link ModelWorker.create} and {@link VggtWorker.create}. */
export interface VggtWorkerOptions {
  /** How long an aborted request's worker has to stop before it is terminated (ms; default 500). */
  abortGraceMs?: number;
  /** Called when an abort has really stopped the worker's work: acknowledged by it, or by terminating it. */
  onAbortSettled?: (e: { ms: number; how: 'acknowledged' | 'restarted' }) => void;
}

export interface WorkerCallOptions {
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  onProgress?: (e: ProgressEvent) => void;
}

/** Rebuild the worker's error on the page: a HessError with the same code and fix, else an Error. */
export function deserializeError(e: SerializedError): Error {
  if (e.code) return new HessError(e.code, e.message, e.fix);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

/** `Omit` for each member of a union. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

const aborted = (what: string) => new HessError('ABORTED', `${what} aborted`);

/**
 * A proxy for a worker running `attachVggtWorker(self)` that runs whichever model a checkpoint holds, VGGT or π³.
 *
 * @example
 * const model = await ModelWorker.create(() => new Worker(new URL('./model.worker.js', import.meta.url), { type: 'module' }));
 * const kind = await model.load('/models/pi3/model.safetensors'); // 'vggt' | 'pi3', detected from the tensor names
 * const r = await model.run(images);
 * if (r.kind === 'pi3') console.log(r.cameraPoses); // camera-to-world; VGGT's r.extrinsics are world-to-camera
 */
export class ModelWorker {
  private worker!: WorkerLike;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Aborted requests waiting for the worker to stop: id → (abort time, grace timer). */
  private readonly stopping = new Map<number, { t0: number; timer: ReturnType<typeof setTimeout> }>();
  private lastLoad: Omit<Extract<ToWorker, { type: 'load' }>, 'type' | 'id'> | null = null;
  private broken: HessError | null = null;
  private disposed = false;
  /** The loaded model's kind (null before load). */
  kind: ModelKind | null = null;
  /** The execution provider and config of the loaded model (null before load). */
  ep: LoadedInfo['ep'] | null = null;
  config: VggtConfig | Pi3Config | null = null;
  /** The worker's WebGPU device, as data (null on the wasm EP or before load). */
  gpu: LoadedInfo['gpu'] = null;

  protected constructor(
    private readonly factory: (() => WorkerLike) | null,
    worker: WorkerLike,
    private readonly opts: VggtWorkerOptions,
    /** 'vggt': load VGGT checkpoints only (VggtWorker). */
    private readonly only?: 'vggt',
  ) {
    this.attach(worker);
  }

  /**
   * A proxy for a worker running `attachVggtWorker(self)`. Pass a factory (`() => new Worker(…)`) to let the proxy
   * replace a worker that does not stop in time after an abort; with a Worker instance, such a worker is terminated
   * and the proxy becomes unusable (WORKER_ERROR).
   */
  static async create(worker: WorkerLike | (() => WorkerLike), opts: VggtWorkerOptions = {}): Promise<ModelWorker> {
    const factory = typeof worker === 'function' ? worker : null;
    return new ModelWorker(factory, factory ? factory() : (worker as WorkerLike), opts);
  }

  private attach(worker: WorkerLike): void {
    this.worker = worker;
    worker.addEventListener('message', (e) => {
      if (this.worker === worker) this.onMessage((e as MessageEvent).data as FromWorker);
    });
    const fail = (what: string) => (e: Event) => {
      if (this.worker !== worker) return;
      const detail = (e as ErrorEvent).message ?? '';
      // The handler catches every request's error, so an error event means the worker itself is gone or broken.
      this.broken = new HessError(
        'WORKER_ERROR',
        `the model worker failed (${what}${detail ? `: ${detail}` : ''})`,
        "check that the worker script loads and calls attachVggtWorker(self), e.g. in the browser's console",
      );
      this.failAll(this.broken);
    };
    worker.addEventListener('error', fail('error event'));
    worker.addEventListener('messageerror', fail('a message could not be deserialized'));
  }

  private onMessage(m: FromWorker): void {
    const stop = this.stopping.get(m.id);
    if (stop && m.type !== 'progress') {
      clearTimeout(stop.timer);
      this.stopping.delete(m.id);
      this.opts.onAbortSettled?.({ ms: performance.now() - stop.t0, how: 'acknowledged' });
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'progress') {
      p.onProgress?.(m.event);
      return;
    }
    this.pending.delete(m.id);
    if (m.type === 'result') p.resolve(m.value);
    else p.reject(deserializeError(m.error));
  }

  private failAll(e: HessError): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private request<T>(msg: WithoutId<Exclude<ToWorker, { type: 'abort' }>>, call: WorkerCallOptions = {}): Promise<T> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.disposed)
      return Promise.reject(new HessError('DISPOSED', 'worker proxy used after dispose()', 'create a new proxy'));
    const { signal } = call;
    if (signal?.aborted) return Promise.reject(aborted(msg.type));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => this.abort(id, msg.type);
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        resolve: (v) => {
          done();
          resolve(v as T);
        },
        reject: (e) => {
          done();
          reject(e);
        },
        onProgress: call.onProgress,
      });
      try {
        this.worker.postMessage({ ...msg, id } as ToWorker, []);
      } catch (e) {
        this.pending.delete(id);
        done();
        reject(
          new HessError(
            'INVALID_ARGUMENT',
            `cannot send ${msg.type} to the worker: ${String((e as Error)?.message ?? e)}`,
            'pass structured-cloneable values (URLs, bytes, Blobs, ImageData, typed arrays)',
          ),
        );
      }
    });
  }

  /** Reject request `id` now; give the worker `abortGraceMs` to stop, else terminate (and replace) it. */
  private abort(id: number, what: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.reject(aborted(what));
    const t0 = performance.now();
    this.worker.postMessage({ type: 'abort', id } satisfies ToWorker, []);
    const timer = setTimeout(() => {
      this.stopping.delete(id);
      this.restart();
      this.opts.onAbortSettled?.({ ms: performance.now() - t0, how: 'restarted' });
    }, this.opts.abortGraceMs ?? 500);
    this.stopping.set(id, { t0, timer });
  }

  /** Terminate the worker (it stops mid-computation) and, given a factory, start a fresh one with the last model. */
  private restart(): void {
    this.worker.terminate();
    for (const s of this.stopping.values()) clearTimeout(s.timer);
    this.stopping.clear();
    this.failAll(new HessError('ABORTED', 'the worker was restarted after an abort it did not acknowledge in time'));
    if (!this.factory) {
      this.broken = new HessError(
        'WORKER_ERROR',
        'the model worker was terminated after an abort it did not acknowledge in time',
        'create the proxy with a factory, VggtWorker.create(() => new Worker(…)), so that it can restart the worker',
      );
      return;
    }
    this.attach(this.factory());
    // The fresh worker reloads the model before any later request (it handles messages in order).
    if (this.lastLoad) this.request<LoadedInfo>({ type: 'load', ...this.lastLoad }).catch(() => {});
  }

  /**
   * Load a checkpoint in the worker (replacing any loaded model); resolves with its kind, detected from the tensor
   * names (VggtWorker: VGGT only). Relative URLs resolve against the page.
   */
  async load(
    source: string | URL | Uint8Array | Blob,
    opts: WorkerLoadOptions & WorkerCallOptions = {},
  ): Promise<ModelKind> {
    const { signal, onProgress, ...rest } = opts as WorkerLoadOptions & WorkerCallOptions & Record<string, unknown>;
    if (typeof rest.device === 'object' || typeof rest.attention === 'object') {
      throw new HessError(
        'INVALID_ARGUMENT',
        'a GPUDevice or custom attention core cannot be sent to a worker',
        "use device 'webgpu' or 'wasm' and attention 'wgsl' or 'onnx' (the worker creates its own)",
      );
    }
    let src: WorkerModelSource = source instanceof URL ? source.href : source;
    const base = (globalThis as { location?: { href: string } }).location?.href;
    if (typeof src === 'string' && base) src = new URL(src, base).href;
    const load = { source: src, opts: rest as WorkerLoadOptions, ...(this.only && { kind: this.only }) };
    const info = await this.request<LoadedInfo>({ type: 'load', ...load }, { signal, onProgress });
    this.lastLoad = load;
    this.kind = info.kind;
    this.ep = info.ep;
    this.config = info.config;
    this.gpu = info.gpu;
    return info.kind;
  }

  /**
   * Run the model in the worker; the inputs are copied to it, the result's arrays are moved back. The result is the
   * model's own (VGGT's or π³'s), with `kind` saying which.
   */
  run(
    images: readonly RgbaImage[] | ImageTensor,
    opts: WorkerRunOptions & WorkerCallOptions = {},
  ): Promise<WorkerResult> {
    const { signal, onProgress, ...rest } = opts;
    return this.request<WorkerResult>({ type: 'run', images, opts: rest }, { signal, onProgress });
  }

  /** Dispose the model and terminate the worker; the proxy is unusable afterwards. */
  async dispose(): Promise<void> {
    if (this.disposed || this.broken) {
      this.disposed = true;
      return;
    }
    try {
      await this.request({ type: 'dispose' });
    } finally {
      this.disposed = true;
      for (const s of this.stopping.values()) clearTimeout(s.timer);
      this.worker.terminate();
      this.failAll(
        new HessError(
          'DISPOSED',
          'the worker proxy was disposed while this request was pending',
          'dispose after your runs settle',
        ),
      );
    }
  }
}

/**
 * The VGGT-only proxy: {@link ModelWorker} with `Vggt`'s result type. Its `load` refuses a π³ checkpoint
 * (BAD_CHECKPOINT); use ModelWorker for either model.
 */
export class VggtWorker extends ModelWorker {
  declare kind: 'vggt' | null;
  declare config: VggtConfig | null;

  /** As {@link ModelWorker.create}, for a VGGT-only proxy. */
  static override async create(
    worker: WorkerLike | (() => WorkerLike),
    opts: VggtWorkerOptions = {},
  ): Promise<VggtWorker> {
    const factory = typeof worker === 'function' ? worker : null;
    return new VggtWorker(factory, factory ? factory() : (worker as WorkerLike), opts, 'vggt');
  }

  override load(
    source: string | URL | Uint8Array | Blob,
    opts: WorkerLoadOptions & WorkerCallOptions = {},
  ): Promise<'vggt'> {
    return super.load(source, opts) as Promise<'vggt'>;
  }

  override run(
    images: readonly RgbaImage[] | ImageTensor,
    opts: WorkerRunOptions & WorkerCallOptions = {},
  ): Promise<VggtResult & { kind: 'vggt' }> {
    return super.run(images, opts) as Promise<VggtResult & { kind: 'vggt' }>;
  }
}
