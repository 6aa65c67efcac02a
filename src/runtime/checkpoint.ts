/**
 * Abort checkpoints that let the event loop run. On the wasm EP onnxruntime-web computes on the calling thread and
 * `session.run` resolves through microtasks only, so without a macrotask yield a timer, a message (a worker's
 * abort request) or a click that aborts a run is handled only when the whole run has ended. A checkpoint between
 * two segments yields once (≈0.1 ms) and then checks the signal.
 */
import { throwIfAborted } from '../errors.js';

type Timers = { setImmediate?: (f: () => void) => unknown };

/**
 * Resolve after one macrotask: `setImmediate` where it exists (Node, Bun), else a MessageChannel message (browsers,
 * workers, Deno). Not `scheduler.yield()`: its continuation is queued ahead of other tasks of its priority, so a
 * pending timer could wait behind every later checkpoint.
 */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as Timers;
  if (typeof g.setImmediate === 'function')
    return new Promise((r) => {
      g.setImmediate!(r);
    });
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      r();
    };
    ch.port2.postMessage(null);
  });
}

/**
 * Throw ABORTED if `signal` has fired, after letting whatever would fire it run. Without a signal it only yields
 * (a long run then still lets the page or process handle its events between segments).
 */
export async function abortCheckpoint(signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  await yieldToEventLoop();
  throwIfAborted(signal);
}
