import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrate, type SceneInput, type SceneReport } from '../../../src/calibrate/calibrate.js';
import { Pi3Gradients } from '../../../src/calibrate/pi3-gradients.js';
import { parseHessFile, type HessFile } from '../../../src/hess/hess-file.js';
import { Pi3 } from '../../../src/model/pi3/model.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import { havePi3Fixture, loadPi3Fixture, PI3_FIXTURE, type Pi3Fixture } from '../../fixtures/pi3-tiny.js';
import { FIXTURE as VGGT_FIXTURE } from '../../../bench/vggt-tiny.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { makeGroundTruthFromPoses, pi3InlierRadius } from './gradients-gt.js';

// calibrate() on π³ (wasm EP) with planted sensitivity: in a few of the 18 global layers one head's
// output-projection columns are scaled ×4 and every other head's ×0.25, so ∂e/∂W_Q of the planted head is ~16×
// the others' (Fisher ~256×). The HeSS file must rank the planted head first in those layers for both terms,
// say it is π³'s (18 layers), and be refused by VGGT.
describe.skipIf(!havePi3Fixture)('calibrate() on π³: planted sensitivity, a π³ HeSS file (pi3-tiny, wasm EP)', () => {
  let fx: Pi3Fixture;
  let pg: Pi3Gradients;
  const planted = new Map<number, number>(); // global layer → head
  let scenes: SceneInput[];
  let epsilon = 0.2;
  let hess: HessFile;

  beforeAll(async () => {
    fx = await loadPi3Fixture();
    const rand = rng(freshSeed('pi3 calibrate planted'));
    const { depth, numHeads, headDim: d, embedDim: C } = fx.cfg;
    const overrides = new Map<string, Float32Array>();
    while (planted.size < 3) planted.set(Math.floor(rand() * depth), Math.floor(rand() * numHeads));
    for (const [L, h] of planted) {
      const key = `decoder.${2 * L + 1}.attn.proj.weight`; // [C_out, C_in]; head h = input columns h·d…
      const w = Float32Array.from(await fx.model.read(key));
      for (let o = 0; o < C; o++) for (let i = 0; i < C; i++) w[o * C + i]! *= Math.floor(i / d) === h ? 4 : 0.25;
      overrides.set(key, w);
    }
    pg = await Pi3Gradients.create(fx.model, fx.cfg, { overrides });
    const full = await fx.ref('images');
    const S = fx.S,
      H = 28,
      W = 42;
    scenes = [];
    for (const name of ['a', 'b']) {
      const img = new Float32Array(S * 3 * H * W);
      const oy = Math.floor(rand() * (fx.H - H)),
        ox = Math.floor(rand() * (fx.W - W));
      for (let s = 0; s < S; s++)
        for (let c = 0; c < 3; c++)
          for (let y = 0; y < H; y++)
            for (let x = 0; x < W; x++) {
              img[((s * 3 + c) * H + y) * W + x] = full[((s * 3 + c) * fx.H + y + oy) * fx.W + x + ox]!;
            }
      const f = await pg.forward(img, { S, H, W });
      const gt = makeGroundTruthFromPoses(f.cameraPoses, f.points, S, rand);
      scenes.push({ name, images: { data: img, S, H, W }, ...gt });
      epsilon = pi3InlierRadius(f, gt, epsilon);
    }
  });
  afterAll(async () => pg?.dispose());

  it("ranks the planted heads first in their layers (both terms and the combined score); the file is π³'s", async () => {
    const reports: SceneReport[] = [];
    const file = await calibrate(pg, scenes, {
      epsilon,
      onSceneDone: (_s, r) => {
        reports.push(r);
      },
    });
    hess = parseHessFile(JSON.stringify(file));
    expect(hess.model).toBe('pi3');
    expect(hess.modelId).toBe('pi3');
    expect([hess.layers, hess.heads]).toEqual([18, fx.cfg.numHeads]);
    expect(hess.calibration.scenes).toBe(2);
    for (const r of reports) expect(r.errors.inliers).toBeGreaterThan(0);
    const argmax = (row: number[]) => row.indexOf(Math.max(...row));
    for (const [L, h] of planted) {
      console.info(
        `[pi3 calibrate planted] layer ${L} head ${h}: camera ${hess.terms.camera[L]!.map((x) => x.toExponential(1)).join(' ')}; ` +
          `points ${hess.terms.pointCloud[L]!.map((x) => x.toExponential(1)).join(' ')}`,
      );
      expect(argmax(hess.terms.camera[L]!)).toBe(h);
      expect(argmax(hess.terms.pointCloud[L]!)).toBe(h);
      expect(argmax(hess.scores[L]!)).toBe(h);
    }
  });

  it('VGGT refuses the π³ file with BAD_HESS_FILE; π³ accepts it (and then needs WebGPU for the sparse policy)', async () => {
    const images = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
    const config = JSON.parse(await readFile(resolve(VGGT_FIXTURE, 'config.json'), 'utf8'));
    const vggt = await Vggt.load(resolve(VGGT_FIXTURE, 'model.safetensors'), { device: 'wasm', config });
    try {
      await expect(vggt.run(images, { policy: 'hess', hess })).rejects.toMatchObject({ code: 'BAD_HESS_FILE' });
    } finally {
      await vggt.dispose();
    }
    const pi3 = await Pi3.load(PI3_FIXTURE, { device: 'wasm' });
    try {
      await expect(pi3.run(images, { policy: 'hess', hess })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      await pi3.dispose();
    }
  });

  it('calibrate({ checkpoint }) detects π³ from the fixture folder', async () => {
    const file = await calibrate({ checkpoint: PI3_FIXTURE }, scenes.slice(0, 1), { epsilon, modelId: 'pi3-tiny' });
    expect(file.model).toBe('pi3');
    expect(file.layers).toBe(18);
    expect(file.modelId).toBe('pi3-tiny');
  });
});
