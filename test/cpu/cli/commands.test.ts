import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import {
  HELP,
  calibrateCommand,
  co3dCommand,
  commandHelp,
  convertCommand,
  evalCommand,
  isSoftwareAdapter,
  runCli,
  runCommand,
  withWasmFix,
  type CliIo,
} from '../../../src/cli/commands.js';
import { HessError } from '../../../src/errors.js';
import { readCalibrationScenes } from '../../../src/calibrate/dataset/reader.js';
import { encodePlyPoints } from '../../../src/calibrate/dataset/ply.js';
import { axisAngleToMatrix } from '../../../src/calibrate/geometry/align.js';
import { rng } from '../../helpers/random.js';
import type { EvalReport } from '../../../src/evaluate/harness.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import { freshSeed } from '../../helpers/random.js';
import { FIXTURE } from '../../../bench/vggt-tiny.js';
import { EVAL_TARGET, writeSyntheticScenes } from './eval-scenes.js';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { log: (l) => out.push(l), err: (l) => err.push(l) };
  return { out, err, io };
};

describe('CLI commands (called as functions)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hess-cli-'));
    const model = await Vggt.load(FIXTURE, { device: 'wasm' });
    try {
      await writeSyntheticScenes(join(dir, 'data'), model, freshSeed('eval cli scenes'), 1, 3);
    } finally {
      await model.dispose();
    }
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('eval --device wasm --policies dense writes report.md/json/svg with a perfect dense row', async () => {
    const c = capture();
    const out = join(dir, 'cli-out');
    const code = await evalCommand(
      [
        '--model',
        FIXTURE,
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
    expect(json.rows.map((r) => [r.scene, r.policy])).toEqual([['scene_0', 'dense']]);
    expect(json.rows[0].auc30).toBe(1);
    expect(json.rows[0].f1).toBe(1);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toContain('| dense |');
    expect(await readFile(join(out, 'report.svg'), 'utf8')).toContain('</svg>');
    expect(c.out.join('\n')).toContain('report.svg');
    expect(c.err.some((l) => l.includes('[1/1] scene_0 dense'))).toBe(true);
  });

  it('convert --fp16 --no-segments writes config.json + F16 weights and says so', async () => {
    const c = capture();
    const out = join(dir, 'conv');
    expect(await convertCommand([FIXTURE, out, '--fp16', '--no-segments'], c.io)).toBe(0);
    expect(c.out[0]).toMatch(/1095 tensors as F16 \([\d.]+ MiB\), 0 segment files/);
    const cfg = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(cfg.camera_heads).toBe(4);
    expect(cfg.weights_dtype).toBe('float16');
    expect(c.err).toEqual([]); // nothing assumed: the fixture's config.json gives the head counts
  });

  it('usage errors and bad values are one-line typed errors with exit code 2 (runCli)', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['eval', '--data', 'x'],
        /^error \[INVALID_ARGUMENT\]: eval needs --model and --data — see 'hess-vggt eval --help'$/,
      ],
      [['convert', 'only-one'], /^error \[INVALID_ARGUMENT\]: convert needs <model.safetensors\|dir> and <outdir>/],
      [
        ['convert', 'a', 'b', '--segment-size', '12by3'],
        /--segment-size must be HxW, positive multiples of 14, got "12by3"/,
      ],
      [
        ['convert', 'a', 'b', '--segment-size', '15x15'],
        /--segment-size must be HxW, positive multiples of 14, got "15x15"/,
      ],
      [['eval', '--model', FIXTURE, '--data', join(dir, 'data'), '--sparsity', '0.4,abc'], /comma-separated/],
      [['convert', FIXTURE, join(dir, 'x'), '--camera-heads=-3'], /--camera-heads must be a positive integer/],
      [['eval', '--model', 'm', '--data', 'd', '--bogus'], /^error \[INVALID_ARGUMENT\]: Unknown option '--bogus'/],
      [['run', '--help', '--bogus'], /Unknown option '--bogus'/],
      [
        ['run', 'a.png', '--model', FIXTURE, '--out', join(dir, 'o.ply'), '--device', 'cuda'],
        /--device must be auto, webgpu, wasm; got "cuda"/,
      ],
      [
        ['run', 'a.png', '--model', FIXTURE, '--out', join(dir, 'o.ply'), '--min-conf', 'abc'],
        /--min-conf must be a number/,
      ],
      [
        ['run', 'a.png', '--model', FIXTURE, '--out', join(dir, 'missing', 'o.ply')],
        /^error \[IO_ERROR\]: folder of the --out .*missing does not exist/,
      ],
      [
        ['run', 'a.png', '--model', FIXTURE, '--out', join(dir, 'o.ply'), '--policy', 'hess'],
        /--policy hess needs --hess/,
      ],
      [
        ['run', 'a.png', '--model', FIXTURE, '--out', join(dir, 'o.ply'), '--policy', 'uniform', '--device', 'wasm'],
        /needs WebGPU/,
      ],
      [
        ['run', 'a.png', '--model', FIXTURE, '--out', join(dir, 'o.ply'), '--sparsity', '1.5', '--policy', 'uniform'],
        /--sparsity must be a number in \[0, 1\)/,
      ],
      [
        ['run', join(dir, 'nope.png'), '--model', FIXTURE, '--out', join(dir, 'o.ply'), '--device', 'wasm'],
        /^error \[IO_ERROR\]: cannot read .*nope\.png/,
      ],
      [
        ['run', join(FIXTURE, 'config.json'), '--model', FIXTURE, '--out', join(dir, 'o.ply'), '--device', 'wasm'],
        /^error \[BAD_IMAGE\]/,
      ],
      [
        ['run', join(FIXTURE, 'config.json'), '--model', FIXTURE, '--out', join(FIXTURE, 'x.ply')],
        /^error \[INVALID_ARGUMENT\]: --out .* lies inside the model/,
      ],
      [
        ['calibrate', '--model', FIXTURE, '--data', dir, '--out', join(dir, 'no', 'h.json')],
        /^error \[IO_ERROR\]: folder of the --out/,
      ],
      [
        ['calibrate', '--model', FIXTURE, '--data', dir, '--out', join(dir, 'h.json'), '--lambda', '2'],
        /--lambda must be a number in \[0, 1\]/,
      ],
      [['frobnicate'], /^error \[INVALID_ARGUMENT\]: unknown command "frobnicate" — use one of run, convert/],
      [[], /no command given/],
    ];
    for (const [argv, re] of cases) {
      const c = capture();
      expect(await runCli(argv, c.io), argv.join(' ')).toBe(2);
      expect(c.err, argv.join(' ')).toHaveLength(1);
      expect(c.err[0], argv.join(' ')).toMatch(re);
      expect(c.out).toEqual([]);
    }
    expect(await readdir(dir)).not.toContain('o.ply');
  });

  it('--version prints the package version; --help the whole help', async () => {
    const c = capture();
    expect(await runCli(['--version'], c.io, '1.2.3')).toBe(0);
    expect(await runCli(['--help'], c.io)).toBe(0);
    expect(c.out).toEqual(['1.2.3', HELP]);
  });

  it('co3d converts a CO3D-style category (gzip annotations, pointcloud.ply) into scene folders', async () => {
    const rand = rng(freshSeed('co3d cli'));
    const root = join(dir, 'co3d');
    const seq = '110_13051_23361';
    await mkdir(join(root, 'apple', seq, 'images'), { recursive: true });
    const png = await readFile(join(dir, 'data', 'scene_0', 'images', 'v0.png'));
    const frames = [];
    for (let f = 0; f < 7; f++) {
      const path = `apple/${seq}/images/frame${String(f).padStart(6, '0')}.jpg`;
      await writeFile(join(root, path.replace(/\.jpg$/, '.png')), png);
      const R = axisAngleToMatrix([rand() - 0.5, rand() - 0.5, rand() - 0.5], rand() * 3);
      frames.push({
        sequence_name: seq,
        frame_number: f,
        image: { path: path.replace(/\.jpg$/, '.png'), size: [70, 98] },
        viewpoint: {
          R: [
            [R[0], R[1], R[2]],
            [R[3], R[4], R[5]],
            [R[6], R[7], R[8]],
          ],
          T: [rand(), rand(), 3 + rand()],
          focal_length: [2, 2],
          principal_point: [0, 0],
          intrinsics_format: 'ndc_isotropic',
        },
      });
    }
    await writeFile(join(root, 'apple', 'frame_annotations.jgz'), gzipSync(JSON.stringify(frames)));
    const cloud = Float32Array.from({ length: 300 }, () => rand());
    await writeFile(join(root, 'apple', seq, 'pointcloud.ply'), encodePlyPoints(cloud));
    const c = capture();
    expect(await co3dCommand([root, join(dir, 'co3d-out'), '--categories', 'apple', '--frames', '3'], c.io)).toBe(0);
    const [scene] = await readCalibrationScenes(join(dir, 'co3d-out'));
    expect(scene.name).toBe(`apple_${seq}`);
    // 3 of 7 frames, evenly spaced: 0, 2, 4
    expect(scene.views.map((v) => v.image)).toEqual(['frame000000.png', 'frame000002.png', 'frame000004.png']);
    expect(scene.points!.length).toBe(300);
    expect(Array.from(scene.points!.subarray(0, 3))).toEqual(Array.from(cloud.subarray(0, 3)));
    await expect(co3dCommand([root, join(dir, 'x'), '--categories', 'banana'], c.io)).rejects.toThrow(/cannot read/);
  });

  it('--help documents every command and the paper-reproduction commands', () => {
    for (const cmd of ['hess-vggt run', 'hess-vggt convert', 'hess-vggt eval', 'hess-vggt co3d', 'hess-vggt probe'])
      expect(HELP).toContain(cmd);
    expect(HELP).toContain('Reproducing the HeSS paper');
    expect(HELP).toMatch(/--policies dense,uniform,hess --sparsity 0\.43,0\.73,0\.9/);
    expect(HELP).toContain('CO3Dv2');
    expect(HELP).toContain('DTU');
  });

  it("<command> --help prints that command's usage and description and exits 0", async () => {
    const cmds = {
      run: runCommand,
      eval: evalCommand,
      convert: convertCommand,
      co3d: co3dCommand,
      calibrate: calibrateCommand,
    } as const;
    for (const [name, cmd] of Object.entries(cmds)) {
      const c = capture();
      expect(await cmd(['--help'], c.io)).toBe(0);
      expect(c.out).toEqual([commandHelp(name as keyof typeof cmds)]);
      expect(c.out[0]).toMatch(new RegExp(`^usage:\\n  hess-vggt ${name} `));
      expect(c.out[0]).toContain(`\n${name}\n  `);
    }
  });

  it("Vggt.load with device 'gpu' (or another unknown string) is INVALID_ARGUMENT, not a TypeError", async () => {
    for (const device of ['gpu', 'cuda', 42, null]) {
      await expect(Vggt.load(FIXTURE, { device: device as never })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/device must be/),
      });
    }
  });

  it("NO_WEBGPU / NO_ADAPTER keep their code and message; the fix adds '--device wasm'", () => {
    const e = withWasmFix(
      new HessError('NO_WEBGPU', 'WebGPU is not available in this runtime', 'use a browser with WebGPU.'),
    ) as HessError;
    expect(e.code).toBe('NO_WEBGPU');
    expect(e.message).toBe(
      'WebGPU is not available in this runtime — use a browser with WebGPU; or run on the CPU with --device wasm',
    );
    const other = new HessError('ORT_ERROR', 'x', 'y');
    expect(withWasmFix(other)).toBe(other);
  });

  it('software WebGPU adapters are recognised (auto picks wasm on them)', () => {
    expect(isSoftwareAdapter(null)).toBe(true);
    expect(isSoftwareAdapter({ isFallback: true, vendor: 'nvidia' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'mesa', device: 'llvmpipe (LLVM 19.1.7, 256 bits)' })).toBe(true);
    expect(
      isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader Device (Subzero)' }),
    ).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'mesa', description: 'lavapipe' })).toBe(true);
    expect(
      isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', isFallback: false }),
    ).toBe(false);
  });
});
