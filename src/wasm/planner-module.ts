import simdBytes from '../../build/wasm/planner-simd.wasm';
import scalarBytes from '../../build/wasm/planner-scalar.wasm';
import { HessError } from '../errors.js';
import { hasWasmSimd } from './features.js';

/** The raw exports of the planner module (assembly/index.ts). Pointers are byte offsets into `memory`. */
export interface PlannerExports {
  memory: WebAssembly.Memory;
  arenaReset(): void;
  arenaAlloc(bytes: number): number;
  arenaUsed(): number;
  fisherAccumulate(grad: number, heads: number, rowsPerHead: number, cols: number, out: number): void;
  sumSquares(ptr: number, n: number): number;
  simdEnabled(): number;
  /** HeSS budgets for layers×heads f64 scores → i32 (assembly/alloc.ts); scratch: 4·heads f64. */
  allocateBudgets(
    scores: number,
    layers: number,
    heads: number,
    cap: number,
    total: number,
    floor: number,
    out: number,
    scratch: number,
  ): void;
  /** Mean-pool blocks of permuted tokens into f32 [heads, numBlocks, d] (assembly/mask.ts). */
  maskPool(
    x: number,
    perm: number,
    N: number,
    heads: number,
    d: number,
    blockSize: number,
    firstBlock: number,
    numBlocks: number,
    out: number,
    acc: number,
  ): void;
  /** Write one layer's CSR indices; returns how many (assembly/mask.ts). */
  maskSelect(
    pq: number,
    pk: number,
    heads: number,
    d: number,
    nQ: number,
    nK: number,
    denseQ: number,
    specialK: number,
    budgets: number,
    keys: number,
    hist: number,
    out: number,
  ): number;
  [name: string]: unknown;
}

export type WasmVariant = 'simd' | 'scalar';

/** Options of {@link PlannerWasm.load}. */
export interface PlannerLoadOptions {
  /** Force a build (default: SIMD where the engine validates v128, else scalar). */
  variant?: WasmVariant;
  /**
   * A precompiled planner module (`hess-vggt/planner-simd.wasm` or `planner-scalar.wasm`), for runtimes that
   * forbid compiling Wasm from bytes at run time (Cloudflare Workers). Its build decides the variant.
   */
  module?: WebAssembly.Module;
}

/** Exports the host calls: a module without them is not the planner (or another version of it). */
const REQUIRED_EXPORTS = [
  'memory',
  'arenaReset',
  'arenaAlloc',
  'arenaUsed',
  'simdEnabled',
  'allocateBudgets',
  'maskPool',
  'maskSelect',
  'fisherAccumulate',
  'sumSquares',
];

/** The most arena bytes one planner call may use: 4 GiB of wasm32 memory less room for the module's own data. */
export const MAX_ARENA_BYTES = 2 ** 32 - 2 ** 20;

function fmtBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/** A planner module instance with arena helpers that copy typed arrays in and out. */
export class PlannerWasm {
  readonly variant: WasmVariant;
  readonly exports: PlannerExports;

  private constructor(variant: WasmVariant, exports: PlannerExports) {
    this.variant = variant;
    this.exports = exports;
  }

  /**
   * Instantiate the planner module: the SIMD build where `WebAssembly.validate` accepts v128, else the scalar one.
   * Where the runtime forbids compiling Wasm from bytes (Cloudflare Workers / workerd: "Wasm code generation
   * disallowed by embedder"), pass the module your bundler precompiled from `hess-vggt/planner-simd.wasm` (or
   * `planner-scalar.wasm`) as `{ module }`; without one that is a WASM_UNSUPPORTED error saying so.
   *
   * @example
   * const wasm = await PlannerWasm.load();          // best available
   * const scalar = await PlannerWasm.load('scalar'); // force the scalar build (e.g. to compare)
   * // Cloudflare Workers: import plannerModule from 'hess-vggt/planner-simd.wasm';
   * const edge = await PlannerWasm.load({ module: plannerModule });
   */
  static async load(opts?: WasmVariant | PlannerLoadOptions): Promise<PlannerWasm> {
    if (typeof WebAssembly === 'undefined') {
      throw new HessError('WASM_UNSUPPORTED', 'WebAssembly is not available', 'use a runtime with WebAssembly support');
    }
    const o: PlannerLoadOptions = typeof opts === 'string' || opts === undefined ? { variant: opts } : opts;
    if (o.variant !== undefined && o.variant !== 'simd' && o.variant !== 'scalar') {
      throw new HessError(
        'INVALID_ARGUMENT',
        `unknown planner variant ${JSON.stringify(o.variant)}`,
        "use 'simd' or 'scalar'",
      );
    }
    if (o.module !== undefined) return PlannerWasm.fromModule(o.module, o.variant);
    const v: WasmVariant = o.variant ?? (hasWasmSimd() ? 'simd' : 'scalar');
    if (v === 'simd' && !hasWasmSimd()) {
      throw new HessError(
        'WASM_UNSUPPORTED',
        'this engine has no Wasm SIMD',
        "load the 'scalar' variant (the default picks it)",
      );
    }
    const bytes = v === 'simd' ? simdBytes : scalarBytes;
    let instance: WebAssembly.Instance;
    try {
      ({ instance } = await WebAssembly.instantiate(bytes as BufferSource, {}));
    } catch (e) {
      throw new HessError(
        'WASM_UNSUPPORTED',
        `this runtime cannot compile the planner's Wasm (${e instanceof Error ? e.message : String(e)})`,
        `pass a precompiled module: PlannerWasm.load({ module }) with the WebAssembly.Module of hess-vggt/planner-${v}.wasm (e.g. a Workers wasm import)`,
        { cause: e },
      );
    }
    return new PlannerWasm(v, instance.exports as unknown as PlannerExports);
  }

  private static async fromModule(module: WebAssembly.Module, variant: WasmVariant | undefined): Promise<PlannerWasm> {
    if (!(module instanceof WebAssembly.Module)) {
      throw new HessError(
        'INVALID_ARGUMENT',
        '`module` must be a WebAssembly.Module',
        'pass the compiled hess-vggt/planner-simd.wasm or planner-scalar.wasm',
      );
    }
    const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
    const missing = REQUIRED_EXPORTS.filter((n) => !names.has(n));
    if (missing.length > 0 || WebAssembly.Module.imports(module).length > 0) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `\`module\` is not the hess-vggt planner (${missing.length ? `missing ${missing.join(', ')}` : 'it has imports'})`,
        'pass the compiled hess-vggt/planner-simd.wasm or planner-scalar.wasm of this version',
      );
    }
    let instance: WebAssembly.Instance;
    try {
      instance = await WebAssembly.instantiate(module, {});
    } catch (e) {
      throw new HessError(
        'WASM_UNSUPPORTED',
        `cannot instantiate the given planner module (${e instanceof Error ? e.message : String(e)})`,
        'pass the module of the scalar build (planner-scalar.wasm) if this engine lacks Wasm SIMD',
        { cause: e },
      );
    }
    const exports = instance.exports as unknown as PlannerExports;
    const actual: WasmVariant = exports.simdEnabled() ? 'simd' : 'scalar';
    if (variant !== undefined && variant !== actual) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `the given module is the ${actual} build, not ${variant}`,
        `omit \`variant\` or pass planner-${variant}.wasm`,
      );
    }
    return new PlannerWasm(actual, exports);
  }

  /** Forget all arena allocations. */
  reset(): void {
    this.exports.arenaReset();
  }

  /**
   * Allocate `bytes` in the arena. Sizes are checked here, before any kernel runs: a request past the 4 GiB Wasm
   * address space (which would wrap to a small pointer in 32-bit arithmetic) or one the engine cannot grow memory
   * for throws INVALID_ARGUMENT instead of a later "memory access out of bounds".
   */
  alloc(bytes: number): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `wasm arena: bad allocation size ${bytes}`,
        'this is a bug in hess-vggt; please report it',
      );
    }
    const used = this.exports.arenaUsed() >>> 0;
    if (used + bytes > MAX_ARENA_BYTES) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `this call needs ${fmtBytes(used + bytes)} of Wasm memory, over the ${fmtBytes(MAX_ARENA_BYTES)} the 32-bit planner can address`,
        'plan fewer heads or frames per call',
      );
    }
    let p: number;
    try {
      p = this.exports.arenaAlloc(bytes) >>> 0;
    } catch (e) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `wasm arena cannot grow by ${fmtBytes(bytes)}: ${String(e)}`,
        'plan fewer heads or frames per call',
        { cause: e },
      );
    }
    if (p === 0 && bytes > 0) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `wasm arena cannot grow by ${fmtBytes(bytes)} (the engine refused more memory)`,
        'plan fewer heads or frames per call',
      );
    }
    return p;
  }

  /** Copy `data` into a fresh arena allocation and return its pointer. */
  put(data: Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array): number {
    const p = this.alloc(data.byteLength);
    new Uint8Array(this.exports.memory.buffer, p, data.byteLength).set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
    return p;
  }

  /** A fresh view (memory may have grown since the last one). */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.exports.memory.buffer, ptr, n);
  }
  f64(ptr: number, n: number): Float64Array {
    return new Float64Array(this.exports.memory.buffer, ptr, n);
  }
  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.exports.memory.buffer, ptr, n);
  }
  u32(ptr: number, n: number): Uint32Array {
    return new Uint32Array(this.exports.memory.buffer, ptr, n);
  }
}
