/**
 * `hess-vggt/worker`: VGGT inference in a Web Worker. The worker file calls {@link attachVggtWorker}; the page
 * drives it through the {@link VggtWorker} proxy (same load/run/dispose API as Vggt).
 *
 * @module hess-vggt/worker
 */
export { attachVggtWorker, type WorkerScope } from './worker-handler.js';
export { VggtWorker, type VggtWorkerOptions, type WorkerCallOptions, type WorkerLike } from './worker-client.js';
export type { WorkerLoadOptions, WorkerModelSource, WorkerRunOptions } from './messages.js';
export { HessError, type HessErrorCode } from '../errors.js';
export type { ProgressEvent, VggtResult, ImageTensor } from '../model/vggt/model.js';
export type { RgbaImage } from '../model/rgba-image.js';
