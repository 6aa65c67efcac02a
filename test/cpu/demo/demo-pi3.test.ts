// What the demo page needs for π³ (src/demo/lib.ts, no DOM): the one helper that picks the HeSS file (VGGT's shipped
// file never goes to π³; planted scores are sized and labelled for the loaded model), the camera placement of the
// view (π³'s camera-to-world poses, inverted by pi3AsVggtResult, land where the poses say), and the table row.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cameraToWorld, demoHess, demoRow, hessFits, plantedHess } from '../../../src/demo/lib.js';
import { pi3AsVggtResult } from '../../../src/evaluate/pi3-result.js';
import { parseHessFile } from '../../../src/hess/hess-file.js';
import type { Pi3Result } from '../../../src/model/pi3/model.js';
import { freshSeed, randomF32, relError, rng } from '../../helpers/random.js';

const shipped = parseHessFile(readFileSync(resolve(process.cwd(), 'models/vggt-synth/hess.json'), 'utf8'));
const vggt = { kind: 'vggt', depth: 24, numHeads: 4 } as const;
const pi3 = { kind: 'pi3', depth: 18, numHeads: 4 } as const;

/** A random rotation (from a random unit quaternion), row-major 3×3. */
function rotation(rand: () => number): number[] {
  let [w, x, y, z] = [0, 0, 0, 0].map(() => rand() - 0.5);
  const n = Math.hypot(w, x, y, z);
  [w, x, y, z] = [w / n, x / n, y / n, z / n];
  return [
    [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
    [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
    [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
  ].flat();
}

/** A π³ result with S random camera-to-world poses and random points (H×W = 2×3). */
function pi3Result(S: number, rand: () => number): Pi3Result {
  const [H, W] = [2, 3];
  const cameraPoses = new Float32Array(16 * S);
  for (let s = 0; s < S; s++) {
    const R = rotation(rand);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) cameraPoses[16 * s + 4 * i + j] = R[3 * i + j];
      cameraPoses[16 * s + 4 * i + 3] = 4 * (rand() - 0.5);
    }
    cameraPoses[16 * s + 15] = 1;
  }
  const localPoints = randomF32(S * H * W * 3, rand);
  for (let i = 2; i < localPoints.length; i += 3) localPoints[i] = 1 + Math.abs(localPoints[i]); // in front
  return {
    S,
    H,
    W,
    points: randomF32(S * H * W * 3, rand),
    localPoints,
    conf: randomF32(S * H * W, rand, -3, 3),
    cameraPoses,
    timings: { trunk: 1, heads: 1, total: 2 },
    sparsity: null,
  };
}

describe('demo HeSS choice (demoHess)', () => {
  it("uses the shipped VGGT file for VGGT only; π³ gets planted scores of its own shape, marked as π³'s", () => {
    expect(demoHess(vggt, null, shipped)).toEqual({ file: shipped, from: 'shipped' });
    const forPi3 = demoHess(pi3, null, shipped);
    expect(forPi3.from).toBe('planted');
    expect(forPi3.file).not.toBe(shipped);
    expect([forPi3.file.model, forPi3.file.layers, forPi3.file.heads]).toEqual(['pi3', 18, 4]);
    expect(forPi3.file.scores.map((r) => r.length)).toEqual(Array(18).fill(4));
    expect(hessFits(forPi3.file, pi3)).toBe(true);
    expect(hessFits(shipped, pi3)).toBe(false);
    // a VGGT file of π³'s exact shape is still VGGT's (no model field: written before π³)
    const { model: _m, ...unmarked } = plantedHess(18, 4, 'pi3');
    expect(hessFits(unmarked, pi3)).toBe(false);
    expect(demoHess(pi3, null, unmarked).from).toBe('planted');
    // without a shipped file VGGT gets planted scores too, and what the user gives always wins (the model checks it)
    expect(demoHess(vggt, null, null).file).toMatchObject({ model: 'vggt', layers: 24, heads: 4 });
    expect(demoHess(pi3, shipped, null)).toEqual({ file: shipped, from: 'given' });
  });

  it('a planted file with its model survives a JSON round trip through parseHessFile', () => {
    const f = plantedHess(18, 4, 'pi3');
    expect(parseHessFile(JSON.stringify(f))).toEqual(f);
    expect('model' in plantedHess(24, 4)).toBe(false); // unchanged for callers that give no kind (npm run demo)
  });
});

describe('demo view of π³ cameras (cameraToWorld on pi3AsVggtResult)', () => {
  it('camera centres and frustum corners land at cameraPoses · p (camera-to-world), not at its inverse', () => {
    const rand = rng(freshSeed('demo pi3 cameras'));
    const S = 5;
    const r = pi3Result(S, rand);
    const v = pi3AsVggtResult(r);
    const got: number[] = [];
    const want: number[] = [];
    const inverse: number[] = [];
    for (let s = 0; s < S; s++) {
      const P = r.cameraPoses.subarray(16 * s, 16 * s + 16);
      for (const p of [
        [0, 0, 0],
        [0.3, -0.2, 1],
        [-1, 2, 0.5],
      ] as const) {
        got.push(...cameraToWorld(v.extrinsics!, s, p));
        for (let i = 0; i < 3; i++)
          want.push(P[4 * i] * p[0] + P[4 * i + 1] * p[1] + P[4 * i + 2] * p[2] + P[4 * i + 3]);
        // what drawing the poses as if they were world-to-camera would give: Rᵀ (p − t)
        for (let i = 0; i < 3; i++)
          inverse.push(P[i] * (p[0] - P[3]) + P[4 + i] * (p[1] - P[7]) + P[8 + i] * (p[2] - P[11]));
      }
    }
    const e = relError(got, want);
    console.info(`[demo pi3] camera placement relError ${e.toExponential(2)}`);
    expect(e).toBeLessThan(1e-6); // float32 rotations: orthonormal to ~1e-7
    expect(relError(got, inverse)).toBeGreaterThan(0.1);
  });

  it('VGGT extrinsics: cameraToWorld inverts world → camera', () => {
    const rand = rng(freshSeed('demo vggt cameras'));
    const R = rotation(rand);
    const t = [rand(), rand(), rand()];
    const E = [...R.slice(0, 3), t[0], ...R.slice(3, 6), t[1], ...R.slice(6, 9), t[2]];
    const x = [rand() - 0.5, rand() - 0.5, rand() - 0.5];
    const cam = [0, 1, 2].map((i) => R[3 * i] * x[0] + R[3 * i + 1] * x[1] + R[3 * i + 2] * x[2] + t[i]) as [
      number,
      number,
      number,
    ];
    expect(relError(cameraToWorld(E, 0, cam), x)).toBeLessThan(1e-12);
  });

  it("the table compares π³'s camera poses with dense (no pose encoding)", () => {
    const rand = rng(freshSeed('demo pi3 row'));
    const dense = pi3AsVggtResult(pi3Result(2, rand));
    const moved = pi3Result(2, rand);
    const row = demoRow('hess', 0.5, pi3AsVggtResult(moved), dense);
    expect(Number.isFinite(row.pose)).toBe(true);
    expect(row.pose).toBeGreaterThan(0);
    expect(Number.isFinite(row.depth) && Number.isFinite(row.points)).toBe(true);
  });
});
