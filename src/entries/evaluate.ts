/**
 * hess-vggt/evaluate: the evaluation harness (dense vs sparse policies over calibration scenes, VGGT or π³), its metrics
 * (relative pose AUC, point-cloud accuracy/completeness, depth errors) and its reports (Markdown, SVG plots, the
 * HeSS heat map).
 *
 * @module hess-vggt/evaluate
 */
export {
  evaluate, summarize, layerSparsity, withLambda,
  type EvalReport, type EvalRow, type EvalSummaryRow, type EvaluateOptions, type EvalPolicy, type EvalAllocation,
  type LayerSparsity,
} from '../evaluate/harness';
export * from '../evaluate/metrics';
export { asVggtResult, pi3AsVggtResult } from '../evaluate/pi3-result';
export { writeReport, renderMarkdown, renderSvg, niceTicks, variantLabel, PLOT_METRICS, HEATMAP_FILE } from '../evaluate/report';
export {
  renderHessHeatmap, heatmapValues, colourOf, HEATMAP_PANELS, type HeatmapOptions, type HeatmapPanel,
} from '../evaluate/heatmap';
