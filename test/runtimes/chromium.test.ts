import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { available, chromiumArgs, expectPlanner, serveRepo } from './harness';

const CHROMIUM = '/usr/bin/chromium';

describe('headless Chromium (Debian chromium, SwiftShader WebGPU)', () => {
  it.runIf(available(CHROMIUM, 'Debian chromium'))('browser bundle: WGSL matmul + planner Wasm on the page, planner alone in a worker', async () => {
    const { url, server } = await serveRepo();
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs() });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${url}/test/runtimes/pages/smoke.html`);
      await page.waitForFunction(() => (window as any).__result, null, { timeout: 600_000 });
      const r = await page.evaluate(() => (window as any).__result);
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
    } finally {
      await browser.close();
      server.close();
    }
  });
});
