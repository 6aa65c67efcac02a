/**
 * What the browser demo page and `npm run demo` (Node) share: the procedural sample scene, the planted HeSS file
 * for checkpoints without a calibrated one, block sizes that make sparsity real on small inputs, and the
 * dense-vs-sparse agreement numbers. Bundled to dist/demo/lib.js (no DOM, no GPU).
 */
import { combineHess, HESS_FORMAT_VERSION, type HessFile } from '../hess/hess-file.js';
import type { VggtResult } from '../model/vggt/model.js';
import type { GtScore } from './ground-truth.js';

export { renderSceneViews, sceneCameras, type SceneImage, type SceneViewOptions } from './scene.js';
export { sampleSceneWithGt, scoreAgainstGt, type DemoGroundTruth, type GtScore } from './ground-truth.js';

/**
 * A deterministic, clearly labelled stand-in HeSS file (per-layer head scores in [0.5, 3.5], i.e. up to 7× apart), for
 * checkpoints that have no calibrated one, e.g. the random-weight tiny fixture. It exercises the HeSS budget
 * allocation; it says nothing about which heads matter.
 *
 * @example
 * const hess = plantedHess(model.config.depth, model.config.numHeads);
 */
export function plantedHess(layers: number, heads: number): HessFile {
  const traces = Array.from({ length: layers }, (_, l) =>
    Array.from({ length: heads }, (_, h) => 2 + Math.sin(1.7 * l + 2.3 * h + 0.5) + 0.5 * Math.cos(0.9 * h * (l + 1))),
  );
  return {
    format: 'hess-scores',
    version: HESS_FORMAT_VERSION,
    modelId: 'planted-demo',
    layers,
    heads,
    lambda: 0.5,
    terms: { camera: traces, pointCloud: traces },
    scores: combineHess(traces, traces, 0.5),
    calibration: { description: 'PLANTED by the demo (not calibrated): deterministic pseudo-scores', scenes: 1 },
  };
}

/**
 * Query/key block sizes for a run: the planner's defaults (128/64) make a few hundred tokens a single block, where
 * nothing can be skipped; small inputs get 16/8 so the requested sparsity is actually applied.
 *
 * @example
 * autoBlocks(3, 70, 98, 14, 5); // { queryBlock: 16, keyBlock: 8 } (120 tokens)
 */
export function autoBlocks(
  S: number,
  H: number,
  W: number,
  patch: number,
  special: number,
): { queryBlock: number; keyBlock: number } {
  const tokens = S * ((H / patch) * (W / patch) + special);
  return tokens < 1024 ? { queryBlock: 16, keyBlock: 8 } : { queryBlock: 128, keyBlock: 64 };
}

/** max|a − ref| / max|ref| over entries finite in both (NaN when nothing is comparable). */
export function relDiff(a: ArrayLike<number> | null, ref: ArrayLike<number> | null): number {
  if (!a || !ref || a.length !== ref.length) return NaN;
  let num = 0,
    den = 0,
    n = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i],
      r = ref[i];
    if (!Number.isFinite(x) || !Number.isFinite(r)) continue;
    n++;
    num = Math.max(num, Math.abs(x - r));
    den = Math.max(den, Math.abs(r));
  }
  return n ? num / (den || 1) : NaN;
}

/** One row of the dense-vs-sparse table. */
export interface DemoRow {
  policy: string;
  requested: number;
  achieved: number | null;
  aggregatorMs: number;
  totalMs: number;
  planMs: number | null;
  /** Relative difference vs the dense run on the same images (null for the dense row itself / no dense run). */
  depth: number | null;
  points: number | null;
  pose: number | null;
  /** Against the sample scene's GT (null for images without GT): Chamfer in scene units, depth AbsRel. */
  chamfer: number | null;
  depthAbsRel: number | null;
}

/**
 * Build a table row from a result, comparing with `dense` when given and with the GT when scored.
 *
 * @example
 * const row = demoRow('hess', 0.5, sparse, dense, scoreAgainstGt(sparse, gt));
 */
export function demoRow(
  policy: string,
  requested: number,
  r: VggtResult,
  dense: VggtResult | null,
  gt: GtScore | null = null,
): DemoRow {
  const cmp = dense && dense !== r && dense.S === r.S && dense.H === r.H && dense.W === r.W;
  return {
    policy,
    requested,
    achieved: r.sparsity ? r.sparsity.achievedSparsity : null,
    aggregatorMs: r.timings.aggregator,
    totalMs: r.timings.total,
    planMs: r.sparsity ? r.sparsity.planMs : null,
    depth: cmp ? relDiff(r.depth, dense.depth) : null,
    points: cmp ? relDiff(r.worldPoints, dense.worldPoints) : null,
    pose: cmp ? relDiff(r.poseEnc, dense.poseEnc) : null,
    chamfer: gt ? gt.chamfer : null,
    depthAbsRel: gt ? gt.depthAbsRel : null,
  };
}

export const ROW_HEADERS = [
  'policy',
  'ρ requested',
  'ρ achieved',
  'aggregator ms',
  'total ms',
  'plan ms',
  'Δ depth',
  'Δ points',
  'Δ pose',
  'Chamfer',
  'depth AbsRel',
];

/** The row's cells as text (relative differences in scientific notation, '—' where not applicable). */
export function rowCells(r: DemoRow): string[] {
  const e = (x: number | null) => (x === null ? '—' : Number.isNaN(x) ? 'n/a' : x.toExponential(2));
  const g = (x: number | null) => (x === null ? '—' : Number.isNaN(x) ? 'n/a' : x.toFixed(4));
  return [
    r.policy,
    r.policy === 'dense' ? '0' : r.requested.toFixed(2),
    r.achieved === null ? '—' : r.achieved.toFixed(3),
    r.aggregatorMs.toFixed(0),
    r.totalMs.toFixed(0),
    r.planMs === null ? '—' : r.planMs.toFixed(0),
    e(r.depth),
    e(r.points),
    e(r.pose),
    g(r.chamfer),
    g(r.depthAbsRel),
  ];
}

/** A Markdown table of rows (what `npm run demo` prints). */
export function markdownTable(rows: readonly DemoRow[]): string {
  const cells = [ROW_HEADERS, ...rows.map(rowCells)];
  const w = ROW_HEADERS.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r: string[]) => `| ${r.map((x, c) => x.padEnd(w[c])).join(' | ')} |`;
  return [line(cells[0]), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}
