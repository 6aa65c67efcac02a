// hess-vggt planner module: the CPU half of HeSS (Fisher accumulation, budget allocation, mask planning).
// Built twice from this source: with SIMD (v128) and without (scalar); the host picks one at run time.
export { arenaReset, arenaAlloc, arenaUsed } from './arena';
export { fisherAccumulate, sumSquares } from './fisher';

/** 1 when this build uses v128 SIMD. */
export function simdEnabled(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}
export { allocateBudgets } from './alloc';
export { maskPool, maskSelect } from './mask';
