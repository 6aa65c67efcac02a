// The random-VGGT generator (bench/random-vggt.ts): VGGT_1B has exactly facebook/VGGT-1B's tensor names and shapes
// (checked against the architecture reference in ../shared/reference and against the tiny fixture's names at full
// widths), files stream to disk byte-identical to the in-memory build, F16 is F32 rounded, and a small instance
// written by the same code loads with inferVggtConfig + Vggt.load and runs.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inferVggtConfig } from '../../../src/model/config.js';
import { bytesSource, fileSource, openSafetensors } from '../../../src/model/source/safetensors.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import {
  VGGT_1B,
  checkpointLayout,
  randomVggtCheckpoint,
  vggtConfigJson,
  vggtTensorSpecs,
  writeRandomVggt,
  type RandomVggtShape,
} from '../../../bench/random-vggt.js';
import { freshSeed } from '../../helpers/random.js';

const SHARED = resolve(process.cwd(), '../shared');
const REFERENCE = join(SHARED, 'reference/vggt-architecture.md');
const FIXTURE = join(SHARED, 'fixtures/vggt-tiny/model.safetensors');

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const shapesOf = (shape: RandomVggtShape) => new Map(vggtTensorSpecs(shape).map((t) => [t.name, { shape: t.shape }]));

/** What the reference states about VGGT-1B's checkpoint, parsed from its tables and text. */
function parseReference(md: string) {
  // "| `aggregator.frame_blocks` (24 × 12,598,528) | 302,364,672 |"
  const groups = new Map<string, number>();
  for (const m of md.matchAll(/^\| `([a-z_.]+)`[^|]*\| ([\d,]+) \|$/gm))
    groups.set(m[1], Number(m[2].replace(/,/g, '')));
  const special = /^\| `aggregator\.camera_token` \+ `register_token` \| ([\d,]+) \+ ([\d,]+) \|$/m.exec(md);
  const withoutTrack = /without the track head: ([\d,]+)/.exec(md);
  const inScope = /"([\d,]+) in-scope tensors", which is (\d+) − (\d+)/.exec(md);
  // The frame-block table: "| `norm1.weight`, `norm1.bias` | (1024) |"
  const block = new Map<string, number[]>();
  const table = md.slice(md.indexOf('**One frame block**'));
  for (const line of table.split('\n').slice(1)) {
    if (line.startsWith('**DINO**')) break;
    const m = /^\| (`.+`) \| \(([\d, ]+)\) \|$/.exec(line);
    if (!m) continue;
    const shape = m[2].split(',').map((x) => Number(x.trim()));
    for (const n of m[1].matchAll(/`([^`]+)`/g)) block.set(n[1], shape);
  }
  return {
    groups,
    specialTokens: special ? Number(special[1].replace(/,/g, '')) + Number(special[2].replace(/,/g, '')) : NaN,
    withoutTrack: withoutTrack ? Number(withoutTrack[1].replace(/,/g, '')) : NaN,
    tensorsWithoutTrack: inScope ? Number(inScope[1].replace(/,/g, '')) : NaN,
    block,
  };
}

function fixtureHeader(): Map<string, readonly number[]> {
  const bytes = readFileSync(FIXTURE);
  const n = Number(bytes.readBigUInt64LE(0));
  const h = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { shape: number[] }>;
  return new Map(
    Object.entries(h)
      .filter(([k]) => k !== '__metadata__')
      .map(([k, v]) => [k, v.shape]),
  );
}

/** The tiny fixture's architecture (its config.json), as generator parameters. */
const TINY: RandomVggtShape = {
  dim: 64,
  heads: 4,
  depth: 24,
  dinoDepth: 2,
  predictionHeads: {
    cameraHeads: 4,
    trunkDepth: 4,
    features: 32,
    outChannels: [16, 32, 64, 64],
    depthHead: true,
    pointHead: true,
  },
};

describe('random VGGT generator: names and shapes', () => {
  it.skipIf(!existsSync(REFERENCE))(
    'VGGT_1B matches the architecture reference: per-group parameters, tensor count, block shapes',
    () => {
      const ref = parseReference(readFileSync(REFERENCE, 'utf8'));
      // The parse found what it looks for (else a reworded reference would make this test vacuous).
      expect([...ref.groups.keys()]).toEqual(
        expect.arrayContaining([
          'aggregator.patch_embed',
          'aggregator.frame_blocks',
          'aggregator.global_blocks',
          'camera_head',
          'depth_head',
          'point_head',
          'track_head',
        ]),
      );
      expect(ref.block.size).toBe(18);
      const specs = vggtTensorSpecs(VGGT_1B);
      const params = (prefix: string) =>
        specs.filter((t) => t.name.startsWith(`${prefix}.`)).reduce((a, t) => a + numel(t.shape), 0);
      for (const [group, count] of ref.groups) {
        if (group === 'track_head') expect(params(group), 'track head is left out').toBe(0);
        else expect(params(group), group).toBe(count);
      }
      const special = specs.filter(
        (t) => t.name === 'aggregator.camera_token' || t.name === 'aggregator.register_token',
      );
      expect(special.reduce((a, t) => a + numel(t.shape), 0)).toBe(ref.specialTokens);
      expect(specs.reduce((a, t) => a + numel(t.shape), 0)).toBe(ref.withoutTrack);
      expect(specs.length).toBe(ref.tensorsWithoutTrack);
      expect(new Set(specs.map((t) => t.name)).size).toBe(specs.length);
      // Every frame and global block has exactly the reference's suffixes and shapes.
      for (const kind of ['frame_blocks', 'global_blocks']) {
        for (let i = 0; i < 24; i++) {
          const prefix = `aggregator.${kind}.${i}.`;
          const got = new Map(
            specs.filter((t) => t.name.startsWith(prefix)).map((t) => [t.name.slice(prefix.length), t.shape]),
          );
          expect(got).toEqual(ref.block);
        }
      }
    },
  );

  it.skipIf(!existsSync(FIXTURE))(
    "at the fixture's widths, the fixture's exact names and shapes; at full widths, the same names with 24 DINO blocks",
    () => {
      const fixture = fixtureHeader();
      const tiny = shapesOf(TINY);
      expect([...tiny.keys()].sort()).toEqual([...fixture.keys()].sort());
      for (const [name, shape] of fixture) expect(tiny.get(name)!.shape, name).toEqual(shape);
      // Full widths: the fixture's names plus DINO blocks 2..23 (the fixture has 2 DINO blocks), nothing else.
      const full = shapesOf(VGGT_1B);
      const dinoExtra = (n: string) => /^aggregator\.patch_embed\.blocks\.(\d+)\./.exec(n);
      const fullNames = [...full.keys()].filter((n) => !dinoExtra(n) || Number(dinoExtra(n)![1]) < 2).sort();
      expect(fullNames).toEqual([...fixture.keys()].sort());
      expect([...full.keys()].filter((n) => dinoExtra(n)).length).toBe(24 * 14);
    },
  );

  it('inferVggtConfig reads VGGT-1B from the generated shapes, with nothing assumed given config.json', () => {
    const cfg = inferVggtConfig(shapesOf(VGGT_1B), vggtConfigJson(VGGT_1B));
    expect(cfg).toMatchObject({
      embedDim: 1024,
      numHeads: 16,
      headDim: 64,
      depth: 24,
      mlpHiddenDim: 4096,
      patchSize: 14,
      numRegisterTokens: 4,
      patchStartIdx: 5,
      dino: {
        dim: 1024,
        depth: 24,
        heads: 16,
        headDim: 64,
        mlpHiddenDim: 4096,
        posGrid: 37,
        imgSize: 518,
        numRegisters: 4,
      },
      camera: { dim: 2048, heads: 16, headDim: 128, trunkDepth: 4, mlpHiddenDim: 8192, poseDim: 9 },
      depthHead: { features: 256, outChannels: [256, 512, 1024, 1024], outputDim: 2 },
      pointHead: { features: 256, outChannels: [256, 512, 1024, 1024], outputDim: 4 },
      hasTrackHead: false,
      assumed: [],
    });
    // The file layout: F32 4.76 GB, F16 half of it (+ the same header).
    const f32 = checkpointLayout(vggtTensorSpecs(VGGT_1B), 'F32');
    const f16 = checkpointLayout(vggtTensorSpecs(VGGT_1B), 'F16');
    expect(f32.dataBytes).toBe(1_190_596_120 * 4);
    expect(f16.dataBytes).toBe(1_190_596_120 * 2);
    expect((8 + f32.header.byteLength) % 8).toBe(0);
  });
});

describe('random VGGT generator: files', () => {
  const small: RandomVggtShape = {
    dim: 32,
    heads: 2,
    depth: 24,
    dinoDepth: 1, // depth 24: the DPT heads read layers 4, 11, 17, 23
    predictionHeads: {
      cameraHeads: 2,
      trunkDepth: 1,
      features: 16,
      outChannels: [8, 16, 32, 32],
      depthHead: true,
      pointHead: true,
    },
  };
  const dirs: string[] = [];
  const tmp = async () => {
    const d = await mkdtemp(join(tmpdir(), 'hess-gen-'));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('streams to disk the same bytes as the in-memory build; F16 is F32 rounded to half; values follow the init', async () => {
    const seed = freshSeed('random-vggt file');
    const dir = await tmp();
    const w = await writeRandomVggt(dir, small, { seed });
    const disk = await readFile(w.file);
    const mem = randomVggtCheckpoint(small, seed).bytes;
    expect(w.bytes).toBe(mem.byteLength);
    expect(Buffer.compare(disk, Buffer.from(mem.buffer, mem.byteOffset, mem.byteLength))).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))).toEqual(vggtConfigJson(small));

    const a = await openSafetensors(await fileSource(w.file));
    const h = await openSafetensors(bytesSource(randomVggtCheckpoint(small, seed, 'F16').bytes));
    expect([...a.tensors.keys()]).toEqual([...a.tensors.keys()].sort()); // Python safetensors' order
    const specs = new Map(vggtTensorSpecs(small).map((t) => [t.name, t]));
    let worst = 0;
    for (const name of a.tensors.keys()) {
      expect(h.tensors.get(name)!.dtype).toBe('F16');
      const x = await a.read(name);
      const y = await h.read(name);
      const { scale, offset } = specs.get(name)!;
      let lo = Infinity,
        hi = -Infinity,
        sum = 0;
      for (let i = 0; i < x.length; i++) {
        worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(Math.abs(x[i]), 2 ** -14));
        lo = Math.min(lo, x[i]);
        hi = Math.max(hi, x[i]);
        sum += x[i];
      }
      expect(lo).toBeGreaterThanOrEqual(offset - scale);
      expect(hi).toBeLessThan(offset + scale);
      if (x.length >= 1000) expect(Math.abs(sum / x.length - offset)).toBeLessThan(scale * 0.1); // uniform, centred
    }
    expect(worst).toBeLessThanOrEqual(2 ** -11); // round to nearest half
    await a.close();
    // Another seed gives other values.
    const other = randomVggtCheckpoint(small, seed + 1).bytes;
    expect(Buffer.compare(Buffer.from(other), Buffer.from(mem))).not.toBe(0);
  });

  it('a small instance written by the generator (F16) loads from its directory and runs with finite outputs', async () => {
    const dir = await tmp();
    await writeRandomVggt(dir, small, { seed: freshSeed('random-vggt run'), dtype: 'F16' });
    const model = await Vggt.load(dir, { device: 'wasm' });
    try {
      expect(model.config.assumed).toEqual([]);
      expect(model.config.embedDim).toBe(32);
      const S = 2,
        H = 28,
        W = 42;
      const data = new Float32Array(S * 3 * H * W).map((_, i) => ((i * 7919) % 1000) / 1000);
      const r = await model.run({ data, S, H, W });
      for (const out of [r.poseEnc!, r.depth!, r.depthConf!, r.worldPoints!, r.worldPointsConf!]) {
        expect(out.length).toBeGreaterThan(0);
        expect(out.every(Number.isFinite)).toBe(true);
      }
      expect(r.depth!.length).toBe(S * H * W);
    } finally {
      await model.dispose();
    }
  });
});
