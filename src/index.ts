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
export { loadOrt, createSession, type Ort, type OrtOptions, type ExecutionTarget } from './runtime/ort';
