import { describe, expect, it } from 'vitest';
import { PlannerWasm } from '../../../src/wasm/planner-module.js';
import { FisherAccumulator } from '../../../src/calibrate/fisher.js';
import { combineHess, parseHessFile } from '../../../src/hess/hess-file.js';
import { HessError } from '../../../src/errors.js';
import { freshSeed, randn, rng } from '../../helpers/random.js';

describe('Fisher accumulation and HeSS files', () => {
  it('streams scenes into scene-averaged per-head traces that match float64, and combines per layer', async () => {
    const rand = rng(freshSeed('fisher-acc'));
    const layers = 3,
      heads = 4,
      headDim = 6,
      dim = 20,
      scenes = 3;
    const ref = { camera: new Float64Array(layers * heads), pointCloud: new Float64Array(layers * heads) };
    const acc = new FisherAccumulator(await PlannerWasm.load(), { layers, heads, headDim, dim });
    for (let s = 0; s < scenes; s++) {
      acc.beginScene();
      for (const term of ['camera', 'pointCloud'] as const) {
        for (let l = 0; l < layers; l++) {
          // Full qkv gradient [3·dim', dim]: only the first heads·headDim rows (W_Q) may count. Heads get different scales.
          const g = randn(3 * heads * headDim * dim, rand, 0.01 * (1 + l));
          for (let h = 0; h < heads; h++)
            for (let i = 0; i < headDim * dim; i++) g[h * headDim * dim + i] *= 1 + h * (term === 'camera' ? 1 : -0.2);
          for (let h = 0; h < heads; h++)
            for (let i = 0; i < headDim * dim; i++) ref[term][l * heads + h] += g[h * headDim * dim + i] ** 2;
          if (l === 1) {
            acc.add(term, l, g.subarray(0, heads * headDim * dim));
          } else acc.add(term, l, g);
        }
      }
      acc.endScene();
    }
    expect(acc.sceneCount).toBe(scenes);
    for (const term of ['camera', 'pointCloud'] as const) {
      const got = acc.traces(term);
      for (let l = 0; l < layers; l++)
        for (let h = 0; h < heads; h++) {
          expect(Math.abs(got[l][h] - ref[term][l * heads + h] / scenes) / got[l][h]).toBeLessThan(1e-12);
        }
    }
    const file = acc.toHessFile({ modelId: 'test/tiny', description: 'random', lambda: 0.3 });
    for (let l = 0; l < layers; l++) {
      const cs = ref.camera.subarray(l * heads, (l + 1) * heads).reduce((a, b) => a + b, 0);
      const ps = ref.pointCloud.subarray(l * heads, (l + 1) * heads).reduce((a, b) => a + b, 0);
      for (let h = 0; h < heads; h++) {
        const want = (0.3 * ref.camera[l * heads + h]) / cs + (0.7 * ref.pointCloud[l * heads + h]) / ps;
        expect(Math.abs(file.scores[l][h] - want)).toBeLessThan(1e-12);
      }
      expect(Math.abs(file.scores[l].reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
    }
    // camera-term heads grow with h, so with λ=1 the ranking follows h
    const camOnly = combineHess(file.terms.camera, file.terms.pointCloud, 1);
    for (let l = 0; l < layers; l++)
      for (let h = 1; h < heads; h++) expect(camOnly[l][h]).toBeGreaterThan(camOnly[l][h - 1]);
    // round trip through JSON
    const back = parseHessFile(JSON.stringify(file));
    expect(back).toEqual(file);
  });

  it('the accumulator rejects misuse with typed errors', async () => {
    const acc = new FisherAccumulator(await PlannerWasm.load(), { layers: 2, heads: 2, headDim: 2 });
    expect(() => acc.add('camera', 0, new Float32Array(8))).toThrow(/outside a scene/);
    acc.beginScene();
    expect(() => acc.add('camera', 0, new Float32Array(7))).toThrow(HessError);
    expect(() => acc.add('camera', 2, new Float32Array(16))).toThrow(/layer must be/);
    expect(() => acc.add('x' as never, 0, new Float32Array(16))).toThrow(/unknown term/);
    expect(() => acc.beginScene()).toThrow(/twice/);
    acc.endScene();
    expect(() => acc.endScene()).toThrow(HessError);
  });

  it('parseHessFile names the bad field', () => {
    const good = {
      format: 'hess-scores',
      version: 1,
      modelId: 'm',
      layers: 2,
      heads: 2,
      lambda: 0.5,
      terms: {
        camera: [
          [1, 2],
          [3, 4],
        ],
        pointCloud: [
          [1, 1],
          [0, 2],
        ],
      },
      scores: [
        [0.4, 0.6],
        [0.2, 0.8],
      ],
      calibration: { description: 'x', scenes: 3 },
    };
    expect(parseHessFile(good).scores[1][1]).toBe(0.8);
    const cases: [(o: any) => void, RegExp][] = [
      [
        (o) => {
          o.format = 'x';
        },
        /`format`/,
      ],
      [
        (o) => {
          o.version = 2;
        },
        /`version`/,
      ],
      [
        (o) => {
          o.modelId = '';
        },
        /`modelId`/,
      ],
      [
        (o) => {
          o.heads = 1.5;
        },
        /`heads`/,
      ],
      [
        (o) => {
          o.lambda = 2;
        },
        /`lambda`/,
      ],
      [
        (o) => {
          o.terms.camera[1][0] = -1;
        },
        /`terms\.camera\[1\]\[0\]`/,
      ],
      [
        (o) => {
          o.terms.pointCloud = [[1, 1]];
        },
        /`terms\.pointCloud`/,
      ],
      [
        (o) => {
          o.scores[0] = [0.5, 0.6];
        },
        /`scores\[0\]` must sum to 1/,
      ],
      [
        (o) => {
          o.scores[1][1] = 'a';
        },
        /`scores\[1\]\[1\]`/,
      ],
      [
        (o) => {
          o.calibration.scenes = 0;
        },
        /`calibration\.scenes`/,
      ],
      [
        (o) => {
          delete o.calibration;
        },
        /`calibration`/,
      ],
    ];
    for (const [mutate, re] of cases) {
      const o = structuredClone(good);
      mutate(o);
      try {
        parseHessFile(JSON.stringify(o));
        throw new Error('no throw');
      } catch (e) {
        expect(e).toBeInstanceOf(HessError);
        expect((e as HessError).code).toBe('BAD_HESS_FILE');
        expect(String(e)).toMatch(re);
      }
    }
    expect(() => parseHessFile('{')).toThrow(/not JSON/);
  });
});
