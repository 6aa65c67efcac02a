import { describe, expect, it } from 'vitest';
import { CHROMIUM, pageResult } from '../helpers/chromium-page.js';
import { available, expectPlanner } from './harness.js';

describe('headless Chromium (Debian chromium, SwiftShader WebGPU)', () => {
  it.runIf(available(CHROMIUM, 'Debian chromium'))(
    'browser bundle: WGSL matmul + planner Wasm on the page, planner alone in a worker',
    async () => {
      const { result: r, errors } = await pageResult({ path: '/test/runtimes/pages/smoke.html' });
      expect(r.error, r.error).toBeUndefined();
      expect(errors).toEqual([]);
      console.info(`[chromium] ${r.page.runtime} adapter=${r.page.gpu.adapter}`);
      expect(r.page.runtime).toMatch(/^browser /);
      expect(r.page.gpu.matmulRelErr).toBeLessThan(1e-5);
      for (const rep of [r.page, r.worker]) {
        expect(rep.wasm.simd.simdEnabled).toBe(1);
        expect(rep.wasm.simd.relErr).toBeLessThan(1e-12);
        expect(rep.wasm.scalar.relErr).toBeLessThan(1e-12);
        expectPlanner(rep.planner);
      }
      expect(r.worker.importedWebGpu).toBe(false); // the planner entry carries no WebGPU code
    },
  );
});
