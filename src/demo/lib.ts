/**
 * What the browser demo page and `npm run demo` (Node) share: the procedural sample scene, the choice of HeSS file
 * (planted for checkpoints without a calibrated one), block sizes that make sparsity real on small inputs, and the
 * dense-vs-sparse agreement numbers. Bundled to dist/demo/lib.js (no DOM, no GPU).
 */
import { combineHess, HESS_FORMAT_VERSION, type HessFile } from '../hess/hess-file.js';
import type { ModelKind } from '../model/load-model.js';
import type { VggtResult } from '../model/vggt/model.js';
import type { GtScore } from './ground-truth.js';

export { renderSceneViews, sceneCameras, type SceneImage, type SceneViewOptions } from './scene.js';
export { sampleSceneWithGt, scoreAgainstGt, type DemoGroundTruth, type GtScore } from './ground-truth.js';

/**
 * A deterministic, clearly labelled stand-in HeSS file (per-layer head scores in [0.5, 3.5], i.e. up to 7× apart), for
 * checkpoints that have no calibrated one, e.g. the random-weight tiny fixture. It exercises the HeSS budget
 * allocation; it says nothing about which heads matter. With `model`, the file says which model it is for (the other
 * model refuses it).
 *
 * @example
 * const hess = plantedHess(model.config.depth, model.config.numHeads, model.kind);
 */
export function plantedHess(layers: number, heads: number, model?: ModelKind): HessFile {
  const traces = Array.from({ length: layers }, (_, l) =>
    Array.from({ length: heads }, (_, h) => 2 + Math.sin(1.7 * l + 2.3 * h + 0.5) + 0.5 * Math.cos(0.9 * h * (l + 1))),
  );
  return {
    format: 'hess-scores',
    version: HESS_FORMAT_VERSION,
    modelId: 'planted-demo',
    ...(model && { model }),
    layers,
    heads,
    lambda: 0.5,
    terms: { camera: traces, pointCloud: traces },
    scores: combineHess(traces, traces, 0.5),
    calibration: { description: 'PLANTED by the demo (not calibrated): deterministic pseudo-scores', scenes: 1 },
  };
}

/** What {@link demoHess} needs to know of the loaded model: its kind and global-attention shape. */
export interface DemoModel {
  kind: ModelKind;
  depth: number;
  numHeads: number;
}

/** Whether `f` is for `m`: the same model (a file without a `model` field predates π³: it is VGGT's) and shape. */
export function hessFits(f: HessFile, m: DemoModel): boolean {
  return (f.model ?? 'vggt') === m.kind && f.layers === m.depth && f.heads === m.numHeads;
}

/**
 * The HeSS file the demo's hess/reverse policies use: the one the user gave (as is: a file for another model is
 * refused by the model with BAD_HESS_FILE, which the page shows); else the file shipped with the default model when
 * it is for this model (models/vggt-synth/hess.json is VGGT's: never given to π³); else planted pseudo-scores sized
 * for this model's layers and heads.
 *
 * @example
 * const { file, from } = demoHess({ kind: 'pi3', depth: 18, numHeads: 4 }, null, vggtSynthHess); // from: 'planted'
 */
export function demoHess(
  m: DemoModel,
  given: HessFile | null,
  shipped: HessFile | null = null,
): { file: HessFile; from: 'given' | 'shipped' | 'planted' } {
  if (given) return { file: given, from: 'given' };
  if (shipped && hessFits(shipped, m)) return { file: shipped, from: 'shipped' };
  return { file: plantedHess(m.depth, m.numHeads, m.kind), from: 'planted' };
}

/**
 * World coordinates of point `p` of camera `s`'s frame, from world-to-camera extrinsics `[R | t]` (S·12, VGGT's
 * form, and π³'s camera-to-world poses once inverted by `pi3AsVggtResult`): `Rᵀ (p − t)`.
 *
 * @example
 * cameraToWorld(r.extrinsics, 0, [0, 0, 0]); // camera 0's centre
 */
export function cameraToWorld(
  extrinsics: ArrayLike<number>,
  s: number,
  p: readonly [number, number, number],
): [number, number, number] {
  const o = 12 * s;
  const E = (i: number) => extrinsics[o + i];
  const d = [p[0] - E(3), p[1] - E(7), p[2] - E(11)];
  return [
    E(0) * d[0] + E(4) * d[1] + E(8) * d[2],
    E(1) * d[0] + E(5) * d[1] + E(9) * d[2],
    E(2) * d[0] + E(6) * d[1] + E(10) * d[2],
  ];
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
    // VGGT's pose encodings; π³ has none: its camera poses (as world-to-camera extrinsics) instead.
    pose: cmp ? relDiff(r.poseEnc ?? r.extrinsics, dense.poseEnc ?? dense.extrinsics) : null,
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
