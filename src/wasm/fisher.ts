import { check } from '../errors.js';
import type { PlannerWasm } from './planner-module.js';

/**
 * Add Σ g² of each head's rows of a [heads·rowsPerHead, cols] float32 gradient into `out[h]` (float64), in Wasm.
 * The building block of Fisher-trace accumulation: one call per layer and error term.
 *
 * @example
 * const traces = new Float64Array(16);
 * accumulateHeadSquares(wasm, gradWq, 16, 64, traces); // gradWq: [1024, 1024] for VGGT-1B
 */
export function accumulateHeadSquares(
  wasm: PlannerWasm,
  grad: Float32Array,
  heads: number,
  rowsPerHead: number,
  out: Float64Array,
): Float64Array {
  check(
    Number.isInteger(heads) && heads > 0 && Number.isInteger(rowsPerHead) && rowsPerHead > 0,
    'heads and rowsPerHead must be positive integers',
  );
  check(out.length === heads, `out must have ${heads} entries, got ${out.length}`);
  const cols = grad.length / (heads * rowsPerHead);
  check(Number.isInteger(cols) && cols > 0, `gradient of ${grad.length} values is not [${heads}·${rowsPerHead}, cols]`);
  wasm.reset();
  const g = wasm.put(grad);
  const o = wasm.put(out);
  wasm.exports.fisherAccumulate(g, heads, rowsPerHead, cols, o);
  out.set(wasm.f64(o, heads));
  wasm.reset();
  return out;
}
