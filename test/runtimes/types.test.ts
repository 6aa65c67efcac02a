// The package's types as a consumer compiles them: strict, lib check on (skipLibCheck: false), through the
// package's `exports` as installed from its `npm pack` tarball, under moduleResolution nodenext, node16, bundler
// and node10.
// The full SDK brings WebGPU's types itself (@webgpu/types); the planner entry needs no GPU types and, installed
// without the peer dependencies (onnxruntime-web, webgpu), compiles all the same.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { available, packTarball, packedProject, root } from './harness.js';

const built = available(resolve(root, 'dist/types/index.d.ts'), 'the declaration files (npm run build)');
const TSC = join(root, 'node_modules/typescript/bin/tsc');
const ATTW = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');

const FULL = `import { Vggt, createDevice, probe, setOrt, loadOrt, HessError, type VggtResult, type HessDevice } from 'hess-vggt';
import { PlannerWasm, maskLayout, allocateBudgets, type HessFile } from 'hess-vggt/planner';
import { calibrate, readCalibrationScenes } from 'hess-vggt/calibrate';
import { evaluate, renderHessHeatmap } from 'hess-vggt/evaluate';
import { encodeAttention } from 'hess-vggt/advanced';
import { VggtWorker, type WorkerLike } from 'hess-vggt/worker';

export const entries = [calibrate, readCalibrationScenes, evaluate, renderHessHeatmap, encodeAttention];
export const proxy = (w: WorkerLike) => VggtWorker.create(w);

export async function main(): Promise<number> {
  const caps = await probe();
  const gpu: HessDevice = await createDevice();
  const buf: GPUBuffer = gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
  buf.destroy();
  setOrt(await loadOrt());
  const model = await Vggt.load('/models/x/', { device: 'wasm' });
  const r: VggtResult = await model.run([{ width: 2, height: 2, data: new Uint8ClampedArray(16) }]);
  const wasm = await PlannerWasm.load();
  const hess = null as unknown as HessFile;
  const b = allocateBudgets(wasm, hess.scores.flat(), hess.heads, { keyBlocks: maskLayout(2, 9).candidateKeyBlocks, sparsity: 0.5 });
  if (!(caps instanceof HessError)) await model.dispose();
  return (r.depth?.length ?? 0) + b.length;
}
`;

const PLANNER = `import { PlannerWasm, maskLayout, allocateBudgets, buildMasks, parseHessFile, hasWasmSimd } from 'hess-vggt/planner';
import plannerSimd from 'hess-vggt/planner-simd.wasm';

// Workers style: the precompiled module, typed as a WebAssembly.Module by the package.
export const edge = (): Promise<PlannerWasm> => PlannerWasm.load({ module: plannerSimd });

export async function plan(json: string, q: Float32Array, k: Float32Array): Promise<number> {
  const hess = parseHessFile(json);
  const wasm = await PlannerWasm.load(hasWasmSimd() ? 'simd' : 'scalar');
  const L = maskLayout(2, 9);
  const budgets = allocateBudgets(wasm, hess.scores.flat(), hess.heads, { keyBlocks: L.candidateKeyBlocks, sparsity: 0.5 });
  return buildMasks(wasm, { q, k, S: 2, P: 9, heads: hess.heads, headDim: 8, budgets: budgets.subarray(0, hess.heads) }).indices.length;
}
`;

/**
 * Compile `source` in a fresh consumer folder with the package installed from its tarball (peer dependencies only
 * where asked); returns tsc's output and the files it read.
 */
function compile(
  source: string,
  options: Record<string, unknown>,
  peers: boolean,
): { status: number | null; out: string; files: string[] } {
  const dir = packedProject({ peers });
  writeFileSync(join(dir, 'main.ts'), source);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, target: 'es2022', types: [], ...options },
      files: ['main.ts'],
    }),
  );
  const r = spawnSync(process.execPath, [TSC, '-p', dir, '--listFiles'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 600_000,
  });
  const lines = `${r.stdout}${r.stderr}`.split('\n');
  return {
    status: r.status,
    out: lines.filter((l) => !l.startsWith('/')).join('\n'),
    files: lines.filter((l) => l.startsWith('/')),
  };
}

const RESOLUTIONS = [
  { module: 'nodenext', moduleResolution: 'nodenext' },
  { module: 'node16', moduleResolution: 'node16' },
  { module: 'esnext', moduleResolution: 'bundler' },
  // moduleResolution "node" (older bundler setups) reads no `exports`: types come through `types`/`typesVersions`.
  { module: 'esnext', moduleResolution: 'node10' },
];

describe('consumer type check (strict, skipLibCheck: false)', () => {
  for (const res of RESOLUTIONS) {
    it.runIf(built)(`full SDK + planner, ${res.moduleResolution}: zero errors, WebGPU types from the package`, () => {
      const r = compile(FULL, { ...res, lib: ['es2022', 'dom'] }, true);
      expect(r.out.trim(), r.out).toBe('');
      expect(r.status).toBe(0);
      expect(r.files.some((f) => /@webgpu\/types\/dist\/index\.d\.ts$/.test(f))).toBe(true);
    });
  }

  for (const res of RESOLUTIONS) {
    it.runIf(built)(`planner alone, ${res.moduleResolution}: zero errors and no GPU or ORT types read`, () => {
      const r = compile(PLANNER, { ...res, lib: ['es2022', 'dom'] }, false);
      expect(r.out.trim(), r.out).toBe('');
      expect(r.status).toBe(0);
      expect(r.files.filter((f) => /@webgpu|onnxruntime/.test(f))).toEqual([]);
    });
  }
});

// @arethetypeswrong/cli on the tarball: every entry (the .wasm subpaths included) resolves to types under node10,
// node16 and bundler. The one rule ignored (also by `npm run lint:package`): CJSResolvesToESM, a `require()` from
// CommonJS under node16 — the package ships ES modules only (no CommonJS build to keep in step), so CommonJS
// callers use `await import('hess-vggt')` (or `require` where Node loads ES modules with it: 20.19+, 22.12+).
describe('arethetypeswrong on the npm tarball', () => {
  it.runIf(built && available(ATTW, '@arethetypeswrong/cli (npm devDependency)'))(
    'no problem but the deliberate ESM-only one, on every entry',
    () => {
      // The report goes to a file, not a pipe: attw exits with process.exit, which can cut piped output short (a
      // 219 KB report once arrived truncated).
      const out = join(mkdtempSync(join(tmpdir(), 'hess-attw-')), 'report.json');
      const fd = openSync(out, 'w');
      spawnSync(process.execPath, [ATTW, packTarball(), '--format', 'json'], {
        cwd: root,
        stdio: ['ignore', fd, 'inherit'],
        timeout: 600_000,
      });
      closeSync(fd);
      const report = JSON.parse(readFileSync(out, 'utf8')) as {
        analysis: { entrypoints: Record<string, unknown> };
        problems: Record<string, Array<{ kind: string; entrypoint: string; resolutionKind: string }>>;
      };
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
      expect(Object.keys(report.analysis.entrypoints).sort()).toEqual(Object.keys(pkg.exports).sort());
      const problems = Object.values(report.problems).flat();
      const unexpected = problems.filter((p) => !(p.kind === 'CJSResolvesToESM' && p.resolutionKind === 'node16-cjs'));
      expect(unexpected, JSON.stringify(unexpected, null, 1)).toEqual([]);
      const ignored = spawnSync(process.execPath, [ATTW, packTarball(), '--ignore-rules', 'cjs-resolves-to-esm'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 600_000,
      });
      expect(ignored.status, ignored.stdout).toBe(0);
    },
  );
});
