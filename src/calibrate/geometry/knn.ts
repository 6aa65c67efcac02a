/**
 * 3D nearest-neighbour search over a static point cloud, backed by the k-d tree of `@thi.ng/geom-accel`
 * (`KdTreeMap`, pure ESM JavaScript, runs in browsers, Deno, Bun and Node). Building is O(n log² n)
 * (median split by sorting), a nearest query is O(log n) on average.
 */
import { KdTreeMap } from '@thi.ng/geom-accel/kd-tree-map';
import { HessError } from '../../errors.js';
import { assertFinite, pointCount, type Points3 } from './mat3.js';

/** Nearest-neighbour answers for a batch of queries. */
export interface NearestResult {
  /** Index (into the indexed cloud) of each query's nearest point, or -1 when none lies within `maxDist`. */
  indices: Int32Array;
  /** Squared Euclidean distance to that point, or `Infinity` for -1. */
  dist2: Float64Array;
}

/**
 * A static k-d tree over a 3D point cloud. Coordinates are copied to float64 at build time, so later changes
 * to the source array do not affect the index.
 *
 * @example
 * const index = new PointIndex3(gtCloud);               // flat xyz
 * const { indices, dist2 } = index.nearestAll(predicted); // nearest GT point of every predicted point
 */
export class PointIndex3 {
  /** The indexed points as flat float64 xyz. */
  readonly points: Float64Array;
  /** Number of indexed points. */
  readonly size: number;
  private readonly tree: KdTreeMap<number[], number>;
  private readonly q: number[] = [0, 0, 0];

  constructor(points: Points3) {
    const n = pointCount(points, 'cloud');
    if (n === 0) throw new HessError('INVALID_ARGUMENT', 'cannot build a nearest-neighbour index over an empty cloud');
    assertFinite(points, 'cloud');
    this.points = Float64Array.from(points);
    this.size = n;
    const pairs: [number[], number][] = new Array(n);
    for (let i = 0; i < n; i++) pairs[i] = [[this.points[3 * i], this.points[3 * i + 1], this.points[3 * i + 2]], i];
    this.tree = new KdTreeMap<number[], number>(3, pairs);
  }

  /** Squared distance from (x, y, z) to indexed point `i`. */
  private d2(i: number, x: number, y: number, z: number): number {
    const p = this.points;
    const dx = p[3 * i] - x;
    const dy = p[3 * i + 1] - y;
    const dz = p[3 * i + 2] - z;
    return dx * dx + dy * dy + dz * dz;
  }

  /**
   * Index of the point nearest to (x, y, z), or -1 when none is strictly closer than `maxDist`.
   * @example const i = index.nearest(0, 0, 0);
   */
  nearest(x: number, y: number, z: number, maxDist = Infinity): number {
    const q = this.q;
    q[0] = x;
    q[1] = y;
    q[2] = z;
    const hit = this.tree.queryValues(q, maxDist, 1);
    return hit.length ? hit[0] : -1;
  }

  /**
   * Nearest indexed point of every query point (flat xyz).
   * @example const { indices, dist2 } = index.nearestAll(queries, { maxDist: 0.1 });
   */
  nearestAll(queries: Points3, opts: { maxDist?: number } = {}): NearestResult {
    const m = pointCount(queries, 'queries');
    assertFinite(queries, 'queries');
    const maxDist = opts.maxDist ?? Infinity;
    const indices = new Int32Array(m);
    const dist2 = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      const x = queries[3 * j];
      const y = queries[3 * j + 1];
      const z = queries[3 * j + 2];
      const i = this.nearest(x, y, z, maxDist);
      indices[j] = i;
      dist2[j] = i < 0 ? Infinity : this.d2(i, x, y, z);
    }
    return { indices, dist2 };
  }

  /**
   * The `k` nearest indexed points of one query, closest first (fewer if the cloud is smaller or `maxDist`
   * cuts them off).
   * @example const { indices } = index.knn([0, 0, 0], 8);
   */
  knn(query: ArrayLike<number>, k: number, maxDist = Infinity): NearestResult {
    if (!(Number.isInteger(k) && k >= 1))
      throw new HessError('INVALID_ARGUMENT', `knn: k must be a positive integer, got ${k}`);
    assertFinite(query, 'query');
    const [x, y, z] = [query[0], query[1], query[2]];
    const found = this.tree.queryValues([x, y, z], maxDist, Math.min(k, this.size));
    const d = found.map((i) => this.d2(i, x, y, z));
    const order = found.map((_, j) => j).sort((a, b) => d[a] - d[b] || found[a] - found[b]);
    return {
      indices: Int32Array.from(order, (j) => found[j]),
      dist2: Float64Array.from(order, (j) => d[j]),
    };
  }
}

/**
 * One-shot nearest neighbours of `queries` in `cloud` (builds a {@link PointIndex3}; keep the index yourself
 * to query the same cloud repeatedly).
 * @example const { indices, dist2 } = nearestNeighbors(pred, gt);
 */
export function nearestNeighbors(queries: Points3, cloud: Points3, opts: { maxDist?: number } = {}): NearestResult {
  return new PointIndex3(cloud).nearestAll(queries, opts);
}
