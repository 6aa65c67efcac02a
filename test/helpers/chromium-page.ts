// Headless Chromium on a page that reports through `window.__result`: the repo served on 127.0.0.1 with COOP/COEP
// (test/runtimes/harness.ts), the page opened, and its result and uncaught errors returned.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumArgs, serveRepo } from '../runtimes/harness.js';

/** Debian's chromium (scripts/setup-system.sh installs it). */
export const CHROMIUM = '/usr/bin/chromium';

export interface PageResult {
  /** What the page set as `window.__result` (JSON-like, shaped by each page). */
  result: any;
  /** Uncaught errors on the page (`pageerror` events). */
  errors: string[];
}

/**
 * Open a page in headless Chromium and wait (up to 10 min: software WebGPU and wasm on a loaded machine) for its
 * `window.__result`. `{ path }` opens a file of the repo; `{ app }` opens a bundled app folder (its `page.js` loaded
 * as a module by a generated index.html) mounted at /app/.
 */
export async function pageResult(
  target: { path: string } | { app: string },
  extraArgs: string[] = [],
): Promise<PageResult> {
  let path: string;
  const mounts: Record<string, string> = {};
  if ('app' in target) {
    writeFileSync(
      join(target.app, 'index.html'),
      '<!doctype html><meta charset="utf-8"><script type="module" src="./page.js"></script>',
    );
    mounts['/app/'] = target.app;
    path = '/app/index.html';
  } else {
    path = target.path;
  }
  const { url, server } = await serveRepo(mounts);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...chromiumArgs(), ...extraArgs] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${url}${path}`);
    await page.waitForFunction(() => (window as { __result?: unknown }).__result, null, { timeout: 600_000 });
    const result = await page.evaluate(() => (window as { __result?: unknown }).__result);
    return { result, errors };
  } finally {
    await browser.close();
    server.close();
  }
}
