// Mask planning without WebGPU (safe for `hess-vggt/planner`); the WGSL builder lives in ./gpu-mask.ts.
export type { BlockMask } from './types.js';
export {
  tokenPermutation,
  inversePermutation,
  maskLayout,
  maskOffsets,
  SPECIAL_TOKENS,
  type MaskLayout,
} from './layout.js';
export type { MaskInput, PooledBlocks } from './input.js';
export { buildMasks, poolBlocks, selectBlocks } from './wasm.js';
export { buildMasksJS, buildMasksReference, poolBlocksJS, selectBlocksJS } from './reference.js';
