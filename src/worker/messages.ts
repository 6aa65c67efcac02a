/**
 * The messages between a page's {@link VggtWorker} proxy and {@link attachVggtWorker} inside a Web Worker. Everything
 * here is structured-cloneable: functions (onProgress) and AbortSignals stay on the page and travel as messages.
 */
import type { HessErrorCode } from '../errors.js';
import type { ProgressEvent, VggtLoadOptions, VggtRunOptions } from '../model/vggt/model.js';

/** Load options that can cross a thread boundary (no callbacks, signals, GPUDevice or custom attention core). */
export type WorkerLoadOptions = Omit<VggtLoadOptions, 'device' | 'attention' | 'onProgress' | 'signal'> & {
  device?: 'webgpu' | 'wasm';
  attention?: 'wgsl' | 'onnx';
};

/** Run options that can cross a thread boundary. */
export type WorkerRunOptions = Omit<VggtRunOptions, 'onProgress' | 'signal'>;

/** A checkpoint the worker can open: a URL (absolute: the worker resolves relative ones against its own URL), bytes or a Blob. */
export type WorkerModelSource = string | Uint8Array | Blob;

export type ToWorker =
  | { type: 'load'; id: number; source: WorkerModelSource; opts: WorkerLoadOptions }
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
export interface LoadedInfo {
  ep: 'webgpu' | 'wasm';
  config: import('../model/config').VggtConfig;
  /** The worker's WebGPU device (null on the wasm EP): its adapter name and whether it has shader-f16. */
  gpu: { name: string; shaderF16: boolean } | null;
}
