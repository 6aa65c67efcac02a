/**
 * hess-vggt/calibrate: HeSS calibration — per-head attention sensitivities from VGGT or π³ gradients over
 * calibration scenes — with the calibration dataset format (reading, writing, CO3D conversion, PLY points) and the geometry
 * (rotations, Umeyama/ICP alignment, nearest neighbours) that calibration and evaluation share.
 *
 * @module hess-vggt/calibrate
 */
export {
  calibrate,
  loadCalibrationScene,
  sceneErrors,
  centerGradToPoseEncGrad,
  type CalibrateOptions,
  type CalibrationState,
  type SceneInput,
  type SceneReport,
  type SceneErrors,
  type CalibrateProgress,
  type CheckpointSource,
  type CalibrationGradients,
} from '../calibrate/calibrate.js';
export {
  Pi3Gradients,
  type Pi3ForwardState,
  type Pi3OutputGradients,
  type Pi3GradientsOptions,
} from '../calibrate/pi3-gradients.js';
export {
  pi3SceneErrors,
  poseCenters,
  type Pi3SceneErrors,
  type SceneGroundTruth,
  type SceneErrorOptions,
} from '../calibrate/scene-errors.js';
export type { TrunkGradientOptions, TrunkState } from '../calibrate/trunk-gradients.js';
export type { ModelGradientsOptions } from '../calibrate/model-gradients.js';
export {
  VggtGradients,
  type ForwardState,
  type OutputGradients,
  type VggtGradientsOptions,
} from '../calibrate/gradients.js';
export { FisherAccumulator, type FisherState, type FisherTerm, type FisherShape } from '../calibrate/fisher.js';
export { parseHessFile, combineHess, HESS_FORMAT_VERSION, HESS_FILE_LIMITS, type HessFile } from '../hess/hess-file.js';
export * as geometry from '../calibrate/geometry/index.js';

// The calibration dataset: one folder per scene (images, cameras.json, optional depth and points).
export * from '../calibrate/dataset/format.js';
export { parsePlyPoints, encodePlyPoints, PlyError } from '../calibrate/dataset/ply.js';
export {
  readCalibrationScenes,
  writeCalibrationScene,
  type ReadScenesOptions,
  type SceneToWrite,
} from '../calibrate/dataset/reader.js';
export * from '../calibrate/dataset/co3d.js';
