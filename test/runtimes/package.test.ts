// What `npm pack` would publish: a LICENSE, no demo, source maps that carry only our own sources, every `exports`
// and `bin` target present, and dependencies that match what the shipped files load: every package they import is
// declared (dependency or peer), every dependency is loaded by them, and what esbuild inlined is no dependency.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { available, root } from './harness.js';

const built = available(resolve(root, 'dist/node/index.js'), 'the build (npm run build)');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function packedFiles(): { files: string[]; size: number } {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 600_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const [report] = JSON.parse(r.stdout);
  return { files: report.files.map((f: { path: string }) => f.path), size: report.size };
}

/** Package names a file loads: static and dynamic imports, and names passed as string literals (loaded by name). */
function packagesNamed(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/["']((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)(?:\/[\w./-]*)?["']/g)) names.add(m[1]);
  return names;
}

describe('the npm tarball', () => {
  it.runIf(built)('has LICENSE (MIT), README and the built entries; no demo, nothing outside dist', () => {
    const { files, size } = packedFiles();
    console.info(`[pack] ${files.length} files, ${(size / 1e6).toFixed(2)} MB packed`);
    for (const f of ['LICENSE', 'README.md', 'package.json']) expect(files).toContain(f);
    const license = readFileSync(join(root, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License/);
    expect(license).toMatch(/Copyright \(c\) \d{4} hess-vggt contributors/);
    expect(pkg.license).toBe('MIT');
    expect(files.filter((f) => !/^(dist\/|LICENSE$|README\.md$|package\.json$)/.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith('dist/demo/') || f.startsWith('dist/types/demo/'))).toEqual([]);
    const targets: string[] = [pkg.bin['hess-vggt']];
    for (const entry of Object.values(pkg.exports) as (string | Record<string, string>)[]) {
      targets.push(...(typeof entry === 'string' ? [entry] : Object.values(entry)));
    }
    for (const t of targets) expect(files, t).toContain(t.replace(/^\.\//, ''));
    expect(pkg.keywords.length).toBeGreaterThan(0);
  });

  it.runIf(built)('source maps carry the text of our own sources only', () => {
    const maps = packedFiles().files.filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    let ours = 0;
    for (const f of maps) {
      const map = JSON.parse(readFileSync(join(root, f), 'utf8'));
      map.sources.forEach((s: string, i: number) => {
        const content = map.sourcesContent?.[i] ?? null;
        if (s.includes('node_modules/')) expect(content, `${f}: ${s}`).toBeNull();
        else if (content !== null) {
          expect(s, f).toMatch(/^(\.\.\/)+(src|shaders|build)\//);
          ours++;
        }
      });
    }
    expect(ours).toBeGreaterThan(0);
  });

  it.runIf(built)('dependencies = what the shipped files load; bundled packages and ORT are not dependencies', () => {
    const { files } = packedFiles();
    const loaded = new Set<string>();
    const declared = new Set(
      ['dependencies', 'peerDependencies', 'devDependencies'].flatMap((f) => Object.keys(pkg[f] ?? {})),
    );
    for (const f of files.filter((p) => /\.(js|d\.ts)$/.test(p))) {
      const text = readFileSync(join(root, f), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/(?!\/ <reference).*$/gm, ''); // no comments (examples)
      for (const name of packagesNamed(text)) if (declared.has(name)) loaded.add(name);
    }
    const deps = Object.keys(pkg.dependencies);
    const peers = Object.keys(pkg.peerDependencies ?? {});
    // every dependency is loaded by a shipped file (code or types)…
    for (const d of deps) expect(loaded.has(d), `${d} is a dependency but no shipped file loads it`).toBe(true);
    // …and every package a shipped file loads is declared for users, not only for our own development
    for (const name of loaded)
      expect([...deps, ...peers], `${name} is loaded but only a devDependency`).toContain(name);
    // esbuild inlined @thi.ng/geom-accel: it is in the bundle, not a dependency
    expect(deps).not.toContain('@thi.ng/geom-accel');
    expect(
      readFileSync(join(root, 'dist/node/index.js'), 'utf8') +
        files
          .filter((f) => f.startsWith('dist/node/chunks/') && f.endsWith('.js'))
          .map((f) => readFileSync(join(root, f), 'utf8'))
          .join(''),
    ).toMatch(/KdTreeMap/);
    // onnxruntime-web: an optional peer (planner-only installs skip it), installed here for development
    expect(pkg.peerDependencies['onnxruntime-web']).toBeDefined();
    expect(pkg.peerDependenciesMeta['onnxruntime-web'].optional).toBe(true);
    expect(deps).not.toContain('onnxruntime-web');
    expect(pkg.devDependencies['onnxruntime-web']).toBeDefined();
  });

  it('package-lock.json declares what package.json declares', () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages[''];
    for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'peerDependenciesMeta']) {
      expect(lock[field] ?? {}, field).toEqual(pkg[field] ?? {});
    }
  });
});
