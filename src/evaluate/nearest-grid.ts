/**
 * Exact nearest-neighbour distances for the evaluation's point-cloud metrics, on a uniform grid in typed arrays.
 *
 * Why not the k-d tree (calibrate/geometry/knn): the eval runs under V8's `--no-opt` (dawn.node needs it), where
 * the generic k-d tree's per-node closures and arrays cost ~20 s for 16k × 16k points, and when the two clouds
 * lie apart (a failed prediction) its split-plane pruning stops working and a query visits most of the tree
 * (~440 s measured). Here a query walks cubic shells of grid cells outward from its cell and stops when the next
 * shell cannot hold anything closer; a cell whose box is already farther than the best hit is skipped. A query
 * outside the grid starts from the nearest cell, and the bound counts its distance to the grid.
 */
import { HessError } from '../errors.js';

/** A static grid over a 3D cloud (flat xyz), answering exact nearest squared distances. */
export class NearestGrid {
  private readonly min = new Float64Array(3);
  private readonly dims = new Int32Array(3);
  private readonly h: number;
  /** CSR: points of cell c are xyz[3·start[c] … 3·start[c+1]) (coordinates stored in cell order). */
  private readonly start: Int32Array;
  private readonly xyz: Float64Array;

  constructor(points: ArrayLike<number>) {
    const n = points.length / 3;
    if (!(Number.isInteger(n) && n > 0))
      throw new HessError(
        'INVALID_ARGUMENT',
        `NearestGrid needs a non-empty flat xyz cloud, got ${points.length} values`,
      );
    const lo = [Infinity, Infinity, Infinity];
    const hi = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < points.length; i++) {
      const v = points[i];
      if (!Number.isFinite(v))
        throw new HessError('INVALID_ARGUMENT', `NearestGrid: point ${Math.floor(i / 3)} is not finite`);
      const a = i % 3;
      if (v < lo[a]) lo[a] = v;
      if (v > hi[a]) hi[a] = v;
    }
    const ext = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
    const maxExt = Math.max(...ext);
    // Cell size: start from ~3 points per cell of a filled box, then grow for clouds that fill less than their
    // box (surfaces): aim at ≥ 2 points per occupied cell, with at most ~4n cells.
    let h = maxExt > 0 ? maxExt / Math.max(1, Math.cbrt(n / 3)) : 1;
    const cellsOf = (s: number) => ext.map((e) => Math.max(1, Math.ceil(e / s + 1e-9)));
    for (let iter = 0; iter < 8; iter++) {
      const d = cellsOf(h);
      const total = d[0] * d[1] * d[2];
      if (total > 4 * n + 64) {
        h *= Math.cbrt(total / (4 * n + 64)) * 1.01;
        continue;
      }
      const seen = new Uint8Array(total);
      let occupied = 0;
      for (let i = 0; i < n; i++) {
        const c = this.cellIndex(points[3 * i], points[3 * i + 1], points[3 * i + 2], lo, d, h);
        if (!seen[c]) {
          seen[c] = 1;
          occupied++;
        }
      }
      if (n / occupied >= 2 || total === 1) break;
      h *= Math.sqrt(2 / (n / occupied)); // a surface: points per occupied cell grow with h²
    }
    this.h = h;
    const d = cellsOf(h);
    this.dims.set(d);
    this.min.set(lo);
    const total = d[0] * d[1] * d[2];
    const cell = new Int32Array(n);
    const start = new Int32Array(total + 1);
    for (let i = 0; i < n; i++) {
      cell[i] = this.cellIndex(points[3 * i], points[3 * i + 1], points[3 * i + 2], lo, d, h);
      start[cell[i] + 1]++;
    }
    for (let c = 0; c < total; c++) start[c + 1] += start[c];
    const fill = start.slice(0, total);
    const xyz = new Float64Array(3 * n);
    for (let i = 0; i < n; i++) {
      const o = 3 * fill[cell[i]]++;
      xyz[o] = points[3 * i];
      xyz[o + 1] = points[3 * i + 1];
      xyz[o + 2] = points[3 * i + 2];
    }
    this.start = start;
    this.xyz = xyz;
  }

  private cellIndex(x: number, y: number, z: number, lo: ArrayLike<number>, d: ArrayLike<number>, h: number): number {
    const i = Math.min(d[0] - 1, Math.max(0, Math.floor((x - lo[0]) / h)));
    const j = Math.min(d[1] - 1, Math.max(0, Math.floor((y - lo[1]) / h)));
    const k = Math.min(d[2] - 1, Math.max(0, Math.floor((z - lo[2]) / h)));
    return (i * d[1] + j) * d[2] + k;
  }

  /** Squared distance from (x, y, z) to the nearest point of the cloud. */
  nearest2(x: number, y: number, z: number): number {
    const h = this.h;
    // Cell boxes are widened by a hair so that rounding in `floor((x − min) / h)` never lets a bound overshoot.
    const sl = 1e-9 * h;
    const [mx, my, mz] = this.min;
    const [dx, dy, dz] = this.dims;
    const cx = Math.min(dx - 1, Math.max(0, Math.floor((x - mx) / h)));
    const cy = Math.min(dy - 1, Math.max(0, Math.floor((y - my) / h)));
    const cz = Math.min(dz - 1, Math.max(0, Math.floor((z - mz) / h)));
    // Distance to the grid's box along each axis (0 inside): every cell is at least this far.
    const ex = Math.max(mx - sl - x, 0, x - (mx + dx * h + sl));
    const ey = Math.max(my - sl - y, 0, y - (my + dy * h + sl));
    const ez = Math.max(mz - sl - z, 0, z - (mz + dz * h + sl));
    const e2 = ex * ex + ey * ey + ez * ez;
    const { start, xyz } = this;
    let best = Infinity;
    const rMax = Math.max(dx, dy, dz);
    for (let r = 0; r <= rMax; r++) {
      // A cell r shells out differs by r cells along some axis: at least (r−1)·h away along it, beyond the box gap.
      if (r > 0) {
        const lb = Math.max(0, (r - 1) * h - sl);
        if (e2 + lb * lb >= best) break;
      }
      const i0 = Math.max(0, cx - r),
        i1 = Math.min(dx - 1, cx + r);
      const j0 = Math.max(0, cy - r),
        j1 = Math.min(dy - 1, cy + r);
      for (let i = i0; i <= i1; i++) {
        const bx = Math.max(mx + i * h - sl - x, 0, x - (mx + (i + 1) * h + sl));
        const onI = i === cx - r || i === cx + r;
        for (let j = j0; j <= j1; j++) {
          const by = Math.max(my + j * h - sl - y, 0, y - (my + (j + 1) * h + sl));
          const bxy = bx * bx + by * by;
          if (bxy >= best) continue;
          const face = onI || j === cy - r || j === cy + r;
          // Interior (i, j) of the shell: only its two z faces; on an x/y face: the whole z range.
          const kStep = face || r === 0 ? 1 : 2 * r;
          for (let k = face ? Math.max(0, cz - r) : cz - r; k <= Math.min(dz - 1, cz + r); k += kStep) {
            if (k < 0) continue;
            const bz = Math.max(mz + k * h - sl - z, 0, z - (mz + (k + 1) * h + sl));
            if (bxy + bz * bz >= best) continue;
            const c = (i * dy + j) * dz + k;
            for (let p = 3 * start[c], end = 3 * start[c + 1]; p < end; p += 3) {
              const ax = xyz[p] - x,
                ay = xyz[p + 1] - y,
                az = xyz[p + 2] - z;
              const d2 = ax * ax + ay * ay + az * az;
              if (d2 < best) best = d2;
            }
          }
        }
      }
    }
    return best;
  }

  /** Distance (not squared) to the nearest cloud point of every query point (flat xyz). */
  distances(queries: ArrayLike<number>): Float64Array {
    const m = queries.length / 3;
    const out = new Float64Array(m);
    for (let q = 0; q < m; q++)
      out[q] = Math.sqrt(this.nearest2(queries[3 * q], queries[3 * q + 1], queries[3 * q + 2]));
    return out;
  }
}
