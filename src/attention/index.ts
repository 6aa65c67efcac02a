// WGSL flash attention (dense) and per-head block-sparse attention on token-major [N, H, D] buffers.
export {
  encodeAttention,
  encodeBlockSparseAttention,
  createBlockSparsePlan,
  runAttention,
  attentionShaderSource,
  type AttentionBuffers,
  type AttentionDType,
  type AttentionOptions,
  type AttentionTiling,
  type BlockSparsePlan,
} from './kernel.js';
export {
  validateLayout,
  validateShape,
  denseLayout,
  layoutFromPredicate,
  layoutRow,
  blockCounts,
  DEFAULT_KEY_BLOCK,
  DEFAULT_QUERY_BLOCK,
  type AttentionShape,
  type BlockSparseLayout,
} from './layout.js';
export { attentionReference, blockSparseReference, layoutToMask } from './reference.js';
export { toF16, fromF16, f32ToF16Bits, f16BitsToF32 } from './f16.js';
