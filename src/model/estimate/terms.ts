/** The estimate's building blocks that the trunk and every model's heads use. */
import type { MemoryLocation, MemoryTerm } from './types.js';

/** `count` equal buffers of `bufferBytes` as one term. */
export const term = (name: string, count: number, bufferBytes: number, on: MemoryLocation): MemoryTerm => ({
  name: count === 1 ? name : `${name} ×${count}`,
  bytes: count * bufferBytes,
  bufferBytes,
  on,
});

/** Parameters of one transformer block (norms, qkv, proj, LayerScales, MLP; + per-head q/k norms). */
export function blockParams(C: number, M: number, d: number, qkNorm: boolean): number {
  return 4 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + C * M + M + M * C + C + (qkNorm ? 4 * d : 0);
}

/** Live [·, M] tensors of an unfused MLP at its widest op (fc1 MatMul + bias Add, GELU's Mul/Erf/Add/Mul chain). */
export const MLP_HIDDEN_LIVE = 3;

/** The heads' byte budget per frame chunk (dpt-head.ts, π³'s heads.ts): min(L, 1 GiB) on WebGPU, 256 MiB on wasm. */
export function dptChunkBytes(ep: 'webgpu' | 'wasm', limitBytes: number): number {
  return ep === 'webgpu' ? Math.min(limitBytes, 2 ** 30) : 256 * 2 ** 20;
}
