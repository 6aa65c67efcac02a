/**
 * The worker side of `hess-vggt/worker`: owns one model (a `Vggt` or a `Pi3`, whichever the checkpoint holds) inside
 * a Web Worker and answers the page's {@link ModelWorker} or {@link VggtWorker} proxy. Requests run one after another
 * (a model is not re-entrant); aborts are handled as soon as the worker's event loop gets to them: at the model's
 * next checkpoint (it yields between blocks, chunks and heads).
 *
 * @example
 * // vggt.worker.js — the whole worker file
 * import { attachVggtWorker } from 'hess-vggt/worker';
 * attachVggtWorker(self);
 */
import { HessError } from '../errors.js';
import { loadModel } from '../model/load-model.js';
import type { Pi3 } from '../model/pi3/model.js';
import { Vggt } from '../model/vggt/model.js';
import type { FromWorker, LoadedInfo, SerializedError, ToWorker, WorkerResult } from './messages.js';

/** The part of a worker's global scope the handler uses (DedicatedWorkerGlobalScope, or a MessagePort in tests). */
export interface WorkerScope {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof HessError) {
    // HessError's message is "message — fix"; send the parts so the page rebuilds the same error.
    const suffix = e.fix ? ` — ${e.fix}` : '';
    const message = suffix && e.message.endsWith(suffix) ? e.message.slice(0, -suffix.length) : e.message;
    return { code: e.code, message, fix: e.fix, name: e.name };
  }
  const err = e as { name?: string; message?: string };
  return { code: null, message: String(err?.message ?? e), fix: '', name: String(err?.name ?? 'Error') };
}

/** The distinct ArrayBuffers behind a result's typed arrays (either model's): moved to the page, not copied. */
export function resultTransferables(r: object): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const a of Object.values(r)) if (ArrayBuffer.isView(a) && a.buffer instanceof ArrayBuffer) buffers.add(a.buffer);
  return [...buffers];
}

/** Answer the page's proxy on `scope` (call once, at the top of the worker file). */
export function attachVggtWorker(scope: WorkerScope): void {
  let model: Vggt | Pi3 | null = null;
  const controllers = new Map<number, AbortController>();
  let queue: Promise<unknown> = Promise.resolve();
  const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

  async function handle(
    m: Exclude<ToWorker, { type: 'abort' }>,
    signal: AbortSignal,
  ): Promise<{ value: unknown; transfer: Transferable[] }> {
    const onProgress = (event: unknown) => post({ type: 'progress', id: m.id, event: event as never });
    switch (m.type) {
      case 'load': {
        const opts = { ...m.opts, onProgress, signal };
        // VggtWorker asks for VGGT only (its results are typed VggtResult): Vggt.load refuses other checkpoints.
        const next = m.kind === 'vggt' ? await Vggt.load(m.source, opts) : await loadModel(m.source, opts);
        await model?.dispose();
        model = next;
        const gpu = next.gpu ? { name: next.gpu.name, shaderF16: next.gpu.features.shaderF16 } : null;
        const info = { kind: next.kind, ep: next.target.ep, config: next.config, gpu } as LoadedInfo;
        return { value: info, transfer: [] };
      }
      case 'run': {
        if (!model) throw new HessError('INVALID_ARGUMENT', 'run() before load()', 'await proxy.load(source) first');
        const r = await model.run(m.images as never, { ...m.opts, onProgress, signal });
        const value = { ...r, kind: model.kind } as WorkerResult;
        return { value, transfer: resultTransferables(r) };
      }
      case 'dispose': {
        await model?.dispose();
        model = null;
        return { value: null, transfer: [] };
      }
    }
  }

  scope.addEventListener('message', (e: MessageEvent) => {
    const m = e.data as ToWorker;
    if (m?.type === 'abort') {
      controllers.get(m.id)?.abort();
      return;
    }
    if (m?.type !== 'load' && m?.type !== 'run' && m?.type !== 'dispose') return;
    const controller = new AbortController();
    controllers.set(m.id, controller);
    queue = queue.then(async () => {
      try {
        if (controller.signal.aborted) throw new HessError('ABORTED', 'operation aborted');
        const { value, transfer } = await handle(m, controller.signal);
        post({ type: 'result', id: m.id, value }, transfer);
      } catch (err) {
        post({ type: 'error', id: m.id, error: serializeError(err) });
      } finally {
        controllers.delete(m.id);
      }
    });
  });
}
