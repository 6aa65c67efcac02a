// npm run build: AssemblyScript → planner .wasm (SIMD + scalar), esbuild → browser and Node/Deno/Bun ESM bundles
// with our WGSL and Wasm inlined (onnxruntime-web and the npm `webgpu` package stay external), tsc → .d.ts
// (then scripts/fix-dts.mjs makes them resolve under node16/nodenext too).
import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { fixDeclarations } from './fix-dts.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => `${root}node_modules/.bin/${name}`;

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${cmd.split('/').pop()} ${args.join(' ')} failed`);
    process.exit(r.status ?? 1);
  }
}

/**
 * The published source maps carry the text of our own sources only: bundled dependencies keep their mappings but
 * not their content (they are on npm; the package's tarball should not re-ship them).
 */
function ownSourcesOnly(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.map')) continue;
    const file = `${e.parentPath}/${e.name}`;
    const map = JSON.parse(readFileSync(file, 'utf8'));
    map.sourcesContent = map.sources.map((s, i) =>
      s.includes('node_modules/') ? null : (map.sourcesContent?.[i] ?? null),
    );
    writeFileSync(file, JSON.stringify(map));
  }
}

const t0 = performance.now();
for (const target of ['simd', 'scalar']) run(bin('asc'), ['--config', 'asconfig.json', '--target', target]);

rmSync(`${root}dist`, { recursive: true, force: true });
/** @satisfies {import('esbuild').BuildOptions} */
const common = {
  absWorkingDir: root,
  // One bundle per package entry (package.json "exports"); shared code lands in chunks/.
  entryPoints: {
    index: 'src/index.ts',
    planner: 'src/planner.ts',
    calibrate: 'src/entries/calibrate.ts',
    evaluate: 'src/entries/evaluate.ts',
    advanced: 'src/entries/advanced.ts',
    worker: 'src/worker/index.ts',
  },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  loader: { '.wgsl': 'text', '.wasm': 'binary' },
  external: ['onnxruntime-web', 'onnxruntime-web/*', 'webgpu', 'node:*'],
  logLevel: 'warning',
};
await esbuild.build({ ...common, platform: 'browser', outdir: 'dist/browser' });
await esbuild.build({
  ...common,
  platform: 'node',
  outdir: 'dist/node',
  entryPoints: { ...common.entryPoints, cli: 'src/cli/main.ts' },
});
for (const dir of ['dist/browser', 'dist/node']) ownSourcesOnly(`${root}${dir}`);
// The demo page (src/demo → dist/demo): the worker proxy, preprocessing and three.js bundled (no onnxruntime-web); the
// shared demo code (scene renderer, planted HeSS, table) also as its own module for `npm run demo` in Node; index.html copied, style.css inlined.
await esbuild.build({
  ...common,
  platform: 'browser',
  outdir: 'dist/demo',
  outbase: 'src/demo',
  splitting: false,
  chunkNames: undefined,
  minify: true,
  entryPoints: ['src/demo/main.ts', 'src/demo/lib.ts', 'src/demo/index.html'],
  loader: { ...common.loader, '.html': 'copy', '.css': 'text' },
});
// The demo's Web Worker (the model runs there): import maps do not reach workers, so its onnxruntime-web import
// is written as the URL the demo servers give it (/node_modules/onnxruntime-web/dist/, from the repo root).
await esbuild.build({
  ...common,
  platform: 'browser',
  outdir: 'dist/demo',
  outbase: 'src/demo',
  splitting: false,
  chunkNames: undefined,
  minify: true,
  entryPoints: ['src/demo/vggt.worker.ts'],
  plugins: [
    {
      name: 'ort-url',
      setup: (b) =>
        b.onResolve({ filter: /^onnxruntime-web\/webgpu$/ }, () => ({
          path: '/node_modules/onnxruntime-web/dist/ort.webgpu.bundle.min.mjs',
          external: true,
        })),
    },
  ],
});
run(bin('tsc'), ['-p', 'tsconfig.json', '--emitDeclarationOnly']);
fixDeclarations(`${root}dist/types`, [
  'index.d.ts',
  'worker/index.d.ts',
  ...['calibrate', 'evaluate', 'advanced'].map((e) => `entries/${e}.d.ts`),
]);
// The planner's .wasm files as package subpaths (hess-vggt/planner-simd.wasm): runtimes that forbid compiling Wasm
// at run time (Cloudflare workerd) take a module their bundler precompiled, passed as PlannerWasm.load({ module }).
for (const v of ['simd', 'scalar'])
  copyFileSync(`${root}build/wasm/planner-${v}.wasm`, `${root}dist/planner-${v}.wasm`);
// Their types: what a Workers bundler (wrangler, esbuild) makes of a .wasm import, a compiled module.
writeFileSync(
  `${root}dist/types/planner-wasm.d.ts`,
  `/** The hess-vggt planner, compiled: pass it as PlannerWasm.load({ module }). */
declare const plannerModule: WebAssembly.Module;
export default plannerModule;
`,
);
console.log(`build: ok in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
