// npm run lint:layers — imports in src/ point one way. Parses every static import/export-from and every dynamic
// import() with a string literal (type-only imports count: a type is a dependency too), then checks:
//   1. no cycle between files;
//   2. no cycle between folders (a folder is src/<name>/, or a root file such as errors.ts on its own);
//   3. every import goes to the same or a lower layer of LAYERS below;
//   4. bench/ does not import test/ (benchmarks must run from what src/ offers; code both need, such as the
//      vggt-tiny fixture loader, lives in bench/ and the tests import it from there).
// Known violations that need a file someone else is editing are in ALLOWED, each with its reason; an entry that no
// longer occurs is an error too, so the list can only shrink.
//
// The layers, lowest first (decided from the code as it is; a folder may import its own layer and those below):
//   0 errors                      HessError and its codes, imported by everything
//   1 io, wasm, gpu, onnx, hess   leaf glue: files/paths, the AS planner module, WebGPU device/buffers, the ONNX
//                                 graph builder and autodiff, the HeSS file format (read by every stage above)
//   2 attention, mask, allocate   WGSL attention kernels, HeSS block masks, head budget allocation
//   3 runtime                     onnxruntime-web loading and sessions, the AttentionCore contract and the WGSL
//                                 sparse core behind ORT (it drives the kernels, masks and budgets below)
//   4 model                       checkpoint reading, preprocessing, the VGGT aggregator and heads
//   5 calibrate                   HeSS calibration: gradients, Fisher, the HeSS file, datasets, geometry
//   6 evaluate                    the evaluation harness, metrics and reports
//   7 planner, index, entries,    the package entries (re-exports only), and the Web Worker entry (a proxy and
//     worker                      the handler that hosts a Vggt in a worker)
//   8 cli, demo                   applications built on the entries' modules
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAYERS = [
  ['errors'],
  ['io', 'wasm', 'gpu', 'onnx', 'hess'],
  ['attention', 'mask', 'allocate'],
  ['runtime'],
  ['model'],
  ['calibrate'],
  ['evaluate'],
  ['planner', 'index', 'entries', 'worker'],
  ['cli', 'demo'],
];

/** `from → to` (paths relative to the repo root) allowed for now, with why. Shrink only.
 * @type {{ from: string, to: string, why: string }[]} */
export const ALLOWED = [];

const root = fileURLToPath(new URL('..', import.meta.url));

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (/\.(ts|mts|mjs|js)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// Comments may hold example imports: drop block comments and whole-line // comments before parsing.
const stripComments = (text) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
const IMPORT = /(?:\b(?:import|export)\b[^'";]*?\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"\n]+)\1/g;

/** The relative specifiers a file imports. */
export function importsOf(text) {
  const specs = [];
  for (const m of stripComments(text).matchAll(IMPORT)) if (m[2].startsWith('.')) specs.push(m[2]);
  return specs;
}

function resolveSpec(spec, fromFile) {
  const base = resolve(dirname(fromFile), spec);
  const stem = base.replace(/\.(m?js)$/, '');
  for (const c of [base, `${stem}.ts`, `${stem}.mts`, `${base}.mjs`, join(base, 'index.ts')]) {
    if (/\.(m?ts|m?js)$/.test(c) && existsSync(c) && statSync(c).isFile()) return c;
  }
  return null; // an asset (.wgsl, .wasm: inlined by the bundler) or a missing file (tsc reports that)
}

/** src/<folder>/… → folder; src/errors.ts → 'errors'. */
export function unitOf(rel) {
  const parts = rel.split('/');
  return parts.length > 2 ? parts[1] : parts[1].replace(/\.[^.]+$/, '');
}

/** Strongly connected components with more than one node (or a self-loop): the cycles. */
export function cycles(graph) {
  let index = 0;
  const idx = new Map(),
    low = new Map(),
    stack = [],
    on = new Set(),
    out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? new Set()).has(v)) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** Every problem found, as lines; empty when the layering holds. */
export function checkLayers(repo = root) {
  const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));
  const allowed = new Map(ALLOWED.map((a) => [`${a.from} → ${a.to}`, a]));
  const seenAllowed = new Set();
  const problems = [];
  const fileGraph = new Map(),
    folderGraph = new Map();
  const edges = [];
  for (const file of walk(join(repo, 'src'))) {
    const from = relative(repo, file);
    fileGraph.set(from, new Set());
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolveSpec(spec, file);
      if (!target) continue;
      const to = relative(repo, target);
      if (!to.startsWith('src/')) {
        problems.push(`${from} imports ${to}, outside src/`);
        continue;
      }
      fileGraph.get(from).add(to);
      edges.push([from, to]);
    }
  }
  for (const [from, to] of edges) {
    const a = unitOf(from),
      b = unitOf(to);
    const key = `${from} → ${to}`;
    if (allowed.has(key)) {
      seenAllowed.add(key);
      continue;
    }
    if (a !== b) {
      if (!folderGraph.has(a)) folderGraph.set(a, new Set());
      folderGraph.get(a).add(b);
    }
    const ra = rank.get(a),
      rb = rank.get(b);
    if (ra === undefined || rb === undefined)
      problems.push(`${key}: folder ${ra !== undefined ? b : a} has no layer in LAYERS`);
    else if (rb > ra) problems.push(`${key}: upward import (${a}, layer ${ra} → ${b}, layer ${rb})`);
  }
  for (const c of cycles(fileGraph)) {
    if (c.every((f) => [...fileGraph.get(f)].every((t) => !c.includes(t) || allowed.has(`${f} → ${t}`)))) continue;
    problems.push(`file cycle: ${c.join(', ')}`);
  }
  for (const c of cycles(folderGraph)) problems.push(`folder cycle: ${c.join(', ')}`);
  for (const file of existsSync(join(repo, 'bench')) ? walk(join(repo, 'bench')) : []) {
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolveSpec(spec, file);
      const key = target && `${relative(repo, file)} → ${relative(repo, target)}`;
      if (key && allowed.has(key)) seenAllowed.add(key);
      else if (target && relative(repo, target).startsWith('test/')) {
        problems.push(`${relative(repo, file)} imports ${relative(repo, target)}: bench/ must not import test/`);
      }
    }
  }
  for (const key of allowed.keys()) {
    if (!seenAllowed.has(key))
      problems.push(`ALLOWED lists ${key}, which no longer occurs: remove it from scripts/check-layers.mjs`);
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = checkLayers();
  for (const p of problems) console.error(`layers: ${p}`);
  console.log(problems.length ? `layers: ${problems.length} problem(s)` : 'layers: ok');
  process.exit(problems.length ? 1 : 0);
}
