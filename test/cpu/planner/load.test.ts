// Edge runtimes (issue 13): the planner accepts a precompiled WebAssembly.Module, and where compiling Wasm from
// bytes is disallowed (workerd: "Wasm code generation disallowed by embedder") it says so with WASM_UNSUPPORTED.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PlannerWasm } from '../../../src/wasm/planner-module.js';
import { allocateBudgets } from '../../../src/allocate/index.js';
import { expectCode } from '../../helpers/errors.js';
import { freshSeed, rng } from '../../helpers/random.js';

const wasmFile = (v: string) =>
  readFileSync(fileURLToPath(new URL(`../../../build/wasm/planner-${v}.wasm`, import.meta.url)));

afterEach(() => {
  vi.restoreAllMocks();
});

describe('PlannerWasm.load with a precompiled module', () => {
  it('a compiled planner-simd/scalar.wasm loads as that variant and computes what the default load does', async () => {
    const rand = rng(freshSeed('load-module'));
    const scores = Array.from({ length: 4 * 16 }, () => rand());
    const opts = { keyBlocks: 100 + Math.floor(rand() * 1000), sparsity: rand() };
    for (const v of ['simd', 'scalar'] as const) {
      const module = await WebAssembly.compile(wasmFile(v));
      const fromModule = await PlannerWasm.load({ module });
      expect(fromModule.variant).toBe(v);
      const plain = await PlannerWasm.load(v);
      expect(Array.from(allocateBudgets(fromModule, scores, 16, opts))).toEqual(
        Array.from(allocateBudgets(plain, scores, 16, opts)),
      );
      expect((await PlannerWasm.load({ module, variant: v })).variant).toBe(v);
    }
  });

  it('a wrong module, a non-module or a variant mismatch is INVALID_ARGUMENT', async () => {
    const simd = await WebAssembly.compile(wasmFile('simd'));
    await expectCode(PlannerWasm.load({ module: simd, variant: 'scalar' }), 'INVALID_ARGUMENT', /simd build/);
    const empty = await WebAssembly.compile(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    await expectCode(PlannerWasm.load({ module: empty }), 'INVALID_ARGUMENT', /not the hess-vggt planner/);
    await expectCode(
      PlannerWasm.load({ module: wasmFile('simd') as never }),
      'INVALID_ARGUMENT',
      /WebAssembly\.Module/,
    );
    await expectCode(PlannerWasm.load('gpu' as never), 'INVALID_ARGUMENT', /variant/);
  });

  it('where code generation is disallowed: WASM_UNSUPPORTED naming the fix; a given module still works', async () => {
    const instantiate = WebAssembly.instantiate.bind(WebAssembly);
    const disallowed = () =>
      new WebAssembly.CompileError('WebAssembly.instantiate(): Wasm code generation disallowed by embedder');
    vi.spyOn(WebAssembly, 'compile').mockImplementation(() => Promise.reject(disallowed()));
    vi.spyOn(WebAssembly, 'instantiate').mockImplementation(((
      src: BufferSource | WebAssembly.Module,
      imports?: WebAssembly.Imports,
    ) =>
      src instanceof WebAssembly.Module
        ? instantiate(src, imports)
        : Promise.reject(disallowed())) as typeof WebAssembly.instantiate);
    const err = await PlannerWasm.load().then(
      () => null,
      (e: unknown) => e,
    );
    await expectCode(Promise.reject(err), 'WASM_UNSUPPORTED', /disallowed by embedder/);
    expect((err as { fix: string }).fix).toMatch(/precompiled module/);
    expect((err as { fix: string }).fix).toMatch(/planner-(simd|scalar)\.wasm/);
    // A module compiled elsewhere (here: before the stub, with the real compiler) is all it needs.
    const module = new WebAssembly.Module(wasmFile('scalar'));
    const wasm = await PlannerWasm.load({ module });
    expect(wasm.variant).toBe('scalar');
    expect(Array.from(allocateBudgets(wasm, [0.7, 0.1, 0.1, 0.1], 4, { keyBlocks: 10, sparsity: 0.5 }))).toEqual([
      10, 4, 3, 3,
    ]);
  });
});
