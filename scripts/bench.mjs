// npm run bench [-- name…]: bundle each bench/<name>.bench.ts with esbuild (WGSL/Wasm inlined as in the SDK) and
// run it in its own Node process with the software-Vulkan environment. Each bench writes bench/results/<name>.md
// (+ .json): ratios measured side by side in one run, with the device name. Benchmarks never assert timings.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { gpuEnv } from './gpu-env.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
// dawn.node needs --no-opt and ORT's WebGPU EP needs --liftoff-only; a CPU-only bench (JS vs Wasm) must not pay
// for those flags, or plain JS would be unfairly slow. A bench opts in with a first-line `// bench-flags: …`.

// Benches that only run when named (`npm run bench -- scale`): scale generates a 4.76 GB checkpoint (+ 2.38 GB
// F16) into build/scale/ and loads VGGT-1B at full size, far too heavy for the default run; gpu runs VGGT-1B on a
// real GPU (`npm run bench -- gpu`; `-- gpu --dry-run` checks it at tiny sizes on the CPU adapter); accuracy and
// accuracy-calibrate evaluate the trained vggt-synth over many scenes (tens of minutes, need ../shared).
const onlyWhenNamed = new Set(['scale', 'gpu', 'accuracy', 'accuracy-calibrate']);
// Arguments starting with -- (e.g. --dry-run) are passed on to every bench run.
const benchArgs = process.argv.slice(2).filter((a) => a.startsWith('--'));
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'));
// The gpu bench on a real GPU must see the machine's own Vulkan driver, not the software one gpuEnv() selects.
const realGpu = (name) => name === 'gpu' && !benchArgs.includes('--dry-run') && process.env.HESS_BENCH_DRY !== '1';
const all = readdirSync(`${root}bench`)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace('.bench.ts', ''));
const names = wanted.length ? wanted : all.filter((n) => !onlyWhenNamed.has(n));
mkdirSync(`${root}build/bench`, { recursive: true });
let failures = 0;
for (const name of names) {
  const src = `${root}bench/${name}.bench.ts`;
  const first = readFileSync(src, 'utf8').split('\n')[0];
  const flags = first.startsWith('// bench-flags:') ? first.slice('// bench-flags:'.length).trim().split(/\s+/) : [];
  const out = `${root}build/bench/${name}.mjs`;
  await esbuild.build({
    entryPoints: [src],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    outfile: out,
    loader: { '.wgsl': 'text', '.wasm': 'binary' },
    external: ['onnxruntime-web', 'onnxruntime-web/*', 'webgpu'],
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  console.log(`bench: ${name} (node ${flags.join(' ')})`);
  const env = realGpu(name) ? process.env : gpuEnv();
  const r = spawnSync(process.execPath, [...flags, out, ...benchArgs], { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    failures++;
    console.error(`bench: ${name} failed (${r.status})`);
  }
}
process.exit(failures ? 1 : 0);
