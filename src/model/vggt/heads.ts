/**
 * The VGGT prediction heads: camera (pose encoding), DPT depth and DPT point maps, and the pose-encoding and
 * unprojection helpers. Each head is one ONNX session fed with the aggregator's intermediate layers (host arrays
 * or GPU tensors); its weights are graph inputs uploaded once (GPU-resident on WebGPU), and a DPT head's one
 * session serves every image size, run in frame chunks sized from a byte budget.
 *
 * @example
 * import { CameraHead, DptHead, poseEncodingToExtriIntri } from 'hess-vggt/model/vggt/heads';
 */
export { CAMERA_FP32_PARTS, CameraHead, type CameraFp32Part, type CameraHeadOptions } from './camera-head.js';
export {
  DPT_FP32_PARTS,
  DptHead,
  dptFrameBytes,
  dptPosEmbed,
  type DptFp32Part,
  type DptHeadOptions,
  type DptHeadSpec,
  type DptKind,
  type DptOutput,
} from './dpt-head.js';
export type { HeadInput } from '../trunk/head-inputs.js';
export type { HeadWeights } from '../heads/heads-common.js';
export { type Cameras, poseEncodingToExtriIntri, quatToMat, unprojectDepth } from './pose.js';
