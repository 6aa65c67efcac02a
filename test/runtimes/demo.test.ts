// The browser demo page (dist/demo, built by `npm run build`) in headless Chromium: loads the in-repo models/vggt-synth
// over HTTP, runs the sample scene dense and then HeSS-sparse through the UI, and checks the table (Δ vs dense, Chamfer
// and depth AbsRel vs the scene's GT) and the 3D view (GT and predicted clouds side by side).
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { available, chromiumArgs, root, serveRepo } from './harness.js';

const CHROMIUM = '/usr/bin/chromium';
const FIXTURES = resolve(root, '../shared/fixtures');
const SCREENSHOT = resolve(root, 'test-results/demo.png');

/** Distinct RGB colours in a PNG, and the fraction of pixels that differ from the top-left (background) pixel. */
function pngStats(png: Buffer): { distinct: number; covered: number } {
  const img = PNG.sync.read(png);
  const seen = new Set<number>();
  const d = img.data;
  let covered = 0;
  for (let i = 0; i < d.length; i += 4) {
    const rgb = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
    seen.add(rgb);
    if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 24) covered++;
  }
  return { distinct: seen.size, covered: covered / (d.length / 4) };
}

/**
 * The WebGL canvas's own pixels (preserveDrawingBuffer), copied through a 2D canvas: distinct colours, and the
 * fraction of pixels off the background, overall and per half (GT / predicted when split).
 */
const readCanvas = (page: Page) =>
  page.evaluate(() => {
    const src = document.getElementById('view3d') as HTMLCanvasElement;
    const c = Object.assign(document.createElement('canvas'), { width: src.width, height: src.height });
    const ctx = c.getContext('2d')!;
    ctx.drawImage(src, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    let covered = 0;
    const half = [0, 0]; // covered pixels in the left / right half (GT / predicted when split)
    for (let i = 0; i < d.length; i += 4) {
      seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 24) {
        covered++;
        half[(i / 4) % c.width < c.width / 2 ? 0 : 1]++;
      }
    }
    const n = d.length / 4;
    return {
      distinct: seen.size,
      covered: covered / n,
      left: (2 * half[0]) / n,
      right: (2 * half[1]) / n,
      width: c.width,
      height: c.height,
    };
  });

/** The demo page in headless Chromium (WebGL on SwiftShader must be allowed explicitly; WebGPU already is). */
async function openDemo(query = ''): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
  const { url, server } = await serveRepo({ '/fixtures/': FIXTURES });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...chromiumArgs(), '--enable-unsafe-swiftshader'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${url}/dist/demo/index.html${query}`);
  await page.waitForFunction(() => ['ready', 'error'].includes((window as any).__demo?.state), null, {
    timeout: 600_000,
  });
  return {
    page,
    errors,
    close: async () => {
      await browser.close();
      server.close();
    },
  };
}

/** Click Run and wait for the run to end (or fail); returns the page state. */
async function runAndWait(page: Page, n: number): Promise<any> {
  const t0 = performance.now();
  await page.click('#run');
  await page.waitForFunction((k) => (window as any).__demo.runs >= k || (window as any).__demo.error, n, {
    timeout: 600_000,
  });
  console.info(`[demo] run ${n}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return page.evaluate(() => (window as any).__demo);
}

/** A dense run, then a hess run at ρ 0.5 with q16/k8 blocks (small inputs still leave blocks to choose from). */
async function runDenseThenHess(page: Page): Promise<void> {
  await page.selectOption('#policy', 'dense');
  for (const n of [1, 2]) {
    if (n === 2) {
      await page.selectOption('#policy', 'hess');
      await page.fill('#sparsity', '0.5');
      await page.fill('#qblock', '16');
      await page.fill('#kblock', '8');
    }
    const s = await runAndWait(page, n);
    expect(s.error, s.error).toBeUndefined();
  }
}

/** The results table: headers, and each row's policy and cells. */
async function readTable(page: Page) {
  const rows = await page.$$eval('#timings tbody tr', (trs) =>
    trs.map((tr) => ({
      policy: (tr as HTMLElement).dataset.policy,
      cells: [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''),
    })),
  );
  const headers = await page.$$eval('#timings thead th', (ths) => ths.map((th) => th.textContent ?? ''));
  console.info(`[demo] table\n${[headers, ...rows.map((r) => r.cells)].map((r) => r.join(' | ')).join('\n')}`);
  return { rows, col: (name: string) => headers.indexOf(name) };
}

const pageReady = () =>
  available(CHROMIUM, 'Debian chromium') &&
  available(resolve(root, 'dist/demo/main.js'), 'the demo bundle (npm run build)');

describe('browser demo page (dist/demo) in headless Chromium', () => {
  it.runIf(pageReady())(
    'sample scene: dense, then hess at ρ=0.5 with small blocks → 3D view drawn, table has both rows',
    async () => {
      const { page, errors, close } = await openDemo();
      try {
        const state = () => page.evaluate(() => (window as any).__demo);
        const loaded = await state();
        expect(loaded.error, loaded.error).toBeUndefined();
        expect(loaded.kind).toBe('vggt');
        expect(loaded.backend).toMatch(/^WebGPU/);
        console.info(`[demo] ${loaded.backend}`);

        // The HeSS file shipped beside the default model (calibrated, not planted), drawn as layers × heads heat maps:
        // camera, point-cloud and combined panels.
        const heat = await page.evaluate(() => ({
          info: document.getElementById('hessinfo')?.textContent ?? '',
          cells: document.querySelectorAll('#heatmap svg rect.cell').length,
        }));
        expect(heat.info).toMatch(/3 calibration scenes/);
        expect(heat.cells).toBe(3 * 24 * 4);

        // Before any run the view is one flat background colour: the later check really measures the point cloud.
        const before = await readCanvas(page);
        expect(before.width).toBeGreaterThan(100);
        expect(before.covered).toBe(0);

        // 56×42 model input (3 × 17 tokens) keeps two runs on SwiftShader short; q16/k8 blocks still leave 4 × 7 to choose from.
        await page.fill('#size', '56');
        await runDenseThenHess(page);

        const { rows, col } = await readTable(page);
        expect(rows.map((r) => r.policy)).toEqual(['dense', 'hess']);
        const [dense, hess] = rows.map((r) => r.cells);
        expect(Number(dense[col('ρ achieved')])).toBe(0);
        expect(Number(dense[col('total ms')])).toBeGreaterThan(0);
        // The sparse run really skipped blocks, and its outputs moved away from dense — but stayed close.
        const achieved = Number(hess[col('ρ achieved')]);
        expect(achieved).toBeGreaterThan(0.1);
        expect(achieved).toBeLessThanOrEqual(0.5);
        expect(Number(hess[col('total ms')])).toBeGreaterThan(0);
        for (const k of ['Δ depth', 'Δ points', 'Δ pose']) {
          const v = Number(hess[col(k)]);
          expect(v, k).toBeGreaterThan(0);
          expect(v, k).toBeLessThan(1);
        }
        // Against the sample scene's GT, both runs: finite, positive (no prediction is exact), and a reconstruction
        // rather than noise (a constant depth scores AbsRel ≈ 0.3 on these scenes; Chamfer is in scene units).
        for (const [name, cells] of [
          ['dense', dense],
          ['hess', hess],
        ] as const) {
          const chamfer = Number(cells[col('Chamfer')]);
          const absRel = Number(cells[col('depth AbsRel')]);
          expect(
            Number.isFinite(chamfer) && chamfer > 0 && chamfer < 1,
            `${name} Chamfer ${cells[col('Chamfer')]}`,
          ).toBe(true);
          expect(
            Number.isFinite(absRel) && absRel > 0 && absRel < 1,
            `${name} AbsRel ${cells[col('depth AbsRel')]}`,
          ).toBe(true);
        }
        // Side by side: the GT cloud in the left half, the prediction in the right, both drawn and labelled.
        const views = (await state()).views;
        expect(views.groundTruth).toBeGreaterThan(1000);
        expect(views.predicted).toBeGreaterThan(1000);
        expect(await page.locator('#viewer').getAttribute('class')).toContain('split');
        expect(await page.locator('#label-gt').isVisible()).toBe(true);
        expect(await page.locator('#label-pred').isVisible()).toBe(true);

        const inPage = await readCanvas(page);
        const shot = pngStats(await page.locator('#view3d').screenshot());
        console.info(
          `[demo] canvas ${inPage.width}×${inPage.height}: ${inPage.distinct} colours in page, screenshot ${shot.distinct} colours, ${(shot.covered * 100).toFixed(1)}% covered (left ${(inPage.left * 100).toFixed(1)}%, right ${(inPage.right * 100).toFixed(1)}%)`,
        );
        expect(inPage.distinct).toBeGreaterThan(200);
        expect(inPage.left, 'GT half').toBeGreaterThan(0.01);
        expect(inPage.right, 'predicted half').toBeGreaterThan(0.01);
        expect(inPage.covered).toBeGreaterThan(0.01);
        expect(shot.distinct).toBeGreaterThan(200);
        expect(shot.covered).toBeGreaterThan(0.01);
        expect(await page.locator('#viewnote').textContent()).toMatch(/[\d,]+ points, [0-3]\/3 camera frustums drawn/);

        mkdirSync(resolve(root, 'test-results'), { recursive: true });
        writeFileSync(SCREENSHOT, await page.screenshot({ fullPage: true }));
        expect(errors).toEqual([]);
      } finally {
        await close();
      }
    },
  );

  // π³ is detected from the checkpoint's tensor names (the pi3-tiny fixture: random weights, so the reconstruction
  // is noise and only its plumbing is checked): planted HeSS scores sized for π³ (never VGGT's shipped file), dense
  // and hess runs, the points drawn beside the aligned GT, and a VGGT HeSS file the user picks refused by π³.
  it.runIf(pageReady() && available(resolve(FIXTURES, 'pi3-tiny/model.safetensors'), 'the pi3-tiny fixture'))(
    'π³ checkpoint (?model=): detected, planted π³ HeSS, dense + hess runs drawn, VGGT HeSS refused',
    async () => {
      const { page, errors, close } = await openDemo('?model=/fixtures/pi3-tiny/model.safetensors&size=56');
      try {
        const loaded = await page.evaluate(() => (window as any).__demo);
        expect(loaded.error, loaded.error).toBeUndefined();
        expect(loaded.kind).toBe('pi3');
        expect(loaded.backend).toMatch(/^WebGPU/);
        expect(await page.locator('#status').textContent()).toMatch(/^π³ · .* 18 global layers × 4 heads · ready$/);
        const heat = await page.evaluate(() => ({
          info: document.getElementById('hessinfo')?.textContent ?? '',
          cells: document.querySelectorAll('#heatmap svg rect.cell').length,
        }));
        expect(heat.info).toMatch(/none for this π³: .*PLANTED/);
        expect(heat.cells).toBe(3 * 18 * 4);

        await runDenseThenHess(page);
        const { rows, col } = await readTable(page);
        expect(rows.map((r) => r.policy)).toEqual(['dense', 'hess']);
        const [dense, hess] = rows.map((r) => r.cells);
        expect(Number(dense[col('ρ achieved')])).toBe(0);
        expect(Number(hess[col('ρ achieved')])).toBeGreaterThan(0.1);
        // Δ pose compares π³'s camera poses (it has no pose encoding); the GT scores exist (through the alignment)
        for (const k of ['Δ depth', 'Δ points', 'Δ pose']) expect(Number(hess[col(k)]), k).toBeGreaterThan(0);
        for (const cells of [dense, hess])
          for (const k of ['Chamfer', 'depth AbsRel']) expect(Number.isFinite(Number(cells[col(k)])), k).toBe(true);

        // 3 views of 56×42: the 90% most confident of 7056 points, beside the aligned GT
        const views = (await page.evaluate(() => (window as any).__demo)).views;
        expect(views.predicted).toBeGreaterThan(0.85 * 3 * 56 * 42);
        expect(views.groundTruth).toBeGreaterThan(1000);
        const inPage = await readCanvas(page);
        console.info(
          `[demo π³] ${views.predicted} points; canvas left ${(inPage.left * 100).toFixed(1)}%, right ${(inPage.right * 100).toFixed(1)}%`,
        );
        expect(inPage.right, 'predicted half').toBeGreaterThan(0.01);
        expect(await page.locator('#viewnote').textContent()).toMatch(/[\d,]+ points, .*π³: its own world frame/);

        // The user picks VGGT's HeSS file: the page says π³ will refuse it, and π³ does (BAD_HESS_FILE's message).
        await page.setInputFiles('#hessfile', resolve(root, 'models/vggt-synth/hess.json'));
        await page.waitForFunction(() =>
          /will be refused/.test(document.getElementById('hessinfo')?.textContent ?? ''),
        );
        const refused = await runAndWait(page, 3);
        expect(refused.error).toMatch(/24 layers × 4 heads.*this π³ has 18 global layers × 4 heads/);
        expect(refused.runs).toBe(2);
        expect(errors).toEqual([]);
      } finally {
        await close();
      }
    },
  );
});
