/**
 * hess-vggt/advanced — UNSTABLE. The parts the stable entries are built from, for people extending the SDK:
 * WGSL attention kernels and their float64 references, the attention cores the aggregator calls, the aggregator
 * and heads, the ONNX graph builder and its reverse-mode autodiff, GPU buffer/pipeline helpers, the GPU mask
 * builder and checkpoint conversion. Names and signatures here may change in any minor release; the API report
 * (api/advanced.api.md) records them so a change is at least a visible diff.
 *
 * @experimental Unstable: may change in any minor release.
 *
 * @module hess-vggt/advanced
 */
export { check, throwIfAborted } from '../errors.js';
export { assertAlive, getGpu } from '../gpu/device.js';
export {
  createStorageBuffer,
  createUniformBuffer,
  readBuffer,
  readF32,
  writeBuffer,
  poisonBuffer,
  STORAGE_USAGE,
  BufferUsage,
} from '../gpu/buffers.js';
export { getPipeline, bindBuffers } from '../gpu/pipelines.js';
// A plain WGSL matmul: the smallest end-to-end GPU check (runtime smoke tests use it on the built package).
export { encodeMatmul } from '../gpu/matmul.js';

// ONNX graphs: builder, autodiff, ORT sessions.
export {
  Graph,
  tensorInit,
  floatAttr,
  floatsAttr,
  OnnxType,
  type OnnxDType,
  type TensorInit,
  type Dim,
  type AttrValue,
  type GraphNode,
  type GraphValue,
} from '../onnx/builder.js';
export { buildGradientGraph, DIFFERENTIABLE_OPS, type GradientOptions } from '../onnx/autodiff.js';
export { inferShapes, type ValueInfo } from '../onnx/autodiff-shapes.js';
export { createSession, type ExecutionTarget } from '../runtime/ort.js';

// Attention: WGSL kernels, layouts, references, the attention cores and HeSS masks on the GPU.
export * from '../attention/index.js';
export { WgslAttention } from '../runtime/wgsl-attention.js';
export { DenseOnnxAttention, type AttentionCore, type AttentionContext } from '../model/trunk/attention-core.js';
export { encodeMaskBuild, buildMasksGpu, type GpuMaskInput, type GpuMaskBuild } from '../mask/gpu-mask.js';

// Model internals: aggregator, heads, safetensors decoding, checkpoint conversion.
export {
  Aggregator,
  HEAD_LAYERS,
  vggtLayout,
  type AggregatorOptions,
  type AggregatorOutput,
  type AggregatorRunOptions,
  type TrunkLayout,
} from '../model/trunk/aggregator.js';
export type { BufferLimits } from '../model/trunk/chunks.js';
export type { WeightReader } from '../model/graph/half-weights.js';
export type { ElemType } from '../model/graph/ops.js';
export type { CameraHeadConfig, DptHeadConfig, TrunkConfig } from '../model/config.js';
export { createPi3Trunk, pi3Layout, type Pi3TrunkOptions } from '../model/pi3/trunk.js';
export * from '../model/vggt/heads.js';
export { parseSafetensorsHeader } from '../model/source/safetensors.js';
export { toFloat32, DTYPE_SIZE } from '../model/source/safetensors-dtype.js';
export {
  convertCheckpoint,
  SafetensorsWriter,
  configJson,
  toF16Bytes,
  type ConvertOptions,
  type ConvertResult,
  type TensorSpec,
} from '../model/convert/convert.js';
