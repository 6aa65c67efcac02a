// The planner in a real edge runtime (issue 13, item 5): Cloudflare's workerd (npm `workerd`, a devDependency)
// serves a Worker that imports only `hess-vggt/planner` from the packed tarball, installed without onnxruntime-web.
// workerd forbids compiling Wasm from bytes, so the Worker imports the package's `planner-simd.wasm` and
// `planner-scalar.wasm` as Wasm modules (precompiled by workerd; it refuses `wasmModule` bindings in modules-format
// Workers) and passes them to PlannerWasm.load({ module }). Its Fisher sums, budgets, pooled blocks
// and masks must equal the Node planner's bit for bit, on inputs drawn from a fresh seed.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { freshSeed } from '../helpers/random.js';
import { available, packedProject, root } from './harness.js';
import { plan } from './workerd/plan.mjs';

const WORKERD = join(root, 'node_modules/.bin/workerd');

/** Start `workerd serve` on a free port; the port comes back as a control message on fd 3. */
async function serve(dir: string): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(WORKERD, ['serve', 'config.capnp', '--socket-addr', 'http=127.0.0.1:0', '--control-fd', '3'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const port = await new Promise<number>((resolve, reject) => {
    let control = '';
    const timer = setTimeout(() => reject(new Error(`workerd did not report a port within 10 min:\n${out}`)), 600_000);
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d) => {
      control += d;
      for (const line of control.split('\n')) {
        if (!line.trim()) continue;
        const m = JSON.parse(line) as { event?: string; socket?: string; port?: number };
        if (m.event === 'listen' && m.socket === 'http') {
          clearTimeout(timer);
          resolve(m.port!);
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`workerd exited ${code}:\n${out}`));
    });
  });
  return { child, url: `http://127.0.0.1:${port}`, log: () => out };
}

describe.runIf(available(WORKERD, 'workerd (npm devDependency)'))('the planner in Cloudflare workerd', () => {
  let dir: string | undefined;
  let server: Awaited<ReturnType<typeof serve>> | undefined;
  afterAll(() => {
    server?.child.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('hess-vggt/planner with precompiled modules equals the Node planner bit for bit; without one, WASM_UNSUPPORTED', async () => {
    dir = packedProject({ peers: false }); // planner users install neither onnxruntime-web nor webgpu
    for (const f of ['plan.mjs', 'worker.mjs', 'config.capnp'])
      copyFileSync(join(root, 'test/runtimes/workerd', f), join(dir, f));
    // The .wasm files come through the package's exports, as a Workers bundler resolves them.
    const requireFromApp = createRequire(join(dir, 'package.json'));
    for (const v of ['simd', 'scalar'])
      copyFileSync(requireFromApp.resolve(`hess-vggt/planner-${v}.wasm`), join(dir, `planner-${v}.wasm`));
    await build({
      entryPoints: [join(dir, 'worker.mjs')],
      outfile: join(dir, 'worker.bundle.mjs'),
      absWorkingDir: dir,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      conditions: ['workerd', 'worker', 'browser'],
      logLevel: 'silent',
      // As wrangler does: a .wasm import stays a module import, served by workerd as a compiled WebAssembly.Module.
      plugins: [
        {
          name: 'wasm-modules',
          setup: (b) =>
            b.onResolve({ filter: /\.wasm$/ }, (a) => ({ path: `./${a.path.split('/').pop()}`, external: true })),
        },
      ],
    });
    const bundle = readFileSync(join(dir, 'worker.bundle.mjs'), 'utf8');
    expect(bundle).not.toMatch(/onnxruntime-web/);

    server = await serve(dir);
    const seed = freshSeed('workerd planner');
    const res = await fetch(`${server.url}/?seed=${seed}`);
    const text = await res.text();
    expect(res.status, `${text}\n${server.log()}`).toBe(200);
    const r = JSON.parse(text);
    console.info(`[workerd] ${r.runtime}; ${r.simd.kept} kept blocks; without a module: ${r.noModule?.code}`);

    expect(r.moduleIsWasmModule).toBe(true);
    // workerd refuses code generation from bytes: the planner says so with a typed error and the fix.
    expect(r.noModule).toMatchObject({ name: 'HessError', code: 'WASM_UNSUPPORTED' });
    expect(r.noModule.message).toMatch(/PlannerWasm\.load\(\{ module \}\)/);

    // The Node planner from the same package, same seed.
    const nodePlanner = await import(requireFromApp.resolve('hess-vggt/planner'));
    const want = {
      simd: plan(nodePlanner, await nodePlanner.PlannerWasm.load('simd'), seed),
      scalar: plan(nodePlanner, await nodePlanner.PlannerWasm.load('scalar'), seed),
    };
    expect(r.simd).toEqual(want.simd);
    expect(r.scalar).toEqual(want.scalar);
    expect(r.simd.simdEnabled).toBe(1);
    expect(r.scalar.simdEnabled).toBe(0);
    expect(r.simd.kept).toBeGreaterThan(0);
  });
});
