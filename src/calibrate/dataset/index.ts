/** Calibration dataset: folder format, validation, file-system reader/writer and the CO3Dv2 adapter. */
export * from './format.js';
export { parsePlyPoints, encodePlyPoints, PlyError } from './ply.js';
export { readCalibrationScenes, writeCalibrationScene, joinPath } from './reader.js';
export type { ReadScenesOptions, SceneToWrite } from './reader.js';
export * from './co3d.js';
