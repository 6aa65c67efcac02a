import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { depthMapToPoints } from '../../../src/calibrate/dataset/format.js';
import { readCalibrationScenes } from '../../../src/calibrate/dataset/reader.js';
import { accuracyErrors, orderingStats } from '../../../src/evaluate/accuracy.js';
import type { EvalRow } from '../../../src/evaluate/harness.js';
import { encodeRgbPng, writeSyntheticScene } from '../../../src/evaluate/synthetic-dataset.js';
import { renderSyntheticScene } from '../../../src/evaluate/synthetic-scene.js';
import { decodeImageFile } from '../../../src/model/image/image-decode.js';
import { freshSeed, rng } from '../../helpers/random.js';

describe('renderSyntheticScene: seeded scenes of the vggt-synth training kind, with consistent GT', () => {
  const seed = freshSeed('synthetic scene');

  it('is deterministic per seed and differs between seeds', () => {
    const a = renderSyntheticScene(seed, { views: 2 });
    const b = renderSyntheticScene(seed, { views: 2 });
    const c = renderSyntheticScene(seed + 1, { views: 2 });
    expect(b.views[1].rgba).toEqual(a.views[1].rgba);
    expect(b.points).toEqual(a.points);
    expect(c.views[0].rgba).not.toEqual(a.views[0].rgba);
  });

  it('depth, cameras and the GT cloud agree: back-projected depth = the cloud, the cloud projects to pixel centres', () => {
    const S = 4,
      W = 42,
      H = 28;
    const sc = renderSyntheticScene(seed, { views: S, width: W, height: H });
    expect(sc.views).toHaveLength(S);
    let o = 0;
    for (const v of sc.views) {
      expect([v.width, v.height, v.rgba.length, v.depth.length]).toEqual([W, H, 4 * W * H, W * H]);
      // R is a rotation (float64 check of RRᵀ = I, det = 1).
      const R = [0, 1, 2, 4, 5, 6, 8, 9, 10].map((k) => v.extrinsic[k]);
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) {
          const d = R[3 * i] * R[3 * j] + R[3 * i + 1] * R[3 * j + 1] + R[3 * i + 2] * R[3 * j + 2];
          expect(Math.abs(d - (i === j ? 1 : 0))).toBeLessThan(1e-12);
        }
      const back = depthMapToPoints({ width: W, height: H, data: v.depth }, v.intrinsic, v.extrinsic);
      const part = sc.points.subarray(o, o + back.length);
      o += back.length;
      let err = 0,
        scale = 0;
      for (let i = 0; i < back.length; i++) {
        err = Math.max(err, Math.abs(back[i] - part[i]));
        scale = Math.max(scale, Math.abs(part[i]));
      }
      expect(err / scale).toBeLessThan(1e-5);
      // Project every valid pixel's GT point (float64) and find the pixel it came from.
      const K = v.intrinsic,
        E = v.extrinsic;
      let k = 0,
        worst = 0;
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          if (!(v.depth[y * W + x] > 0)) continue;
          const p = [part[3 * k], part[3 * k + 1], part[3 * k + 2]];
          k++;
          const c = [0, 1, 2].map((r) => E[4 * r] * p[0] + E[4 * r + 1] * p[1] + E[4 * r + 2] * p[2] + E[4 * r + 3]);
          expect(Math.abs(c[2] - v.depth[y * W + x]) / c[2]).toBeLessThan(1e-5);
          worst = Math.max(worst, Math.abs((K[0] * c[0]) / c[2] + K[2] - x), Math.abs((K[4] * c[1]) / c[2] + K[5] - y));
        }
      expect(k).toBeGreaterThan((W * H) / 4); // the ground fills much of every view
      expect(worst).toBeLessThan(1e-3);
    }
    expect(o).toBe(sc.points.length);
  });

  it('rejects bad sizes', () => {
    expect(() => renderSyntheticScene(1, { views: 0 })).toThrow(RangeError);
    expect(() => renderSyntheticScene(1, { width: 9.5 })).toThrow(RangeError);
  });
});

describe('writeSyntheticScene / encodeRgbPng', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('PNG round trip is lossless (random RGB, several deflate blocks)', async () => {
    const rand = rng(freshSeed('png'));
    const W = 150,
      H = 160; // 160·451 bytes of scanlines: two stored blocks
    const rgba = new Uint8ClampedArray(4 * W * H).map((_, i) => (i % 4 === 3 ? 255 : Math.floor(rand() * 256)));
    const img = await decodeImageFile(encodeRgbPng({ width: W, height: H, rgba }));
    expect([img.width, img.height]).toEqual([W, H]);
    expect(Uint8Array.from(img.data)).toEqual(Uint8Array.from(rgba));
  });

  it('writes a folder readCalibrationScenes accepts, with the rendered GT', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hess-synth-'));
    const seed = freshSeed('synthetic dataset');
    await writeSyntheticScene(dir, 'a', seed, { views: 3 });
    const [scene] = await readCalibrationScenes(dir);
    const ref = renderSyntheticScene(seed, { views: 3 });
    expect(scene.views).toHaveLength(3);
    expect(scene.points).toEqual(ref.points);
    expect(scene.views[2].depth!.data).toEqual(ref.views[2].depth);
    // + 0: JSON writes −0 as 0, and toEqual tells the two apart
    const plusZero = (a: ArrayLike<number>) => Array.from(a, (x) => x + 0);
    expect(plusZero(scene.views[1].extrinsic)).toEqual(plusZero(ref.views[1].extrinsic));
    const img = await decodeImageFile(scene.views[0].imagePath);
    expect(Uint8Array.from(img.data)).toEqual(Uint8Array.from(ref.views[0].rgba));
  });
});

describe('accuracyErrors / orderingStats', () => {
  const row = (scene: string, policy: EvalRow['policy'], sparsity: number, m: Partial<EvalRow>): EvalRow => ({
    scene,
    policy,
    sparsity,
    achievedSparsity: 0,
    frames: 3,
    auc30: 0,
    rra15: 0,
    rta15: 0,
    meanRRA: 0,
    meanRTA: 0,
    accuracy: 0,
    completeness: 0,
    chamfer: 0,
    f1: 0,
    threshold: 0,
    depthAbsRel: 0,
    alignScale: 1,
    alignment: 'umeyama',
    ms: 1,
    ...m,
  });

  it('combined errors relative to dense and paired differences, against hand-computed values', () => {
    const rand = rng(freshSeed('accuracy errors'));
    const scenes = ['a', 'b', 'c'];
    const rows: EvalRow[] = [];
    const want: Record<string, number[]> = { gt: [], delta: [] };
    for (const s of scenes) {
      const d = { meanRRA: 1 + rand(), meanRTA: 2 + rand(), chamfer: 0.5 + rand() };
      const u = {
        meanRRA: 1 + rand(),
        meanRTA: 2 + rand(),
        chamfer: 0.5 + rand(),
        deltaPose: rand(),
        deltaPoints: rand(),
      };
      rows.push(row(s, 'dense', 0, { ...d, deltaPose: 0, deltaPoints: 0 }), row(s, 'uniform', 0.5, u));
      want.gt.push((0.5 * (u.meanRRA + u.meanRTA)) / (d.meanRRA + d.meanRTA) + (0.5 * u.chamfer) / d.chamfer);
      want.delta.push(0.5 * u.deltaPose + 0.5 * u.deltaPoints);
    }
    const errs = accuracyErrors(rows);
    const dense = errs.filter((e) => e.policy === 'dense');
    expect(dense.map((e) => e.gtCombined)).toEqual([1, 1, 1]);
    expect(dense.map((e) => e.deltaCombined)).toEqual([0, 0, 0]);
    const uni = errs.filter((e) => e.policy === 'uniform');
    uni.forEach((e, i) => {
      expect(Math.abs(e.gtCombined - want.gt[i])).toBeLessThan(1e-12);
      expect(Math.abs(e.deltaCombined - want.delta[i])).toBeLessThan(1e-12);
    });
    const o = orderingStats(
      errs,
      { policy: 'dense', sparsity: 0 },
      { policy: 'uniform', sparsity: 0.5 },
      'deltaCombined',
    );
    const diffs = want.delta.map((x) => -x);
    const mean = diffs.reduce((a, b) => a + b, 0) / 3;
    expect(o.n).toBe(3);
    expect(Math.abs(o.meanDiff - mean)).toBeLessThan(1e-12);
    expect(Math.abs(o.sdDiff - Math.sqrt(diffs.reduce((a, b) => a + (b - mean) ** 2, 0) / 2))).toBeLessThan(1e-12);
    expect(o.maxDiff).toBe(Math.max(...diffs));
    expect(o.wins).toBe(diffs.filter((x) => x < 0).length);
    expect(() => accuracyErrors([row('z', 'hess', 0.5, {})])).toThrow(/no dense row/);
  });
});
