/**
 * hess-vggt: VGGT (images → cameras, depth, point maps) with HeSS-guided block-sparse global attention, on
 * WebGPU + Wasm SIMD in browsers, Deno, Bun and Node.
 *
 * This is the stable, curated entry: what an app needs to load a model, feed it images and read its outputs.
 * Calibration and evaluation live in `hess-vggt/calibrate` and `hess-vggt/evaluate`, the Wasm planner in
 * `hess-vggt/planner`, and kernels, graph building and model internals in `hess-vggt/advanced` (unstable).
 * Every runtime name here is a promise: api/index.api.md lists them and CI fails when the list changes unasked.
 *
 * @module hess-vggt
 */
export { HessError, type HessErrorCode } from './errors.js';
export { createDevice, probe, type Capabilities, type DeviceOptions, type HessDevice } from './gpu/device.js';
export { loadOrt, setOrt, type Ort, type OrtOptions } from './runtime/ort.js';

// The model and its outputs.
export {
  Vggt,
  type ModelSource,
  type ProgressEvent,
  type VggtLoadOptions,
  type VggtRunOptions,
  type VggtResult,
  type ImageTensor,
} from './model/vggt/model.js';
export {
  type DinoConfig,
  inferVggtConfig,
  type TensorShapes,
  type VggtConfig,
  type VggtConfigOverride,
} from './model/config.js';
// π³ (Pi3), the second model, and loading whichever a checkpoint holds.
export { Pi3, type Pi3LoadOptions, type Pi3RunOptions, type Pi3Result } from './model/pi3/model.js';
export type { DeviceOption } from './model/model-io.js';
export { inferPi3Config, type Pi3Config, type Pi3ConfigOverride } from './model/pi3/config.js';
export { loadModel, detectModelKind, type LoadModelOptions, type ModelKind } from './model/load-model.js';
export { estimateMemory, checkMemoryFit, VGGT_1B_CONFIG } from './model/vggt/estimate.js';
export {
  ESTIMATE_STAGES,
  type EstimateStage,
  type EstimateInput,
  type MemoryEstimate,
  type MemoryLimits,
  type MemoryTerm,
  type MemoryLocation,
  type StageEstimate,
  type FitReport,
} from './model/estimate/types.js';
export { WASM_HEAP_BYTES } from './model/estimate/fit.js';
export { poseEncodingToExtriIntri, unprojectDepth, type Cameras } from './model/vggt/pose.js';
export { pointCloudPly, camerasJson } from './model/export.js';
export type { AttentionPolicy, SparsityOptions, SparsityStats } from './runtime/wgsl-attention.js';
export { parseHessFile, combineHess, HESS_FORMAT_VERSION, type HessFile } from './hess/hess-file.js';

// Images: decoding and the VGGT preprocessing (PIL-exact resize, crop/pad), with the limits users may raise.
export type { RgbaImage } from './model/image/rgba-image.js';
export { readImageHeader, type ImageHeader } from './model/image/image-header.js';
export {
  decodeImageFile,
  fromBlob,
  fromImageBitmap,
  orientImage,
  DEFAULT_MAX_PIXELS,
  type DecodeOptions,
} from './model/image/image-decode.js';
export {
  preprocessImages,
  MAX_TARGET_SIZE,
  MAX_RESIZED_PIXELS,
  type PreprocessMode,
  type PreprocessOptions,
  type PreprocessedFrame,
  type PreprocessResult,
} from './model/image/preprocess.js';

// Weights: byte sources, the safetensors reader and the URL range cache.
export { bytesSource, fileSource, blobSource, type ByteRange, type ByteSource } from './model/source/byte-source.js';
export { urlSource, type SpillStore, type UrlSourceOptions } from './model/source/url-source.js';
export {
  CACHE_NAME,
  type UrlCacheOption,
  type CustomRangeCache,
  type DiskCacheOption,
  type CachedUrl,
  type FileVersion,
} from './model/source/cache.js';
export { weightCache, type ListableCache, type WeightCacheListing } from './model/source/weight-cache.js';
export {
  openSafetensors,
  MAX_HEADER_BYTES,
  type Dtype,
  type TensorInfo,
  type Safetensors,
} from './model/source/safetensors.js';
export { openCheckpointPath } from './model/source/checkpoint.js';
