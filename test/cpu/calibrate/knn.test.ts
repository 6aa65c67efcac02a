import { describe, expect, it } from 'vitest';
import { nearestNeighbors, PointIndex3 } from '../../../src/calibrate/geometry/knn.js';
import { HessError } from '../../../src/errors.js';
import { gaussian, randomPoints, rng } from './rng.js';

function brute(q: ArrayLike<number>, j: number, cloud: ArrayLike<number>): number[] {
  const d: number[] = [];
  for (let i = 0; i < cloud.length / 3; i++) {
    d.push(
      (cloud[3 * i] - q[3 * j]) ** 2 + (cloud[3 * i + 1] - q[3 * j + 1]) ** 2 + (cloud[3 * i + 2] - q[3 * j + 2]) ** 2,
    );
  }
  return d;
}

describe('PointIndex3 (k-d tree)', () => {
  it('nearest matches brute force on random clouds', () => {
    const r = rng(41);
    const g = gaussian(r);
    for (const n of [1, 2, 7, 100, 2000]) {
      const cloud = n % 2 ? randomPoints(r, n, 3) : Float64Array.from({ length: 3 * n }, () => g() * 0.5);
      const queries = randomPoints(r, 300, 4);
      const { indices, dist2 } = nearestNeighbors(queries, cloud);
      for (let j = 0; j < 300; j++) {
        const d = brute(queries, j, cloud);
        const best = Math.min(...d);
        expect(dist2[j]).toBe(best);
        expect(d[indices[j]]).toBe(best);
      }
    }
  });

  it('maxDist returns -1 / Infinity beyond the radius and matches brute force inside it', () => {
    const r = rng(42);
    const cloud = randomPoints(r, 500);
    const queries = randomPoints(r, 400, 1.5);
    const index = new PointIndex3(cloud);
    const { indices, dist2 } = index.nearestAll(queries, { maxDist: 0.1 });
    for (let j = 0; j < 400; j++) {
      const best = Math.min(...brute(queries, j, cloud));
      if (best < 0.01) expect(dist2[j]).toBe(best);
      else {
        expect(indices[j]).toBe(-1);
        expect(dist2[j]).toBe(Infinity);
      }
    }
  });

  it('knn returns the k closest, sorted', () => {
    const r = rng(43);
    const cloud = randomPoints(r, 800);
    const index = new PointIndex3(Float32Array.from(cloud));
    const f32 = Float32Array.from(cloud);
    for (let j = 0; j < 50; j++) {
      const q = randomPoints(r, 1);
      const k = 1 + Math.floor(r() * 12);
      const { indices, dist2 } = index.knn(q, k);
      const d = brute(q, 0, f32);
      const expected = [...d].sort((a, b) => a - b).slice(0, k);
      expect(Array.from(dist2)).toEqual(expected);
      indices.forEach((i, m) => expect(d[i]).toBe(dist2[m]));
    }
    expect(index.knn([0, 0, 0], 10_000).indices.length).toBe(800);
  });

  it('handles duplicate points', () => {
    const cloud = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0];
    const index = new PointIndex3(cloud);
    expect([0, 1, 4]).toContain(index.nearest(0.1, 0, 0));
    expect([2, 3]).toContain(index.nearest(0.9, 1, 1));
    expect(index.knn([0, 0, 0], 3).dist2).toEqual(Float64Array.of(0, 0, 0));
  });

  it('rejects empty, ragged and non-finite clouds', () => {
    expect(() => new PointIndex3([])).toThrow(HessError);
    expect(() => new PointIndex3([1, 2])).toThrow(/multiple of 3/);
    expect(() => new PointIndex3([1, 2, Infinity])).toThrow(/finite/);
  });
});
