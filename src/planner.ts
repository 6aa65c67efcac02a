/**
 * `hess-vggt/planner`: the CPU half of HeSS on its own — Wasm SIMD (scalar fallback), no WebGPU, no
 * onnxruntime-web. Importable in an edge worker.
 *
 * @module hess-vggt/planner
 *
 * @example
 * import { PlannerWasm } from 'hess-vggt/planner';
 * const wasm = await PlannerWasm.load();
 */
export { HessError, type HessErrorCode } from './errors.js';
export {
  PlannerWasm,
  MAX_ARENA_BYTES,
  type WasmVariant,
  type PlannerExports,
  type PlannerLoadOptions,
} from './wasm/planner-module.js';
export { hasWasmSimd } from './wasm/features.js';
export { accumulateHeadSquares } from './wasm/fisher.js';
export * from './mask/index.js';
export {
  allocateBudgets,
  allocateJS,
  ALLOCATE_LIMITS,
  allocateReference,
  uniformBudget,
  policyScores,
  type BudgetPolicy,
  type AllocateOptions,
} from './allocate/index.js';
export { FisherAccumulator, type FisherTerm, type FisherShape } from './calibrate/fisher.js';
export { parseHessFile, combineHess, HESS_FORMAT_VERSION, type HessFile } from './hess/hess-file.js';
