/**
 * The VGGT prediction heads: camera (pose encoding), DPT depth and DPT point maps, and the pose-encoding and
 * unprojection helpers. Each head is its own ONNX graph fed with the aggregator's intermediate layers.
 *
 * @example
 * import { CameraHead, DptHead, poseEncodingToExtriIntri } from 'hess-vggt/model/vggt/heads';
 */
export { CameraHead, type CameraHeadOptions } from './camera-head';
export { DptHead, dptPosEmbed, type DptHeadOptions, type DptHeadSpec, type DptKind, type DptOutput } from './dpt-head';
export type { HeadWeights } from './heads-common';
export { type Cameras, poseEncodingToExtriIntri, quatToMat, unprojectDepth } from './pose';
