/** Whether a model's estimate fits a device's limits, and the largest S that does. */
import { MAX_TOKENS } from '../../mask/layout.js';
import type { VggtConfig } from '../config.js';
import { estimateModelMemory } from './trunk.js';
import type { EstimateInput, FitReport, HeadsMemory, MemoryEstimate, MemoryLimits } from './types.js';

/** onnxruntime-web's wasm heap: a wasm32 memory, at most 4 GiB. */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

/** Why `est` does not fit `limits` (null when it fits). */
function overLimit(
  est: MemoryEstimate,
  limits: MemoryLimits,
): { code: 'LIMIT_TOO_SMALL' | 'OUT_OF_MEMORY'; reason: string } | null {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const binding = Math.min(limits.maxBufferSize ?? Infinity, limits.maxStorageBufferBindingSize ?? Infinity);
  if (est.input.ep === 'webgpu' && est.attentionCheckBytes > binding) {
    return {
      code: 'LIMIT_TOO_SMALL',
      reason: `the attention tensors [S·tokens, C] (${gib(est.attentionCheckBytes)} at 4 bytes/element) exceed the device's buffer/binding limit of ${gib(binding)}`,
    };
  }
  if (est.input.ep === 'webgpu' && est.largestBuffer.bytes > binding) {
    return {
      code: 'LIMIT_TOO_SMALL',
      reason: `the largest buffer (${est.largestBuffer.name}, ${gib(est.largestBuffer.bytes)}, ${est.largestBuffer.stage}) exceeds the device's buffer/binding limit of ${gib(binding)}`,
    };
  }
  if (limits.maxGpuBytes !== undefined && est.gpuBytes > limits.maxGpuBytes) {
    return {
      code: 'OUT_OF_MEMORY',
      reason: `the run needs about ${gib(est.gpuBytes)} of GPU memory, over the budget of ${gib(limits.maxGpuBytes)}`,
    };
  }
  if (limits.maxWasmBytes !== undefined && est.wasmBytes > limits.maxWasmBytes) {
    return {
      code: 'OUT_OF_MEMORY',
      reason: `the run needs about ${gib(est.wasmBytes)} in onnxruntime-web's wasm heap, over its ${gib(limits.maxWasmBytes)}`,
    };
  }
  return null;
}

/**
 * Check a model's run (trunk from `config`, heads from `heads`, as {@link estimateModelMemory}) against limits, and
 * find the largest S (same H, W and options) that fits: 0 when even one frame does not. VGGT's public form:
 * `checkMemoryFit`.
 */
export function checkModelFit(
  config: VggtConfig,
  input: EstimateInput,
  limits: MemoryLimits,
  heads: HeadsMemory,
): FitReport {
  // The chunks are planned from the same limit the buffers are checked against.
  const binding = Math.min(limits.maxBufferSize ?? Infinity, limits.maxStorageBufferBindingSize ?? Infinity);
  if (input.limitBytes === undefined && (input.ep ?? 'webgpu') === 'webgpu' && Number.isFinite(binding))
    input = { ...input, limitBytes: binding };
  const over = overLimit(estimateModelMemory(config, input, heads), limits);
  // No run holds more than MAX_TOKENS tokens (the sparse path cannot plan more), so the search stops there too when
  // no limit stops it first (no limits, or only a wasm heap limit on WebGPU).
  const P = config.patchStartIdx + (input.H * input.W) / config.patchSize ** 2;
  const maxS = Math.max(1, Math.floor(MAX_TOKENS / P));
  const fitsAt = (S: number) => overLimit(estimateModelMemory(config, { ...input, S }, heads), limits) === null;
  // Memory grows with S: double until it does not fit, then bisect.
  let lo = 0,
    hi = 1;
  while (hi <= maxS && fitsAt(hi)) {
    lo = hi;
    hi *= 2;
  }
  if (hi > maxS) {
    if (fitsAt(maxS)) lo = hi = maxS;
    else hi = maxS;
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fitsAt(mid)) lo = mid;
    else hi = mid;
  }
  return over ? { fits: false, ...over, largestS: lo } : { fits: true, largestS: lo };
}
