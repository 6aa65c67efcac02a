import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vitest/config';

/** Load .wgsl as text and .wasm as bytes, exactly as the esbuild bundles do (text / binary loaders). */
function assets(): Plugin {
  return {
    name: 'hess-assets',
    enforce: 'pre',
    load(id) {
      const file = id.split('?')[0];
      if (file.endsWith('.wgsl')) return `export default ${JSON.stringify(readFileSync(file, 'utf8'))};`;
      if (file.endsWith('.wasm')) {
        const b64 = readFileSync(file).toString('base64');
        return `export default Uint8Array.from(atob(${JSON.stringify(b64)}), (c) => c.charCodeAt(0));`;
      }
      return null;
    },
  };
}

export default defineConfig({
  plugins: [assets()],
  test: {
    // No per-test wall-clock limit that a busy machine can hit: the model tests are compute-bound, and a loaded
    // 2-core CI machine once took 17.6 min for the suite and failed gradients-webgpu.test.ts on a 120 s limit.
    // 30 min only stops a test that truly hangs; tests set no tighter limit of their own (subprocess and page waits
    // are bounded at 10 min, so a hang there still fails instead of blocking CI).
    testTimeout: 30 * 60_000,
    silent: 'passed-only',
    hookTimeout: 30 * 60_000,
    projects: [
      {
        extends: true,
        // --liftoff-only: V8 optimising onnxruntime-web's wasm blocks a fresh process ~30 s (measured); test runs are
        // short, so baseline-compiled wasm is faster overall (cpu project 127 s → 85 s).
        test: { name: 'cpu', include: ['test/cpu/**/*.test.ts'], pool: 'forks', execArgv: ['--liftoff-only'] },
      },
      {
        // dawn.node (npm `webgpu`) crashes at random unless V8's optimizing compiler is off; onnxruntime-web's
        // asyncify wasm takes ~30 s to tier up on its first WebGPU run unless Liftoff-only is set.
        extends: true,
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          pool: 'forks',
          execArgv: ['--no-opt', '--liftoff-only'],
          fileParallelism: false,
        },
      },
      {
        // Hostile inputs (issue 12): the CLI, the demo server and dataset folders as subprocesses and fuzzers.
        // Not silent: each file prints its per-class case counts and the fixed seed.
        extends: true,
        test: { name: 'hostile', include: ['test/hostile/**/*.test.ts'], pool: 'forks', execArgv: ['--liftoff-only'], silent: false },
      },
      {
        extends: true,
        test: { name: 'runtimes', include: ['test/runtimes/**/*.test.ts'], pool: 'forks', fileParallelism: false },
      },
    ],
  },
});
