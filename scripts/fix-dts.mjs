// Post-processing of tsc's emitted .d.ts (dist/types), so the types resolve under every moduleResolution:
// - node16/nodenext need full relative specifiers in ESM declaration files (TS2834 otherwise): './x' → './x.js',
//   './dir' → './dir/index.js'. src/ keeps extensionless imports (Bundler resolution); this rewrites the output only.
// - tsc names ORT's types through onnxruntime-common, a dependency of onnxruntime-web that strict installs (pnpm)
//   do not expose to us: name them through onnxruntime-web, which re-exports all of it.
// - the main entry's types need WebGPU's (GPUDevice, GPUBuffer…): reference @webgpu/types from index.d.ts only, so
//   hess-vggt/planner's types need none.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * './x' | '../x' → the specifier with `.js` or `/index.js`; unchanged if it already names a file or names no
 * declaration (a doc comment's example): the consumer type test catches a real import left unresolved.
 */
export function fullSpecifier(spec, fromDir) {
  if (!spec.startsWith('./') && !spec.startsWith('../')) return spec;
  if (/\.(js|mjs|cjs|json)$/.test(spec)) return spec;
  const target = resolve(fromDir, spec);
  if (existsSync(`${target}.d.ts`)) return `${spec}.js`;
  if (existsSync(join(target, 'index.d.ts'))) return `${spec.replace(/\/$/, '')}/index.js`;
  return spec;
}

// `from '…'`, `import '…'`, `import('…')`, `export … from '…'` (static and type-position imports).
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"\n]+)\2/g;

/** Rewrite one declaration file's text (pure: `fromDir` is only used to look for the targets). */
export function fixDeclarationText(text, fromDir) {
  return text
    .replace(SPECIFIER, (_m, head, q, spec) => `${head}${q}${fullSpecifier(spec, fromDir)}${q}`)
    .replace(/import\((['"])onnxruntime-common\1\)/g, 'import($1onnxruntime-web$1)');
}

function* declarations(dir) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* declarations(p);
    else if (p.endsWith('.d.ts')) yield p;
  }
}

/** Fix every .d.ts under `dir` in place; `gpuEntries` get the @webgpu/types reference. Returns the file count. */
export function fixDeclarations(dir, gpuEntries = ['index.d.ts']) {
  let n = 0;
  for (const file of declarations(dir)) {
    const text = readFileSync(file, 'utf8');
    let out = fixDeclarationText(text, dirname(file));
    if (gpuEntries.includes(file.slice(dir.length + 1))) out = `/// <reference types="@webgpu/types" />\n${out}`;
    if (out !== text) writeFileSync(file, out);
    n++;
  }
  return n;
}
