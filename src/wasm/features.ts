// Wasm feature probes, apart from the WebGPU code in gpu/device so the planner entry (and its types) need no GPU.

function wasmValidates(bytes: number[]): boolean {
  try {
    return typeof WebAssembly !== 'undefined' && WebAssembly.validate(new Uint8Array(bytes));
  } catch {
    return false;
  }
}

// (module (func (result v128) v128.const i32x4 0 0 0 0))
const SIMD_PROBE = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 11,
];
// (module (func (result v128) (f32x4.relaxed_madd (i32x4.splat 0) (i32x4.splat 0) (i32x4.splat 0))))
const RELAXED_SIMD_PROBE = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 17, 65, 0, 253, 17, 65,
  0, 253, 17, 253, 133, 2, 11,
];

/** True where this engine runs Wasm fixed-width SIMD (v128). */
export function hasWasmSimd(): boolean {
  return wasmValidates(SIMD_PROBE);
}

/** True where this engine runs Wasm relaxed SIMD. */
export function hasWasmRelaxedSimd(): boolean {
  return wasmValidates(RELAXED_SIMD_PROBE);
}
