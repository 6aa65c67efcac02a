import { describe, expect, it } from 'vitest';
import { NearestGrid } from '../../../src/evaluate/nearest-grid.js';
import { freshSeed, rng } from '../../helpers/random.js';

/** Float64 brute force: the same squared-distance expression, minimum over every point. */
function bruteForce(cloud: Float64Array, queries: Float64Array): Float64Array {
  const out = new Float64Array(queries.length / 3);
  for (let q = 0; q < out.length; q++) {
    let best = Infinity;
    for (let p = 0; p < cloud.length; p += 3) {
      const ax = cloud[p] - queries[3 * q],
        ay = cloud[p + 1] - queries[3 * q + 1],
        az = cloud[p + 2] - queries[3 * q + 2];
      best = Math.min(best, ax * ax + ay * ay + az * az);
    }
    out[q] = Math.sqrt(best);
  }
  return out;
}

describe('NearestGrid: exact nearest-neighbour distances', () => {
  it('equals brute force on fresh random clouds: blobs, surfaces, far apart, duplicates, one point', () => {
    const rand = rng(freshSeed('nearest grid'));
    const kinds = ['blob', 'surface', 'far', 'line', 'duplicates', 'single'] as const;
    for (let trial = 0; trial < 24; trial++) {
      const kind = kinds[trial % kinds.length];
      const n = kind === 'single' ? 1 : 1 + Math.floor(rand() * 1500);
      const m = 1 + Math.floor(rand() * 400);
      const scale = 10 ** (4 * rand() - 2);
      const cloud = new Float64Array(3 * n);
      for (let i = 0; i < n; i++) {
        const [u, v, w] = [rand(), rand(), rand()];
        const p =
          kind === 'surface'
            ? [u, v, 0.3 * Math.sin(6 * u) * v]
            : kind === 'line'
              ? [u, 0.5, 0.5]
              : kind === 'duplicates'
                ? [Math.round(4 * u) / 4, Math.round(4 * v) / 4, 0]
                : [u, v, w];
        cloud.set(
          p.map((x) => x * scale),
          3 * i,
        );
      }
      const shift = kind === 'far' ? 30 * scale : 0;
      const queries = Float64Array.from(
        { length: 3 * m },
        (_, i) => (1.6 * rand() - 0.3) * scale + (i % 3 === 0 ? shift : 0),
      );
      const got = new NearestGrid(cloud).distances(queries);
      const want = bruteForce(cloud, queries);
      expect(Array.from(got), `${kind}, n=${n}, m=${m}`).toEqual(Array.from(want));
    }
  });

  it('rejects empty and non-finite clouds', () => {
    expect(() => new NearestGrid(new Float64Array(0))).toThrow(/non-empty/);
    expect(() => new NearestGrid([0, 0, Number.NaN])).toThrow(/not finite/);
  });
});
