// Mask planning without WebGPU (safe for `hess-vggt/planner`); the WGSL builder lives in ./gpu-mask.ts.
export type { BlockMask } from './types';
export { tokenPermutation, inversePermutation, maskLayout, maskOffsets, SPECIAL_TOKENS, type MaskLayout } from './layout';
export type { MaskInput, PooledBlocks } from './input';
export { buildMasks, poolBlocks, selectBlocks } from './wasm';
export { buildMasksJS, buildMasksReference, poolBlocksJS, selectBlocksJS } from './reference';
