/**
 * hess-vggt: VGGT (images → cameras, depth, point maps) with HeSS-guided block-sparse global attention, on
 * WebGPU + Wasm SIMD in browsers, Deno, Bun and Node.
 */
export * from './planner';
export { HessError, check, throwIfAborted } from './errors';
export { createDevice, probe, assertAlive, getGpu, type Capabilities, type DeviceOptions, type HessDevice } from './gpu/device';
export { createStorageBuffer, createUniformBuffer, readBuffer, readF32, writeBuffer, poisonBuffer, STORAGE_USAGE } from './gpu/buffers';
export { getPipeline, bindBuffers } from './gpu/pipelines';
export { encodeMatmul } from './gpu/matmul';
export { Graph, tensorInit, floatAttr, floatsAttr, OnnxType, type OnnxDType, type TensorInit, type Dim } from './onnx/builder';
export { loadOrt, setOrt, createSession, type Ort, type OrtOptions, type ExecutionTarget } from './runtime/ort';

// Model: checkpoint reading, preprocessing, the VGGT forward pass and its outputs.
export * from './model/safetensors';
export * from './model/cache';
export { openCheckpointPath } from './model/checkpoint';
export { inferVggtConfig, type VggtConfig, type VggtConfigOverride } from './model/config';
export * from './model/preprocess';
export { Aggregator, HEAD_LAYERS, type AggregatorOptions, type AggregatorOutput } from './model/vggt/aggregator';
export { DenseOnnxAttention, type AttentionCore, type AttentionContext } from './model/vggt/attention-core';
export * from './model/vggt/heads';
export { Vggt, type ModelSource, type ProgressEvent, type VggtLoadOptions, type VggtRunOptions, type VggtResult, type ImageTensor } from './model/vggt/model';
export { type EstimateInput, type FitReport, type MemoryEstimate, type MemoryLimits, type StageEstimate, VGGT_1B_CONFIG } from './model/vggt/estimate';
export { pointCloudPly, camerasJson } from './model/export';

// Calibration data and geometry, evaluation metrics.
export * as geometry from './calibrate/geometry/index';
export * from './calibrate/dataset/index';
export * from './evaluate/index';
export { encodeMaskBuild, buildMasksGpu, type GpuMaskInput, type GpuMaskBuild } from './mask/gpu-mask';
export { buildGradientGraph, DIFFERENTIABLE_OPS, type GradientOptions } from './onnx/autodiff';
export { inferShapes, type ValueInfo } from './onnx/autodiff-shapes';
export {
  encodeAttention, encodeBlockSparseAttention, createBlockSparsePlan, runAttention, attentionReference, blockSparseReference,
  layoutToMask, validateLayout, denseLayout, layoutFromPredicate, toF16, fromF16, DEFAULT_QUERY_BLOCK, DEFAULT_KEY_BLOCK,
  type AttentionShape, type BlockSparseLayout, type AttentionBuffers, type AttentionDType, type AttentionOptions,
  type AttentionTiling, type BlockSparsePlan,
} from './attention/index';
export { WgslAttention, maskToKernelOffsets, type AttentionPolicy, type SparsityOptions, type SparsityStats } from './runtime/wgsl-attention';

// Checkpoint conversion, calibration (HeSS scores from gradients), evaluation harness.
export { convertCheckpoint, SafetensorsWriter, configJson, type ConvertOptions, type ConvertResult, type TensorSpec } from './model/convert';
export {
  calibrate, loadCalibrationScene, sceneErrors, centerGradToPoseEncGrad,
  type CalibrateOptions, type CalibrationState, type SceneInput, type SceneReport, type CalibrateProgress, type CheckpointSource,
} from './calibrate/calibrate';
export { VggtGradients, type ForwardState, type OutputGradients, type VggtGradientsOptions } from './calibrate/gradients';
export type { FisherState } from './calibrate/fisher';
export { evaluate, summarize, type EvalReport, type EvalRow, type EvalSummaryRow, type EvaluateOptions, type EvalPolicy, type EvalAllocation, type LayerSparsity } from './evaluate/harness';
export { writeReport, renderMarkdown, renderSvg, niceTicks, PLOT_METRICS } from './evaluate/report';
export { renderHessHeatmap, type HeatmapOptions } from './evaluate/heatmap';
