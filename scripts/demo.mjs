// npm run demo [-- --model <file|dir>] [--images <files…>] [--hess <file>] [--sparsity 0.5] [--out demo-out] [--device wasm]
//              [--serve]   (serve the browser demo page instead, on http://127.0.0.1:8080)
// Builds first when dist/ is missing or older than the sources, then runs scripts/demo-run.mjs in a Node started
// with --no-opt --liftoff-only (dawn.node crashes without the first, ORT's WebGPU EP takes ~30 s to warm up
// without the second) and the software-Vulkan environment of scripts/gpu-env.mjs.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gpuEnv } from './gpu-env.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const outputs = ['dist/node/index.js', 'dist/demo/lib.js', 'dist/demo/main.js'].map((p) => `${root}${p}`);
const built = outputs.every(existsSync) ? Math.min(...outputs.map((p) => statSync(p).mtimeMs)) : 0;
const sources = Math.max(
  ...['src', 'shaders', 'assembly'].filter((d) => existsSync(`${root}${d}`)).map((d) => newest(`${root}${d}`)),
);
if (built < sources) {
  console.log(built ? 'demo: sources changed since the last build, rebuilding…' : 'demo: no build yet, building…');
  const b = spawnSync(process.execPath, [`${root}scripts/build.mjs`], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

const args = process.argv.slice(2);
const script = args.includes('--serve') ? 'demo-serve.mjs' : 'demo-run.mjs';
const flags = script === 'demo-run.mjs' ? ['--no-opt', '--liftoff-only'] : [];
const r = spawnSync(process.execPath, [...flags, `${root}scripts/${script}`, ...args.filter((a) => a !== '--serve')], {
  cwd: process.cwd(),
  stdio: 'inherit',
  env: gpuEnv(),
});
process.exit(r.status ?? 1);
