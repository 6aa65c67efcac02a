// A consumer app bundled with esbuild (the package installed from its tarball), as issue 13 found it broken: `import
// … from 'hess-vggt'` must let the app's bundler resolve onnxruntime-web (a string-literal import in our bundles), so
// the bundled app runs ORT on the page and in a module worker (no import map reaches a worker) in Chromium, loads and
// runs the in-repo tiny VGGT with `Vggt.load(url, { device: 'wasm' })` (the reproduction), and runs as a Node
// bundle. A planner-only app must bundle without onnxruntime-web at all.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';
import { CHROMIUM, pageResult } from '../helpers/chromium-page.js';
import { available, packedProject, root } from './harness.js';

const built = available(resolve(root, 'dist/browser/index.js'), 'the browser bundle (npm run build)');

/**
 * An app folder with hess-vggt installed from its tarball, as after `npm install hess-vggt onnxruntime-web`
 * (`peers`) or a planner-only `npm install hess-vggt`.
 */
function appProject(peers = true): string {
  const dir = packedProject({ peers });
  cpSync(join(root, 'test/runtimes/bundled'), dir, { recursive: true });
  return dir;
}

async function bundle(dir: string, platform: 'browser' | 'node', entries: string[]): Promise<esbuild.BuildResult> {
  return esbuild.build({
    absWorkingDir: dir,
    entryPoints: entries,
    bundle: true,
    format: 'esm',
    platform,
    target: 'es2022',
    outdir: join(dir, `out-${platform}`),
    logLevel: 'silent',
    metafile: true,
  });
}

const ortInputs = (r: esbuild.BuildResult): string[] =>
  Object.keys(r.metafile!.inputs).filter((p) => p.includes('onnxruntime-web/'));

describe('a bundled consumer app (esbuild)', () => {
  it.runIf(built && available(CHROMIUM, 'Debian chromium'))(
    'browser: bundles onnxruntime-web; ORT on the page and in a worker, Vggt.load on the wasm EP',
    async () => {
      const dir = appProject();
      const r = await bundle(dir, 'browser', ['page.mjs', 'worker.mjs']);
      // the app's bundler resolved the SDK's ORT import to onnxruntime-web's browser WebGPU build
      expect(
        ortInputs(r).some((p) => p.endsWith('dist/ort.webgpu.bundle.min.mjs')),
        ortInputs(r).join('\n'),
      ).toBe(true);
      for (const f of ['page.js', 'worker.js']) {
        expect(readFileSync(join(dir, 'out-browser', f), 'utf8')).not.toMatch(/import\(\s*["']onnxruntime-web/);
      }
      const { result: res, errors } = await pageResult({ app: join(dir, 'out-browser') });
      expect(res.error, res.error).toBeUndefined();
      expect(errors).toEqual([]);
      for (const where of [res.page, res.worker]) {
        expect(where.error, where.error).toBeUndefined();
        expect(where.outputs).toBe(15);
        expect(where.relErr).toBeLessThan(1e-6);
      }
      // Vggt.load(url, { device: 'wasm' }) + run, 2 frames of 98×70: depth [2, 70, 98], extrinsics [2, 3, 4]
      expect(res.model).toEqual({ ep: 'wasm', depth: 2 * 70 * 98, extrinsics: 2 * 12, finite: true });
    },
  );

  it.runIf(built)('node: the bundled app runs ORT on the wasm EP', async () => {
    const dir = appProject();
    const r = await bundle(dir, 'node', ['node.mjs']);
    expect(ortInputs(r).length).toBeGreaterThan(0);
    const ortDist = `${pathToFileURL(join(root, 'node_modules/onnxruntime-web/dist')).href}/`;
    const run = spawnSync(process.execPath, ['--liftoff-only', join(dir, 'out-node/node.js'), ortDist], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 600_000,
    });
    const line = run.stdout.split('\n').find((l) => l.startsWith('SMOKE '));
    expect(line, `${run.stdout}\n${run.stderr}`).toBeDefined();
    const res = JSON.parse(line!.slice(6));
    expect(res.outputs).toBe(15);
    expect(res.relErr).toBeLessThan(1e-6);
  });

  it.runIf(built)('planner only: bundles and runs without onnxruntime-web installed', async () => {
    const dir = appProject(false);
    for (const platform of ['browser', 'node'] as const) {
      const r = await bundle(dir, platform, ['planner.mjs']);
      expect(ortInputs(r)).toEqual([]);
      expect(readFileSync(join(dir, `out-${platform}/planner.js`), 'utf8')).not.toMatch(/onnxruntime|InferenceSession/);
    }
    const run = spawnSync(process.execPath, [join(dir, 'out-node/planner.js')], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 600_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const res = JSON.parse(
      run.stdout
        .split('\n')
        .find((l) => l.startsWith('SMOKE '))!
        .slice(6),
    );
    expect(res.simd).toBe(1);
    expect(res.keyBlocks).toBeGreaterThan(0);
  });
});

describe('onnxruntime-web not installed', () => {
  it.runIf(built)('loadOrt fails with ORT_ERROR whose fix is to install the peer dependency', async () => {
    // `npm install hess-vggt` without its optional peer, in a temp folder with no node_modules above it
    const dir = packedProject({ peers: false });
    writeFileSync(
      join(dir, 'main.mjs'),
      `import { loadOrt } from 'hess-vggt';
try { await loadOrt(); console.log('SMOKE {}'); } catch (e) { console.log('SMOKE ' + JSON.stringify({ code: e.code, fix: e.fix, message: e.message })); }`,
    );
    const run = spawnSync(process.execPath, [join(dir, 'main.mjs')], { cwd: dir, encoding: 'utf8', timeout: 600_000 });
    const line = run.stdout.split('\n').find((l) => l.startsWith('SMOKE '));
    expect(line, `${run.stdout}\n${run.stderr}`).toBeDefined();
    const res = JSON.parse(line!.slice(6));
    expect(res.code).toBe('ORT_ERROR');
    expect(res.message).toMatch(/onnxruntime-web/);
    expect(res.fix).toMatch(/npm install onnxruntime-web@1\.30\.0/);
  });
});
