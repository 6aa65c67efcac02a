// Shared pieces of the runtime tests: a scratch project that depends on this repo (so Deno/Bun/Node import the
// package through its `exports`), runtime binaries from node_modules, and a localhost static server.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { expect } from 'vitest';

export const root = resolve(import.meta.dirname, '../..');

/** A runtime that is missing fails in CI and is reported as skipped (with the reason) elsewhere. */
export function available(path: string, what: string): boolean {
  if (existsSync(path)) return true;
  if (process.env.CI) throw new Error(`${what} is missing at ${path}: CI must install it (.ci/run)`);
  console.warn(`[skip] ${what} missing at ${path}`);
  return false;
}

/**
 * Bun's npm package links its binary in a postinstall script (which would download when the platform package is
 * missing), and our install runs no scripts: use the platform package's binary directly.
 */
export function bunBinary(): string {
  for (const v of [
    'bun-linux-x64',
    'bun-linux-x64-baseline',
    'bun-linux-aarch64',
    'bun-darwin-aarch64',
    'bun-darwin-x64',
  ]) {
    const p = join(root, 'node_modules/@oven', v, 'bin/bun');
    if (existsSync(p)) return p;
  }
  // An install that did run bun's postinstall moved the binary here (the file is a text placeholder otherwise).
  const linked = join(root, 'node_modules/bun/bin/bun.exe');
  return existsSync(linked) && statSync(linked).size > 1e6
    ? linked
    : join(root, 'node_modules/@oven/bun-linux-x64/bin/bun');
}

export function scratchProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hess-rt-'));
  cpSync(join(root, 'test/runtimes/scripts'), dir, { recursive: true });
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules/hess-vggt'), 'dir');
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'scratch', type: 'module', private: true, dependencies: { 'hess-vggt': '*' } }),
  );
  writeFileSync(join(dir, 'deno.json'), JSON.stringify({ nodeModulesDir: 'manual' }));
  return dir;
}

let tarball: string | undefined;

/** The package's `npm pack` tarball (made once per test file). */
export function packTarball(): string {
  if (!tarball) {
    const out = mkdtempSync(join(tmpdir(), 'hess-pack-'));
    const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], {
      cwd: root,
      encoding: 'utf8',
      timeout: 600_000,
    });
    if (r.status !== 0) throw new Error(`npm pack failed:\n${r.stderr}`);
    tarball = join(out, JSON.parse(r.stdout)[0].filename);
  }
  return tarball;
}

/**
 * An empty project with this package installed from its `npm pack` tarball (what a user gets, not the repo): the
 * tarball unpacked into node_modules/hess-vggt, and next to it only the packages its package.json declares,
 * linked from this repo's node_modules — the dependencies, plus the peer dependencies when `peers` is set.
 */
export function packedProject(opts: { peers: boolean }): string {
  const tgz = packTarball();
  const dir = mkdtempSync(join(tmpdir(), 'hess-consumer-'));
  mkdirSync(join(dir, 'node_modules'));
  const x = spawnSync('tar', ['-xzf', tgz, '-C', join(dir, 'node_modules')], { encoding: 'utf8' });
  if (x.status !== 0) throw new Error(`tar failed: ${x.stderr}`);
  renameSync(join(dir, 'node_modules/package'), join(dir, 'node_modules/hess-vggt'));
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const names = [
    ...Object.keys(pkg.dependencies ?? {}),
    ...(opts.peers ? Object.keys(pkg.peerDependencies ?? {}) : []),
  ];
  for (const name of names) {
    mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true });
    symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name), 'dir');
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
  return dir;
}

/** Run `cmd args` in `cwd`, return the parsed `SMOKE {json}` line (throws with the output when there is none). */
export function runSmoke(cmd: string, args: string[], cwd: string): Record<string, any> {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 600_000, env: process.env });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('SMOKE '));
  if (!line) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line.slice(6));
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.ply': 'application/octet-stream',
};

/** Serve the repo (read-only) on 127.0.0.1 with COOP/COEP, so the page is cross-origin isolated; Range supported. */
export async function serveRepo(mounts: Record<string, string> = {}): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = join(root, normalize(path));
    for (const [prefix, dir] of Object.entries(mounts))
      if (path.startsWith(prefix)) file = join(dir, normalize(path.slice(prefix.length)));
    if (!file.startsWith('/') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const body = readFileSync(file);
    const headers = {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cache-control': 'no-store',
      'accept-ranges': 'bytes',
    };
    // Range requests and a Content-Length, as a static file server gives: the SDK streams checkpoints by range.
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      const start = Number(m[1]),
        end = Math.min(body.length - 1, m[2] ? Number(m[2]) : body.length - 1);
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${start}-${end}/${body.length}`,
        'content-length': end - start + 1,
      });
      res.end(body.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, server };
}

/** Chromium flags: WebGPU on SwiftShader, and nothing that reaches the network (Playwright gives each launch a fresh profile). */
export function chromiumArgs(): string[] {
  return [
    '--headless=new',
    '--no-sandbox',
    '--enable-unsafe-webgpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    '--disable-default-apps',
  ];
}

/** The planner entry's budgets and masks: same in both builds, and each layer spends the uniform total. */
export function expectPlanner(p: Record<string, any>): void {
  expect(p.sameMasks).toBe(true);
  expect(p.layerSums).toEqual([p.uniformTotal, p.uniformTotal]);
  expect(p.kept).toBeGreaterThan(0);
}
