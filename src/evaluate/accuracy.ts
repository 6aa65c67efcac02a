/**
 * Combined errors of an eval run with dense among its policies, and paired per-scene comparisons of two runs:
 * what the accuracy bench reports and the accuracy regression test asserts (bench/results/accuracy.md).
 */
import type { EvalPolicy, EvalRow } from './harness.js';

/** A (policy, requested sparsity) pair; dense has sparsity 0. */
export interface AccuracyRun {
  policy: EvalPolicy;
  sparsity: number;
}

/** The two combined errors of one (scene, run). */
export interface AccuracyError extends AccuracyRun {
  scene: string;
  /**
   * Against the GT, relative to dense on the same scene (λ = ½ as the HeSS score): ½·(mean RRA + mean RTA) /
   * (dense's) + ½·Chamfer / Chamfer_dense. Dense is 1.
   */
  gtCombined: number;
  /** Against the dense output: ½·Δ pose + ½·Δ points (relative RMS differences). Dense is 0. */
  deltaCombined: number;
}

/**
 * The combined errors of every row of an eval report (λ = ½). Needs a dense row per scene and rows with the
 * camera, Chamfer and Δ metrics (evaluate() with 'dense' among the policies).
 *
 * @example
 * const errs = accuracyErrors(report.rows);
 */
export function accuracyErrors(rows: readonly EvalRow[]): AccuracyError[] {
  const dense = new Map(rows.filter((r) => r.policy === 'dense').map((r) => [r.scene, r]));
  return rows.map((r) => {
    const d = dense.get(r.scene);
    if (!d) throw new Error(`accuracyErrors: scene ${r.scene} has no dense row`);
    const cam = (x: EvalRow) => (x.meanRRA ?? NaN) + (x.meanRTA ?? NaN);
    // A dense camera error of exactly 0 would make the ratio undefined; 1e-9° is far below any real error.
    const gtCombined = (0.5 * cam(r)) / Math.max(cam(d), 1e-9) + (0.5 * (r.chamfer ?? NaN)) / (d.chamfer ?? NaN);
    const deltaCombined = 0.5 * (r.deltaPose ?? NaN) + 0.5 * (r.deltaPoints ?? NaN);
    return { scene: r.scene, policy: r.policy, sparsity: r.sparsity, gtCombined, deltaCombined };
  });
}

/** Paired comparison of run `a` against run `b` over the scenes both have: d = err(a) − err(b) per scene. */
export interface OrderingStats {
  n: number;
  meanDiff: number;
  /** Sample standard deviation of d over scenes. */
  sdDiff: number;
  /** The largest (least favourable to "a < b") per-scene d. */
  maxDiff: number;
  /** Scenes where d < 0 (a better). */
  wins: number;
  /** mean d / mean err(b). */
  relMargin: number;
}

/**
 * How consistently `a` has a lower error than `b` (per-scene paired differences).
 *
 * @example
 * orderingStats(errs, { policy: 'hess', sparsity: 0.6 }, { policy: 'uniform', sparsity: 0.6 }, 'deltaCombined');
 */
export function orderingStats(
  errs: readonly AccuracyError[],
  a: AccuracyRun,
  b: AccuracyRun,
  key: 'gtCombined' | 'deltaCombined',
): OrderingStats {
  const pick = (r: AccuracyRun) =>
    new Map(errs.filter((e) => e.policy === r.policy && e.sparsity === r.sparsity).map((e) => [e.scene, e[key]]));
  const A = pick(a),
    B = pick(b);
  const d: number[] = [],
    eb: number[] = [];
  for (const [scene, va] of A) {
    const vb = B.get(scene);
    if (vb === undefined) continue;
    d.push(va - vb);
    eb.push(vb);
  }
  const n = d.length;
  const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / Math.max(1, v.length);
  const m = mean(d);
  const sd = Math.sqrt(d.reduce((x, y) => x + (y - m) ** 2, 0) / Math.max(1, n - 1));
  return {
    n,
    meanDiff: m,
    sdDiff: sd,
    maxDiff: Math.max(...d),
    wins: d.filter((x) => x < 0).length,
    relMargin: m / mean(eb),
  };
}
