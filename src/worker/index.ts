/**
 * `hess-vggt/worker`: VGGT or π³ inference in a Web Worker. The worker file calls {@link attachVggtWorker}; the page
 * drives it through the {@link ModelWorker} proxy (either model: `load` resolves with the kind, `run` with a result
 * tagged by it) or the VGGT-only {@link VggtWorker} (same load/run/dispose API as Vggt).
 *
 * @module hess-vggt/worker
 */
export { attachVggtWorker, type WorkerScope } from './worker-handler.js';
export {
  ModelWorker,
  VggtWorker,
  type VggtWorkerOptions,
  type WorkerCallOptions,
  type WorkerLike,
} from './worker-client.js';
export type { WorkerLoadOptions, WorkerModelSource, WorkerResult, WorkerRunOptions } from './messages.js';
export { HessError, type HessErrorCode } from '../errors.js';
export type { ProgressEvent, VggtResult, ImageTensor } from '../model/vggt/model.js';
export type { Pi3Result } from '../model/pi3/model.js';
export type { ModelKind } from '../model/load-model.js';
export type { RgbaImage } from '../model/image/rgba-image.js';
