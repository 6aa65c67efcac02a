// The repo's habits, enforced in CI: every TypeScript project type-checks (`npm run typecheck`: src/, test/ +
// bench/, scripts/, assembly/), Biome finds nothing (`npm run lint`: formatting, 120 columns, `.js` import
// specifiers, lint rules), and the API docs of the six entries build with no warning (`npm run docs`).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const scripts: Record<string, string> = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')).scripts;

/** Run a node_modules CLI (by its JS entry) in the repo root; a 10-min bound so a hang fails instead of blocking. */
function cli(entry: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [resolve(root, 'node_modules', entry), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 600_000,
  });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

describe('npm run typecheck', () => {
  // The projects `npm run typecheck` checks, read from package.json so the test and the script cannot drift apart.
  const projects = [...scripts.typecheck.matchAll(/-p (\S+)/g)].map((m) => m[1]);

  it('covers src/, test/ and bench/, scripts/ and assembly/', () => {
    expect(projects).toEqual([
      'tsconfig.json',
      'tsconfig.test.json',
      'tsconfig.scripts.json',
      'assembly/tsconfig.json',
    ]);
  });

  it.each(projects)('tsc -p %s reports no errors', (project) => {
    const r = cli('typescript/bin/tsc', ['--noEmit', '-p', project]);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('npm run lint (Biome)', () => {
  it('biome ci: every file formatted, every import specifier with .js, no lint error or warning', () => {
    const args = scripts.lint.replace(/^biome /, '').split(' ');
    expect(args[0]).toBe('ci'); // the npm script checks, it never writes
    const r = cli('@biomejs/biome/bin/biome', [...args, '--colors=off']);
    expect(r.status, `${r.output}\nfix: npm run format (then fix by hand what it cannot)`).toBe(0);
  });
});

describe('npm run docs (typedoc)', () => {
  it('documents every entry with no warning: every type a public signature uses is exported, every link resolves', () => {
    // typedoc.json sets treatWarningsAsErrors; a full render (not --emit none), since some checks run while rendering.
    const out = mkdtempSync(join(tmpdir(), 'hess-docs-'));
    try {
      const r = cli('typedoc/bin/typedoc', ['--out', out, '--logLevel', 'Warn']);
      expect(r.output).not.toMatch(/\[(warning|error)\]/);
      expect(r.status, r.output).toBe(0);
      const modules = readFileSync(join(out, 'index.html'), 'utf8');
      for (const entry of [
        'hess-vggt',
        'hess-vggt/planner',
        'hess-vggt/calibrate',
        'hess-vggt/evaluate',
        'hess-vggt/worker',
        'hess-vggt/advanced',
      ]) {
        expect(modules).toContain(`>${entry}<`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
