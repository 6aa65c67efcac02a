import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrateCommand, evalCommand, runCommand, type CliIo } from '../../../src/cli/commands.js';
import type { EvalReport } from '../../../src/evaluate/harness.js';
import { pi3AsVggtResult } from '../../../src/evaluate/pi3-result.js';
import { parseHessFile } from '../../../src/hess/hess-file.js';
import { Pi3 } from '../../../src/model/pi3/model.js';
import { havePi3Fixture, PI3_FIXTURE } from '../../fixtures/pi3-tiny.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { EVAL_TARGET, writeSyntheticScenes } from './eval-scenes.js';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { log: (l) => out.push(l), err: (l) => err.push(l) };
  return { out, err, io };
};

// run, eval and calibrate take a π³ checkpoint as they take VGGT's (loadModel / calibrate detect it), on the wasm EP.
describe.skipIf(!havePi3Fixture)('CLI commands on a π³ checkpoint (pi3-tiny, wasm EP)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hess-pi3-cli-'));
    const model = await Pi3.load(PI3_FIXTURE, { device: 'wasm' });
    try {
      await writeSyntheticScenes(join(dir, 'data'), model, freshSeed('pi3 cli scenes'), 1, 3);
    } finally {
      await model.dispose();
    }
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("π³ outputs read as VGGT's: extrinsics invert the poses, depth is local z, the pinhole fit recovers a known camera", () => {
    const rand = rng(freshSeed('pi3 as vggt result'));
    const S = 2,
      H = 14,
      W = 28,
      HW = H * W;
    const f = [
      [300 + 200 * rand(), 250 + 200 * rand()],
      [500 + 100 * rand(), 520 + 100 * rand()],
    ];
    const localPoints = new Float32Array(S * HW * 3);
    for (let s = 0; s < S; s++)
      for (let p = 0; p < HW; p++) {
        const z = 1 + 3 * rand();
        const u = (p % W) + 0.5 - W / 2,
          v = Math.floor(p / W) + 0.5 - H / 2;
        localPoints.set([(u / f[s]![0]!) * z, (v / f[s]![1]!) * z, z], 3 * (s * HW + p));
      }
    const cameraPoses = new Float32Array(16 * S);
    for (let s = 0; s < S; s++) {
      // a rotation about z by a random angle, a random translation
      const a = 6 * rand(),
        c = Math.cos(a),
        n = Math.sin(a);
      cameraPoses.set([c, -n, 0, rand(), n, c, 0, rand(), 0, 0, 1, rand(), 0, 0, 0, 1], 16 * s);
    }
    const conf = Float32Array.from({ length: S * HW }, () => 4 * rand() - 2);
    const r = {
      S,
      H,
      W,
      points: new Float32Array(S * HW * 3),
      localPoints,
      conf,
      cameraPoses,
      timings: { trunk: 1, heads: 2, total: 3 },
      sparsity: null,
    };
    const v = pi3AsVggtResult(r);
    for (let s = 0; s < S; s++) {
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 4; j++) {
          // [E; 0 0 0 1] · P = I
          let acc = j === 3 ? v.extrinsics![12 * s + 4 * i + 3]! : 0;
          for (let k = 0; k < 3; k++) acc += v.extrinsics![12 * s + 4 * i + k]! * cameraPoses[16 * s + 4 * k + j]!;
          expect(acc).toBeCloseTo(i === j ? 1 : 0, 6);
        }
      const K = v.intrinsics!.subarray(9 * s, 9 * s + 9);
      expect(Math.abs(K[0]! / f[s]![0]! - 1)).toBeLessThan(1e-5); // float32 local points
      expect(Math.abs(K[4]! / f[s]![1]! - 1)).toBeLessThan(1e-5);
      expect([K[2], K[5]]).toEqual([W / 2, H / 2]);
    }
    expect(v.depth![7]).toBe(localPoints[23]);
    expect(v.worldPointsConf![5]).toBeCloseTo(1 + Math.exp(conf[5]!), 5);
    expect(v.timings).toEqual({ aggregator: 1, heads: 2, total: 3 });
  });

  it('run writes a PLY and cameras.json for a π³ checkpoint', async () => {
    const rand = rng(freshSeed('pi3 cli images'));
    const imgs: string[] = [];
    for (let k = 0; k < 2; k++) {
      const png = new PNG({ width: 98, height: 70 });
      for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : Math.floor(256 * rand());
      imgs.push(join(dir, `img${k}.png`));
      await writeFile(imgs[k]!, PNG.sync.write(png));
    }
    const c = capture();
    const out = join(dir, 'scene.ply');
    expect(await runCommand([...imgs, '--model', PI3_FIXTURE, '--out', out, '--device', 'wasm'], c.io)).toBe(0);
    const ply = await readFile(out);
    const head = ply.subarray(0, 200).toString('latin1');
    const n = Number(/element vertex (\d+)/.exec(head)![1]);
    expect(n).toBeGreaterThan(0);
    const cams = JSON.parse(await readFile(join(dir, 'scene.cameras.json'), 'utf8'));
    expect(cams.frames).toHaveLength(2);
    expect(cams.frames[0].extrinsic).toHaveLength(3);
    expect(c.out.join('\n')).toMatch(/wrote .*scene\.ply/);
  });

  it('eval --policies dense scores π³ perfectly on its own (moved) prediction, with the same metrics as VGGT', async () => {
    const c = capture();
    const out = join(dir, 'eval-out');
    const code = await evalCommand(
      [
        '--model',
        PI3_FIXTURE,
        '--data',
        join(dir, 'data'),
        '--device',
        'wasm',
        '--policies',
        'dense',
        '--target-size',
        String(EVAL_TARGET),
        '--out',
        out,
      ],
      c.io,
    );
    expect(code).toBe(0);
    const json = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as EvalReport;
    expect(json.model.kind).toBe('pi3');
    expect(json.model.depth).toBe(18);
    const row = json.rows[0]!;
    console.info(`[pi3 cli] eval dense: ${JSON.stringify(row)}`);
    expect(row.auc30).toBe(1);
    expect(row.f1).toBe(1);
    expect(row.depthAbsRel).toBeLessThan(1e-4);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toContain('π³');
  });

  it('calibrate writes a π³ HeSS file (18 layers, model pi3)', async () => {
    const c = capture();
    const out = join(dir, 'pi3.hess.json');
    expect(
      await calibrateCommand(
        [
          '--model',
          PI3_FIXTURE,
          '--data',
          join(dir, 'data'),
          '--out',
          out,
          '--epsilon',
          '2',
          '--target-size',
          String(EVAL_TARGET),
        ],
        c.io,
      ),
    ).toBe(0);
    const hess = parseHessFile(await readFile(out, 'utf8'));
    expect(hess.model).toBe('pi3');
    expect([hess.layers, hess.heads]).toEqual([18, 4]);
    expect(hess.scores.flat().every((x) => Number.isFinite(x) && x >= 0)).toBe(true);
  });
});
