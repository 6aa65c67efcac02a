// The VggtWorker proxy's protocol against a scripted fake worker (the real worker runs in test/runtimes/worker.test.ts):
// errors keep their code and fix, progress reaches the caller, an acknowledged abort leaves the worker alone, and an
// unacknowledged one terminates it and reloads the last model in a fresh worker.
import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import type { FromWorker, ToWorker } from '../../../src/worker/messages.js';
import { deserializeError, VggtWorker, type WorkerLike } from '../../../src/worker/worker-client.js';
import { resultTransferables, serializeError } from '../../../src/worker/worker-handler.js';

/** A worker whose replies a test scripts: `reply(message, post)` is called for each message the proxy sends. */
class FakeWorker implements WorkerLike {
  readonly received: ToWorker[] = [];
  terminated = false;
  private listener: ((e: Event) => void) | null = null;
  constructor(private readonly reply: (m: ToWorker, post: (r: FromWorker) => void) => void) {}
  postMessage(message: unknown): void {
    const m = structuredClone(message) as ToWorker;
    this.received.push(m);
    queueMicrotask(() => this.reply(m, (r) => this.listener?.({ data: structuredClone(r) } as unknown as Event)));
  }
  addEventListener(type: string, listener: (e: Event) => void): void {
    if (type === 'message') this.listener = listener;
  }
  terminate(): void {
    this.terminated = true;
  }
}

const loaded = { ep: 'wasm', config: { depth: 2 } };

describe('VggtWorker proxy', () => {
  it('re-throws worker errors as HessError with code and fix (message not doubled)', () => {
    const e = deserializeError(serializeError(new HessError('BAD_CHECKPOINT', 'no tensors', 'convert it first')));
    expect(e).toBeInstanceOf(HessError);
    expect((e as HessError).code).toBe('BAD_CHECKPOINT');
    expect((e as HessError).fix).toBe('convert it first');
    expect(e.message).toBe('no tensors — convert it first');
    const plain = deserializeError(serializeError(new TypeError('boom')));
    expect(plain).not.toBeInstanceOf(HessError);
    expect([plain.name, plain.message]).toEqual(['TypeError', 'boom']);
  });

  it('transfers each distinct result buffer once', () => {
    const shared = new Float32Array(8);
    const r = {
      poseEnc: shared.subarray(0, 4),
      extrinsics: new Float64Array(3),
      intrinsics: null,
      depth: shared.subarray(4),
      depthConf: null,
      worldPoints: new Float32Array(2),
      worldPointsConf: null,
    } as never;
    expect(resultTransferables(r)).toHaveLength(3);
  });

  it('forwards progress, resolves results, and an acknowledged abort keeps the worker', async () => {
    const w = new FakeWorker((m, post) => {
      if (m.type === 'load') post({ type: 'result', id: m.id, value: loaded });
      if (m.type === 'run') {
        post({ type: 'progress', id: m.id, event: { stage: 'aggregator' } });
      }
      if (m.type === 'abort')
        post({ type: 'error', id: m.id, error: serializeError(new HessError('ABORTED', 'operation aborted')) });
    });
    const settled: string[] = [];
    const vggt = await VggtWorker.create(w, { abortGraceMs: 60_000, onAbortSettled: (e) => settled.push(e.how) });
    await vggt.load('file:///m/model.safetensors', { device: 'wasm' });
    expect(vggt.ep).toBe('wasm');
    const controller = new AbortController();
    const stages: string[] = [];
    const run = vggt.run(
      { data: new Float32Array(3 * 14 * 14), S: 1, H: 14, W: 14 },
      {
        signal: controller.signal,
        onProgress: (e) => {
          stages.push(e.stage);
          controller.abort();
        },
      },
    );
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    expect(stages).toEqual(['aggregator']);
    while (settled.length === 0) await new Promise((r) => setTimeout(r, 1));
    expect(settled).toEqual(['acknowledged']);
    expect(w.terminated).toBe(false);
    expect(w.received.map((m) => m.type)).toEqual(['load', 'run', 'abort']);
  });

  it('terminates a worker that does not stop in time and reloads the model in a fresh one', async () => {
    const workers: FakeWorker[] = [];
    const factory = () => {
      const w = new FakeWorker((m, post) => {
        if (m.type === 'load') post({ type: 'result', id: m.id, value: loaded });
        // a run that never yields (the wasm EP mid-session): no reply, not even to abort
      });
      workers.push(w);
      return w;
    };
    const settled: string[] = [];
    const vggt = await VggtWorker.create(factory, { abortGraceMs: 5, onAbortSettled: (e) => settled.push(e.how) });
    await vggt.load('file:///m/model.safetensors', { device: 'wasm', numThreads: 1 });
    const controller = new AbortController();
    const run = vggt.run({ data: new Float32Array(3 * 14 * 14), S: 1, H: 14, W: 14 }, { signal: controller.signal });
    controller.abort();
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    while (settled.length === 0) await new Promise((r) => setTimeout(r, 1));
    expect(settled).toEqual(['restarted']);
    expect(workers).toHaveLength(2);
    expect(workers[0].terminated).toBe(true);
    expect(workers[1].received[0]).toMatchObject({
      type: 'load',
      source: 'file:///m/model.safetensors',
      opts: { device: 'wasm', numThreads: 1 },
    });
  });

  it('without a factory, a terminated worker leaves the proxy unusable with WORKER_ERROR', async () => {
    const w = new FakeWorker((m, post) => {
      if (m.type === 'load') post({ type: 'result', id: m.id, value: loaded });
    });
    const vggt = await VggtWorker.create(w, { abortGraceMs: 5 });
    const controller = new AbortController();
    const run = vggt.run({ data: new Float32Array(3 * 14 * 14), S: 1, H: 14, W: 14 }, { signal: controller.signal });
    controller.abort();
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    while (!w.terminated) await new Promise((r) => setTimeout(r, 1));
    await expect(vggt.run({ data: new Float32Array(3 * 14 * 14), S: 1, H: 14, W: 14 })).rejects.toMatchObject({
      code: 'WORKER_ERROR',
    });
  });
});
