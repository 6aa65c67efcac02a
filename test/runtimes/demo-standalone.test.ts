// `npm run demo` on a fresh clone with nothing beside it (issue 13): a copy of the repo's scripts and models in a
// temp folder whose parent has no shared/ (dist and node_modules linked in, as after `npm ci && npm run build`), run
// on the wasm EP. The default model must come from the repo, and the run must write its outputs.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { available, root } from './harness.js';

const ready =
  available(resolve(root, 'dist/node/index.js'), 'the Node bundle (npm run build)') &&
  available(resolve(root, 'dist/demo/lib.js'), 'the demo bundle (npm run build)');

describe('npm run demo on a fresh clone (nothing beside the repo)', () => {
  it.runIf(ready)('loads the in-repo vggt-synth model and writes the PLY, cameras and results', () => {
    const parent = mkdtempSync(join(tmpdir(), 'hess-clone-'));
    const clone = join(parent, 'hess-vggt');
    mkdirSync(clone);
    for (const d of ['scripts', 'models']) cpSync(join(root, d), join(clone, d), { recursive: true });
    cpSync(join(root, 'package.json'), join(clone, 'package.json'));
    for (const d of ['dist', 'node_modules']) symlinkSync(join(root, d), join(clone, d), 'dir');
    expect(existsSync(join(parent, 'shared'))).toBe(false);

    const out = join(parent, 'demo-out');
    const r = spawnSync(
      process.execPath,
      ['--no-opt', '--liftoff-only', join(clone, 'scripts/demo-run.mjs'), '--device', 'wasm', '--out', out],
      {
        cwd: clone,
        encoding: 'utf8',
        timeout: 600_000,
        env: process.env,
      },
    );
    const log = `${r.stdout}\n${r.stderr}`;
    expect(r.status, log).toBe(0);
    expect(log).toContain(`demo: model ${join(clone, 'models/vggt-synth')} (vggt-synth`);
    expect(log).not.toMatch(/shared/);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.model).toBe(join(clone, 'models/vggt-synth'));
    expect(results.input).toEqual([3, 3, 70, 98]);
    const cams = JSON.parse(readFileSync(join(out, 'cameras.json'), 'utf8'));
    expect(cams.frames.length).toBe(3);
    const ply = readFileSync(join(out, 'scene.ply'));
    expect(Number(/element vertex (\d+)/.exec(ply.subarray(0, 300).toString('latin1'))![1])).toBe(3 * 70 * 98);
  });
});
