// The README's TypeScript examples, extracted from README.md itself: every ```ts block compiles as a consumer module
// (strict, through the package's exports: no undefined names, no wrong signatures), and every block marked
// ```ts runnable runs in Node as written.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';
import { available, root } from './harness.js';

const built = available(resolve(root, 'dist/types/index.d.ts'), 'the build (npm run build)');
const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/^```ts( runnable)?\n([\s\S]*?)^```$/gm)].map(
  (m, i) => ({ name: `block${i}`, runnable: Boolean(m[1]), code: m[2] }),
);

function consumer(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hess-readme-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules/hess-vggt'), 'dir');
  symlinkSync(join(root, 'node_modules/@types'), join(dir, 'node_modules/@types'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'readme', type: 'module', private: true }));
  return dir;
}

describe('README examples', () => {
  it('has TypeScript blocks, some marked runnable', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    expect(blocks.some((b) => b.runnable)).toBe(true);
  });

  it.runIf(built)('every ```ts block type-checks as written (strict, nodenext)', () => {
    const dir = consumer();
    for (const b of blocks) writeFileSync(join(dir, `${b.name}.ts`), `${b.code}\nexport {};\n`);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          lib: ['es2022', 'dom'],
          types: ['node'],
        },
        files: blocks.map((b) => `${b.name}.ts`),
      }),
    );
    const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 600_000,
    });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it.runIf(built)('every ```ts runnable block runs in Node as written', async () => {
    const dir = consumer();
    for (const b of blocks.filter((x) => x.runnable)) {
      const { code } = await esbuild.transform(b.code, { loader: 'ts', format: 'esm', target: 'es2022' });
      writeFileSync(join(dir, `${b.name}.mjs`), code);
      const r = spawnSync(process.execPath, [join(dir, `${b.name}.mjs`)], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 600_000,
      });
      expect(r.status, `${b.name}:\n${b.code}\n${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout.trim().length, b.name).toBeGreaterThan(0);
    }
  });
});
