// The hand-written PlannerExports interface (src/wasm/planner-module.ts) against what it describes: the functions
// assembly/index.ts exports (names, parameter names and order, void or not) and the built modules' exports (names,
// kinds, arities). A parameter added, renamed, reordered or removed on one side only fails here.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PlannerWasm } from '../../../src/wasm/planner-module.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const parse = (file: string) => ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);

interface Signature {
  params: string[];
  types: string[];
  returnsVoid: boolean;
}

/** The functions a module exports, following `export { a, b as c } from './x'` (AssemblyScript parses as TS). */
function asExports(file: string): Map<string, Signature> {
  const sf = parse(file);
  const own = new Map<string, Signature>();
  const out = new Map<string, Signature>();
  for (const st of sf.statements) {
    if (ts.isFunctionDeclaration(st) && st.name) {
      const sig = {
        params: st.parameters.map((p) => p.name.getText(sf)),
        types: st.parameters.map((p) => p.type?.getText(sf) ?? '?'),
        returnsVoid: st.type?.kind === ts.SyntaxKind.VoidKeyword,
      };
      own.set(st.name.text, sig);
      if (st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) out.set(st.name.text, sig);
    }
  }
  for (const st of sf.statements) {
    if (!ts.isExportDeclaration(st) || !st.exportClause || !ts.isNamedExports(st.exportClause)) continue;
    const from = st.moduleSpecifier
      ? asExports(resolve(dirname(file), `${(st.moduleSpecifier as ts.StringLiteral).text}.ts`))
      : own;
    for (const e of st.exportClause.elements) {
      const sig = from.get((e.propertyName ?? e.name).text);
      if (!sig) throw new Error(`${file}: export ${e.name.text} is not a function`);
      out.set(e.name.text, sig);
    }
  }
  return out;
}

/** The methods of `PlannerExports` and its non-method members with their type text. */
function hostInterface(): { methods: Map<string, Signature>; props: Map<string, string> } {
  const sf = parse(resolve(root, 'src/wasm/planner-module.ts'));
  const decl = sf.statements.find(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'PlannerExports',
  );
  if (!decl) throw new Error('PlannerExports not found in src/wasm/planner-module.ts');
  const methods = new Map<string, Signature>();
  const props = new Map<string, string>();
  for (const m of decl.members) {
    if (ts.isMethodSignature(m)) {
      methods.set(m.name.getText(sf), {
        params: m.parameters.map((p) => p.name.getText(sf)),
        types: m.parameters.map((p) => p.type?.getText(sf) ?? '?'),
        returnsVoid: m.type?.kind === ts.SyntaxKind.VoidKeyword,
      });
    } else if (ts.isPropertySignature(m)) {
      props.set(m.name.getText(sf), m.type?.getText(sf) ?? '?');
    }
  }
  return { methods, props };
}

// wasm32 AssemblyScript types that cross the boundary as a JS number (i64/u64 would be a bigint).
const NUMBER_TYPES = new Set(['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'isize', 'usize', 'f32', 'f64', 'bool']);

describe('PlannerExports matches the AssemblyScript exports and the built modules', () => {
  const as = asExports(resolve(root, 'assembly/index.ts'));
  const host = hostInterface();

  it('same functions, parameter names and order, and void-ness as assembly/index.ts', () => {
    expect(as.size).toBeGreaterThanOrEqual(9); // the walk found the re-exports, not only simdEnabled
    expect([...host.methods.keys()].sort()).toEqual([...as.keys()].sort());
    for (const [name, sig] of as) {
      const h = host.methods.get(name)!;
      expect(h.params, name).toEqual(sig.params);
      expect(h.returnsVoid, `${name} returns void`).toBe(sig.returnsVoid);
      expect(
        h.types.every((t) => t === 'number'),
        `${name} takes numbers`,
      ).toBe(true);
      for (const t of sig.types)
        expect(NUMBER_TYPES.has(t), `${name}: AS type ${t} must cross as a JS number`).toBe(true);
    }
    expect(host.props.get('memory')).toBe('WebAssembly.Memory');
  });

  it('each built module exports exactly those functions, with those arities, and its memory', async () => {
    for (const variant of ['simd', 'scalar'] as const) {
      const bytes = readFileSync(resolve(root, `build/wasm/planner-${variant}.wasm`));
      const listed = WebAssembly.Module.exports(new WebAssembly.Module(bytes));
      expect(
        listed.filter((e) => e.kind === 'memory').map((e) => e.name),
        variant,
      ).toEqual(['memory']);
      expect(
        listed
          .filter((e) => e.kind === 'function')
          .map((e) => e.name)
          .sort(),
        variant,
      ).toEqual([...as.keys()].sort());
      const { exports } = await PlannerWasm.load(variant);
      for (const [name, sig] of as)
        expect((exports[name] as (...a: number[]) => unknown).length, `${variant} ${name}`).toBe(sig.params.length);
    }
  });
});
