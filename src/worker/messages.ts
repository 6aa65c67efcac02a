/**
 * The messages between a page's {@link ModelWorker} / {@link VggtWorker} proxy and {@link attachVggtWorker} inside a
 * Web Worker. Everything here is structured-cloneable: functions (onProgress) and AbortSignals stay on the page and
 * travel as messages.
 */
import type { HessErrorCode } from '../errors.js';
import type { VggtConfig } from '../model/config.js';
import type { LoadModelOptions } from '../model/load-model.js';
import type { Pi3Config } from '../model/pi3/config.js';
import type { Pi3Result } from '../model/pi3/model.js';
import type { ProgressEvent, VggtResult, VggtRunOptions } from '../model/vggt/model.js';

/**
 * Load options that can cross a thread boundary (no callbacks, signals, GPUDevice or custom attention core). `config`
 * may hold either model's fields; π³ ignores `heads`.
 */
export type WorkerLoadOptions = Omit<LoadModelOptions, 'device' | 'attention' | 'onProgress' | 'signal'> & {
  device?: 'webgpu' | 'wasm';
  attention?: 'wgsl' | 'onnx';
};

/** Run options that can cross a thread boundary (the same for both models). */
export type WorkerRunOptions = Omit<VggtRunOptions, 'onProgress' | 'signal'>;

/** A checkpoint the worker can open: a URL (absolute: the worker resolves relative ones against its own URL), bytes or a Blob. */
export type WorkerModelSource = string | Uint8Array | Blob;

/**
 * What a run in the worker returns: the model's own result, tagged with its kind (`r.kind === 'pi3'` narrows it to
 * π³'s points, local points, confidence logits and camera-to-world poses).
 */
export type WorkerResult = (VggtResult & { kind: 'vggt' }) | (Pi3Result & { kind: 'pi3' });

export type ToWorker =
  /** `kind: 'vggt'`: VggtWorker's loads, VGGT only; absent, whichever model the checkpoint holds. */
  | { type: 'load'; id: number; source: WorkerModelSource; opts: WorkerLoadOptions; kind?: 'vggt' }
  | { type: 'run'; id: number; images: unknown; opts: WorkerRunOptions }
  | { type: 'dispose'; id: number }
  /** Abort request `id` (a load or a run). */
  | { type: 'abort'; id: number };

/** A {@link HessError} as data: the page re-throws it as a HessError with the same code and fix. */
export interface SerializedError {
  code: HessErrorCode | null;
  message: string;
  fix: string;
  name: string;
}

export type FromWorker =
  | { type: 'progress'; id: number; event: ProgressEvent }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: SerializedError };

/** What `load` resolves with in the worker and sends back. */
export type LoadedInfo = {
  ep: 'webgpu' | 'wasm';
  /** The worker's WebGPU device (null on the wasm EP): its adapter name and whether it has shader-f16. */
  gpu: { name: string; shaderF16: boolean } | null;
} & ({ kind: 'vggt'; config: VggtConfig } | { kind: 'pi3'; config: Pi3Config });
