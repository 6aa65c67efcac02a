import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { available, bunBinary, expectPlanner, root, runSmoke, scratchProject } from './harness.js';

const dir = scratchProject();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectWasm(r: Record<string, any>): void {
  expect(r.hasSimd).toBe(true);
  expect(r.wasm.simd.simdEnabled).toBe(1);
  expect(r.wasm.scalar.simdEnabled).toBe(0);
  expect(r.wasm.simd.relErr).toBeLessThan(1e-12);
  expect(r.wasm.scalar.relErr).toBeLessThan(1e-12);
  expectPlanner(r.planner);
}

describe('the built package in other runtimes (imported through package.json exports)', () => {
  const deno = join(root, 'node_modules/.bin/deno');
  const bun = bunBinary();

  it.runIf(available(deno, 'deno (npm devDependency)'))(
    'Deno: planner Wasm (SIMD + scalar) and a WGSL matmul on Deno’s WebGPU',
    () => {
      const r = runSmoke(deno, ['run', '-A', 'cli-smoke.mjs', '--gpu'], dir);
      console.info(`[deno] ${r.runtime} adapter=${r.gpu?.adapter}`);
      expect(r.runtime).toMatch(/^deno /);
      expectWasm(r);
      expect(r.gpu.matmulRelErr).toBeLessThan(1e-5);
    },
  );

  // Bun has no --no-opt equivalent and dawn.node crashes under it, so Bun runs the Wasm side only (documented).
  it.runIf(available(bun, 'bun (npm devDependency)'))('Bun: planner Wasm (SIMD + scalar)', () => {
    const r = runSmoke(bun, ['cli-smoke.mjs'], dir);
    expect(r.runtime).toMatch(/^bun /);
    expectWasm(r);
  });

  it('Node: the built ESM bundle through the `node` condition', () => {
    const r = runSmoke(process.execPath, ['cli-smoke.mjs'], dir);
    expect(r.runtime).toMatch(/^node /);
    expectWasm(r);
  });
});
