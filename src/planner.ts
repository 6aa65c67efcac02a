/**
 * `hess-vggt/planner`: the CPU half of HeSS on its own — Wasm SIMD (scalar fallback), no WebGPU, no
 * onnxruntime-web. Importable in an edge worker.
 *
 * @example
 * import { PlannerWasm } from 'hess-vggt/planner';
 * const wasm = await PlannerWasm.load();
 */
export { HessError, type HessErrorCode } from './errors';
export { PlannerWasm, type WasmVariant, type PlannerExports } from './wasm/planner-module';
export { hasWasmSimd } from './gpu/device';
export { accumulateHeadSquares } from './wasm/fisher';
