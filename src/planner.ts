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
export { HessError, type HessErrorCode } from './errors';
export { PlannerWasm, MAX_ARENA_BYTES, type WasmVariant, type PlannerExports, type PlannerLoadOptions } from './wasm/planner-module';
export { hasWasmSimd } from './wasm/features';
export { accumulateHeadSquares } from './wasm/fisher';
export * from './mask/index';
export { allocateBudgets, allocateJS, ALLOCATE_LIMITS, allocateReference, uniformBudget, policyScores, type BudgetPolicy, type AllocateOptions } from './allocate/index';
export { FisherAccumulator, type FisherTerm, type FisherShape } from './calibrate/fisher';
export { parseHessFile, combineHess, HESS_FORMAT_VERSION, type HessFile } from './hess/hess-file';
