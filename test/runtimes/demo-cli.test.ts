// `npm run demo` in Node (scripts/demo-run.mjs, started the way scripts/demo.mjs starts it): the in-repo models/vggt-synth
// on the generated sample scene, dense + HeSS-sparse on WebGPU, and the wasm-EP fallback; checks the printed
// table and the files it writes (views, PLY, cameras JSON).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { available, root } from './harness.js';

const PI3 = resolve(root, '../shared/fixtures/pi3-tiny');
const ready =
  available(resolve(root, 'dist/node/index.js'), 'the Node bundle (npm run build)') &&
  available(resolve(root, 'dist/demo/lib.js'), 'the demo bundle (npm run build)');

function demo(args: string[]): { out: string; dir: string; status: number | null } {
  const dir = mkdtempSync(join(tmpdir(), 'hess-demo-'));
  const r = spawnSync(
    process.execPath,
    ['--no-opt', '--liftoff-only', resolve(root, 'scripts/demo-run.mjs'), '--out', dir, ...args],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 600_000,
      env: process.env, // scripts/test.mjs has set the Vulkan driver
    },
  );
  return { out: `${r.stdout}\n${r.stderr}`, dir, status: r.status };
}

/** The printed Markdown table: policy → cells by header. */
function table(out: string): Map<string, Record<string, string>> {
  const lines = out.split('\n').filter((l) => l.startsWith('| '));
  const head = lines[0]
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim());
  return new Map(
    lines.slice(1).map((l) => {
      const cells = l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
      return [cells[0], Object.fromEntries(head.map((h, i) => [h, cells[i]]))];
    }),
  );
}

function checkPly(file: string): number {
  const b = readFileSync(file);
  const end = b.indexOf('end_header\n') + 'end_header\n'.length;
  const n = Number(/element vertex (\d+)/.exec(b.subarray(0, end).toString('latin1'))![1]);
  expect(b.length).toBe(end + 15 * n); // xyz float32 + rgb u8 per vertex
  return n;
}

describe('npm run demo (Node)', () => {
  it.runIf(ready)('WebGPU: dense + hess on the generated scene → table, views, PLY, cameras', async () => {
    const { out, dir, status } = demo(['--policies', 'dense,hess', '--sparsity', '0.5']);
    expect(status, out).toBe(0);
    expect(out).toMatch(/demo: WebGPU on /);
    expect(out).toMatch(/HeSS scores are PLANTED/);
    const t = table(out);
    expect([...t.keys()]).toEqual(['dense', 'hess']);
    expect(Number(t.get('dense')!['ρ achieved'])).toBe(0);
    const hess = t.get('hess')!;
    expect(Number(hess['ρ achieved'])).toBeGreaterThan(0.1);
    expect(Number(hess['ρ achieved'])).toBeLessThanOrEqual(0.5);
    for (const k of ['Δ depth', 'Δ points', 'Δ pose']) {
      expect(Number(hess[k]), k).toBeGreaterThan(0); // sparse attention moved the outputs…
      expect(Number(hess[k]), k).toBeLessThan(1); // …but not to something unrelated
    }
    for (let i = 0; i < 3; i++) {
      const png = PNG.sync.read(readFileSync(join(dir, `views/view_${i}.png`)));
      expect([png.width, png.height]).toEqual([196, 140]);
      const colours = new Set<number>();
      for (let p = 0; p < png.data.length; p += 4)
        colours.add((png.data[p] << 16) | (png.data[p + 1] << 8) | png.data[p + 2]);
      expect(colours.size).toBeGreaterThan(500); // a textured render, not a flat fill
    }
    expect(checkPly(join(dir, 'scene.ply'))).toBeGreaterThan(0);
    const cams = JSON.parse(readFileSync(join(dir, 'cameras.json'), 'utf8'));
    expect([cams.width, cams.height, cams.frames.length]).toEqual([98, 70, 3]);
    for (const f of cams.frames) expect(f.extrinsic.map((r: number[]) => r.length)).toEqual([4, 4, 4]);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(results.rows.map((r: { policy: string }) => r.policy)).toEqual(['dense', 'hess']);
  });

  // π³ is detected from the tensor names; its planted HeSS scores are sized and marked for π³ (VGGT's would be refused).
  it.runIf(ready && available(resolve(PI3, 'model.safetensors'), 'the pi3-tiny fixture'))(
    '--model <π³>: detected, dense + hess with planted π³ scores → table (Δ pose on camera poses), PLY, cameras',
    async () => {
      const { out, dir, status } = demo(['--model', PI3, '--policies', 'dense,hess', '--sparsity', '0.5']);
      expect(status, out).toBe(0);
      expect(out).toMatch(/demo: π³ checkpoint/);
      expect(out).toMatch(/HeSS scores are PLANTED/);
      expect(out).toMatch(/over depth, world points and camera poses/);
      const hess = table(out).get('hess')!;
      expect(Number(hess['ρ achieved'])).toBeGreaterThan(0.1);
      for (const k of ['Δ depth', 'Δ points', 'Δ pose']) expect(Number(hess[k]), k).toBeGreaterThan(0);
      expect(checkPly(join(dir, 'scene.ply'))).toBe(3 * 70 * 98);
      const cams = JSON.parse(readFileSync(join(dir, 'cameras.json'), 'utf8'));
      expect(cams.frames.length).toBe(3);
      expect(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).kind).toBe('pi3');
    },
  );

  it.runIf(ready)('--device wasm: falls back to dense only and says so', async () => {
    const { out, dir, status } = demo(['--device', 'wasm']);
    expect(status, out).toBe(0);
    expect(out).toMatch(/wasm EP \(CPU\), DENSE ONLY/);
    expect([...table(out).keys()]).toEqual(['dense']);
    expect(out).not.toMatch(/PLANTED/);
    expect(existsSync(join(dir, 'cameras.json'))).toBe(true);
    expect(checkPly(join(dir, 'scene.ply'))).toBeGreaterThan(0);
  });
});
