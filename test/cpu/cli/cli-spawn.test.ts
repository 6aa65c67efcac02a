import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSeed, rng } from '../../helpers/random.js';
import { FIXTURE } from '../../../bench/vggt-tiny.js';

// The CLI bundled exactly as scripts/build.mjs bundles it (esbuild, node platform, WGSL/Wasm inlined, ORT
// external), but into test-results/ (git-ignored, one folder per process) so this test never touches dist/ (other
// work may be using it), onnxruntime-web still resolves from the repo's node_modules and --version finds the
// repo's package.json.
const BUNDLE_DIR = resolve(process.cwd(), `test-results/hess-cli-test-${process.pid}`);

describe('the bundled CLI (spawned)', () => {
  let dir: string;
  let cli: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hess-cli-spawn-'));
    await esbuild.build({
      absWorkingDir: process.cwd(),
      entryPoints: { cli: 'src/cli/main.ts' },
      bundle: true,
      format: 'esm',
      target: 'es2022',
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      loader: { '.wgsl': 'text', '.wasm': 'binary' },
      external: ['onnxruntime-web', 'onnxruntime-web/*', 'webgpu', 'node:*'],
      platform: 'node',
      outdir: BUNDLE_DIR,
      logLevel: 'warning',
    });
    cli = join(BUNDLE_DIR, 'cli.js');
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    await rm(BUNDLE_DIR, { recursive: true, force: true });
  });

  const node = (args: string[]) =>
    spawnSync(process.execPath, ['--no-opt', cli, ...args], { encoding: 'utf8', timeout: 600_000 });

  it('--help prints the commands and the paper-reproduction section; an unknown command exits 2', () => {
    const h = node(['--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toContain('hess-vggt convert');
    expect(h.stdout).toContain('Reproducing the HeSS paper');
    const bad = node(['frobnicate']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(
      'error [INVALID_ARGUMENT]: unknown command "frobnicate" — use one of run, convert, eval, calibrate, co3d, probe (usage: hess-vggt --help)\n',
    );
    const v = node(['--version']);
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('run on two PNGs with the fixture (wasm) writes a binary PLY and the cameras JSON', async () => {
    const rand = rng(freshSeed('cli spawn images'));
    const imgs: string[] = [];
    for (let k = 0; k < 2; k++) {
      const png = new PNG({ width: 84, height: 56 });
      for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : Math.floor(256 * rand());
      const p = join(dir, `img${k}.png`);
      await writeFile(p, PNG.sync.write(png));
      imgs.push(p);
    }
    const out = join(dir, 'scene.ply');
    const r = node(['run', ...imgs, '--model', FIXTURE, '--out', out, '--device', 'wasm']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote .*scene\.ply .*2 frames 518×350, wasm/);
    const ply = await readFile(out);
    const headerEnd = ply.indexOf('end_header\n') + 'end_header\n'.length;
    const header = ply.subarray(0, headerEnd).toString('latin1');
    expect(header.startsWith('ply\nformat binary_little_endian 1.0\n')).toBe(true);
    const n = Number(/element vertex (\d+)/.exec(header)![1]);
    expect(n).toBe(2 * 350 * 518); // min-conf 0 keeps every finite point
    expect(ply.length - headerEnd).toBe(n * 15); // xyz float32 + rgb uchar
    const x0 = ply.readFloatLE(headerEnd);
    expect(Number.isFinite(x0)).toBe(true);
    const cams = JSON.parse(await readFile(join(dir, 'scene.cameras.json'), 'utf8'));
    expect(cams.width).toBe(518);
    expect(cams.height).toBe(350);
    expect(cams.frames).toHaveLength(2);
    expect(cams.frames[0].name).toBe(imgs[0]);
    expect(cams.frames[1].extrinsic).toHaveLength(3);
    expect(cams.frames[1].extrinsic[0]).toHaveLength(4);
    expect(cams.frames[0].poseEnc).toHaveLength(9);
  });
});
