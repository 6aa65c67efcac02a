/**
 * hess-vggt/evaluate: the evaluation harness (dense vs sparse policies over calibration scenes, VGGT or π³), its metrics
 * (relative pose AUC, point-cloud accuracy/completeness, depth errors) and its reports (Markdown, SVG plots, the
 * HeSS heat map).
 *
 * @module hess-vggt/evaluate
 */
export {
  evaluate,
  summarize,
  layerSparsity,
  withLambda,
  type EvalReport,
  type EvalRow,
  type EvalSummaryRow,
  type EvaluateOptions,
  type EvalPolicy,
  type EvalAllocation,
  type LayerSparsity,
} from '../evaluate/harness.js';
export * from '../evaluate/metrics.js';
export { asVggtResult, pi3AsVggtResult } from '../evaluate/pi3-result.js';
export {
  writeReport,
  renderMarkdown,
  renderSvg,
  niceTicks,
  variantLabel,
  PLOT_METRICS,
  HEATMAP_FILE,
} from '../evaluate/report.js';
export {
  renderHessHeatmap,
  heatmapValues,
  colourOf,
  HEATMAP_PANELS,
  type HeatmapOptions,
  type HeatmapPanel,
} from '../evaluate/heatmap.js';
