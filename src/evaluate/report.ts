/**
 * Report files of `hess-vggt eval`: report.md (Markdown tables), report.json (the {@link EvalReport}),
 * report.svg (metric vs sparsity per policy, drawn by hand: axes, ticks, legend; no plotting library) and, when
 * a HeSS file was used, hess-heatmap.svg (its scores, {@link renderHessHeatmap}).
 */
import { HessError } from '../errors.js';
import { AtomicBatch } from '../io/atomic-write.js';
import type { EvalPolicy, EvalReport, EvalSummaryRow } from './harness.js';
import { renderHessHeatmap } from './heatmap.js';

/** File name of the HeSS heat map next to report.md. */
export const HEATMAP_FILE = 'hess-heatmap.svg';

const fmt = (v: number | null | undefined, digits = 4) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);

const COLUMNS: [string, (r: EvalSummaryRow) => string][] = [
  ['policy', (r) => r.policy],
  ['target ρ', (r) => fmt(r.sparsity, 2)],
  ['achieved ρ', (r) => fmt(r.achievedSparsity, 3)],
  ['AUC@30', (r) => fmt(r.auc30)],
  ['RRA@15', (r) => fmt(r.rra15, 3)],
  ['RTA@15', (r) => fmt(r.rta15, 3)],
  ['Acc', (r) => fmt(r.accuracy)],
  ['Comp', (r) => fmt(r.completeness)],
  ['Chamfer', (r) => fmt(r.chamfer)],
  ['F1', (r) => fmt(r.f1, 3)],
  ['AbsRel', (r) => fmt(r.depthAbsRel)],
  ['ms', (r) => fmt(r.ms, 0)],
];

/** The ablation columns (λ, allocation), shown when the run varied them. */
const ABLATION_COLUMNS: [string, (r: EvalSummaryRow) => string][] = [
  ['λ', (r) => (r.lambda === null || r.lambda === undefined ? '–' : fmt(r.lambda, 2))],
  ['alloc', (r) => r.allocation ?? '–'],
];

/** Whether a report comes from an ablation run (λ or allocation options): then its tables show those columns. */
const isAblation = (report: EvalReport) => Boolean(report.options.lambdas || report.options.allocations);

/**
 * "hess ρ=0.73 λ=1 proportional": one summary row's run, for the per-layer table and the plot legend (λ and the
 * allocation only with `ablation`: outside ablation runs every hess row has the file's λ and water-filling).
 */
export function variantLabel(
  r: Pick<EvalSummaryRow, 'policy' | 'sparsity' | 'lambda' | 'allocation'>,
  withSparsity = true,
  ablation = true,
): string {
  return [
    r.policy,
    withSparsity && r.policy !== 'dense' ? `ρ=${r.sparsity}` : '',
    !ablation || r.lambda === null || r.lambda === undefined ? '' : `λ=${r.lambda}`,
    ablation && r.allocation === 'proportional' ? 'proportional' : '',
  ]
    .filter(Boolean)
    .join(' ');
}

function table(
  rows: readonly EvalSummaryRow[],
  lead: [string, (r: EvalSummaryRow) => string][] = [],
  ablation = false,
): string {
  const cols = [...lead, ...COLUMNS.slice(0, 2), ...(ablation ? ABLATION_COLUMNS : []), ...COLUMNS.slice(2)];
  const head = `| ${cols.map((c) => c[0]).join(' | ')} |`;
  const sep = `| ${cols.map((c, i) => (i < lead.length + 1 || c[0] === 'alloc' ? '---' : '---:')).join(' | ')} |`;
  return [head, sep, ...rows.map((r) => `| ${cols.map((c) => c[1](r)).join(' | ')} |`)].join('\n');
}

/** Requested vs budgeted vs achieved sparsity per global layer, one column per sparse run (scene means). */
function layerTable(rows: readonly EvalSummaryRow[], ablation: boolean): string {
  const runs = rows.filter((r) => r.layers);
  const n = Math.max(...runs.map((r) => r.layers!.achieved.length));
  const head = `| layer | ${runs.map((r) => variantLabel(r, true, ablation)).join(' | ')} |`;
  const sep = `| --- | ${runs.map(() => '---:').join(' | ')} |`;
  const body = Array.from(
    { length: n },
    (_, l) =>
      `| ${l} | ${runs.map((r) => `${fmt(r.layers!.budget[l], 3)} / ${fmt(r.layers!.achieved[l], 3)}`).join(' | ')} |`,
  );
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const all = `| mean | ${runs.map((r) => `${fmt(mean(r.layers!.budget), 3)} / ${fmt(mean(r.layers!.achieved), 3)}`).join(' | ')} |`;
  return [head, sep, ...body, all].join('\n');
}

/**
 * The Markdown report: the mean over scenes per (policy, sparsity), then every scene.
 * @example await writeFile('report.md', renderMarkdown(report));
 */
export function renderMarkdown(report: EvalReport): string {
  const o = report.options;
  const perScene = report.rows.map((r) => ({ ...r, scenes: 1 }) as EvalSummaryRow & { scene: string });
  const ablation = isAblation(report);
  const layered = report.summary.some((r) => r.layers);
  return [
    '# hess-vggt evaluation',
    '',
    `${report.createdAt} · model: ${report.model.kind === 'pi3' ? 'π³, ' : report.model.kind === 'vggt' ? 'VGGT, ' : ''}embed ${report.model.embedDim}, depth ${report.model.depth}, ${report.model.heads} heads, ${report.model.ep} · ` +
      `preprocess ${o.mode} ${o.targetSize} · blocks ${o.queryBlock ?? 'default'}/${o.keyBlock ?? 'default'} · HeSS: ${o.hess ?? 'none'}`,
    '',
    'Cameras: AUC@30 of min(RRA, RTA) over all pairs, RRA/RTA@15 fractions. Point cloud (after a similarity fit of',
    'the predicted camera centres onto the GT ones): accuracy, completeness, Chamfer (GT units), F1 at the threshold',
    'in report.json. Depth: AbsRel with per-frame median scaling. ρ = sparsity of the global attention.',
    '',
    ...(report.hessFile
      ? [
          `## HeSS scores (${report.hessFile.modelId}, λ = ${report.hessFile.lambda}, ${report.hessFile.calibration.scenes} calibration scene(s))`,
          '',
          `![HeSS heat map: layers × heads, camera / point-cloud / combined](${HEATMAP_FILE})`,
          '',
        ]
      : []),
    `## Mean over ${new Set(report.rows.map((r) => r.scene)).size} scene(s)`,
    '',
    table(report.summary, [], ablation),
    '',
    ...(layered
      ? [
          '## Requested vs achieved sparsity per global layer',
          '',
          'Each cell: budget ρ / achieved ρ (scene means). Budget: 1 − granted candidate key blocks / (heads · K), what',
          'the allocator gave for the requested ρ (floors, caps and rounding move it). Achieved: 1 − attended key blocks /',
          'all key blocks, with the always-kept special-token blocks and the dense special-token query blocks.',
          '',
          layerTable(report.summary, ablation),
          '',
        ]
      : []),
    '## Per scene',
    '',
    table(perScene, [['scene', (r) => (r as unknown as { scene: string }).scene]], ablation),
    '',
  ].join('\n');
}

const COLORS: Record<EvalPolicy, string> = {
  dense: '#444444',
  uniform: '#1f77b4',
  hess: '#d62728',
  reverse: '#2ca02c',
};
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** "Nice" tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return [0, 1];
  if (hi - lo < 1e-12) {
    const pad = Math.abs(hi) > 0 ? Math.abs(hi) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1] < hi) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

/** Metrics plotted by default (one panel each). */
export const PLOT_METRICS: { key: keyof EvalSummaryRow; label: string }[] = [
  { key: 'auc30', label: 'Camera AUC@30 (↑)' },
  { key: 'chamfer', label: 'Chamfer distance (↓)' },
  { key: 'f1', label: 'Point-cloud F1 (↑)' },
  { key: 'depthAbsRel', label: 'Depth AbsRel (↓)' },
];

/**
 * An SVG with one panel per metric: the scene mean vs the target sparsity, one line per sparse policy, dense as
 * a dashed horizontal reference. Panels whose metric is missing everywhere are left out.
 *
 * @example await writeFile('report.svg', renderSvg(report));
 */
export function renderSvg(report: EvalReport, metrics = PLOT_METRICS): string {
  const rows = report.summary;
  const panels = metrics.filter((m) =>
    rows.some((r) => typeof r[m.key] === 'number' && Number.isFinite(r[m.key] as number)),
  );
  const PW = 420;
  const PH = 300;
  const M = { l: 64, r: 16, t: 34, b: 48 };
  const cols = Math.min(2, Math.max(1, panels.length));
  const nrows = Math.max(1, Math.ceil(panels.length / cols));
  const legendH = 30;
  const W = cols * PW;
  const H = nrows * PH + legendH + 28;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">hess-vggt eval: metric vs global-attention sparsity (mean over scenes)</text>`,
  ];
  // One line per variant (policy, and λ / allocation in ablation runs): colour by policy, dash by variant.
  const ablation = isAblation(report);
  const label = (r: EvalSummaryRow) => variantLabel(r, false, ablation);
  const variants = [...new Map(rows.map((r) => [label(r), r] as const)).entries()].map(([label, r], i, all) => {
    const nth = all.slice(0, i).filter(([, o]) => o.policy === r.policy).length;
    const dash = r.policy === 'dense' ? '6 4' : ['', '2 3', '8 3', '8 3 2 3', '1 2'][nth % 5];
    return { label, policy: r.policy, dash: dash ? ` stroke-dasharray="${dash}"` : '' };
  });
  const sparseVariants = variants.filter((v) => v.policy !== 'dense');
  const xsAll = rows.map((r) => r.sparsity);
  const xTicks = niceTicks(0, Math.max(0.5, ...xsAll), 5).filter((v) => v <= 1 + 1e-9);
  const x1 = xTicks[xTicks.length - 1];
  panels.forEach((m, i) => {
    const ox = (i % cols) * PW;
    const oy = 28 + Math.floor(i / cols) * PH;
    const pw = PW - M.l - M.r;
    const ph = PH - M.t - M.b;
    const vals = rows.map((r) => r[m.key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const yTicks = niceTicks(Math.min(...vals), Math.max(...vals), 5);
    const y0 = yTicks[0];
    const y1 = yTicks[yTicks.length - 1];
    const X = (v: number) => ox + M.l + (v / x1) * pw;
    const Y = (v: number) => oy + M.t + ph - ((v - y0) / (y1 - y0)) * ph;
    parts.push(
      `<g>`,
      `<text x="${ox + M.l + pw / 2}" y="${oy + M.t - 10}" text-anchor="middle" font-size="13" font-weight="bold">${esc(m.label)}</text>`,
    );
    parts.push(`<rect x="${ox + M.l}" y="${oy + M.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
    for (const t of xTicks) {
      parts.push(
        `<line x1="${X(t)}" y1="${oy + M.t}" x2="${X(t)}" y2="${oy + M.t + ph}" stroke="#eee"/>`,
        `<line x1="${X(t)}" y1="${oy + M.t + ph}" x2="${X(t)}" y2="${oy + M.t + ph + 5}" stroke="#333"/>`,
        `<text x="${X(t)}" y="${oy + M.t + ph + 18}" text-anchor="middle">${t}</text>`,
      );
    }
    for (const t of yTicks) {
      parts.push(
        `<line x1="${ox + M.l}" y1="${Y(t)}" x2="${ox + M.l + pw}" y2="${Y(t)}" stroke="#eee"/>`,
        `<line x1="${ox + M.l - 5}" y1="${Y(t)}" x2="${ox + M.l}" y2="${Y(t)}" stroke="#333"/>`,
        `<text x="${ox + M.l - 8}" y="${Y(t) + 4}" text-anchor="end">${Number(t.toPrecision(4))}</text>`,
      );
    }
    parts.push(`<text x="${ox + M.l + pw / 2}" y="${oy + PH - 10}" text-anchor="middle">target sparsity ρ</text>`);
    const dense = rows.find((r) => r.policy === 'dense');
    const dv = dense?.[m.key];
    if (typeof dv === 'number' && Number.isFinite(dv)) {
      parts.push(
        `<line x1="${ox + M.l}" y1="${Y(dv)}" x2="${ox + M.l + pw}" y2="${Y(dv)}" stroke="${COLORS.dense}" stroke-dasharray="6 4" stroke-width="1.5"/>`,
      );
    }
    for (const { label: name, policy: p, dash } of sparseVariants) {
      const pts = rows
        .filter((r) => label(r) === name && typeof r[m.key] === 'number' && Number.isFinite(r[m.key] as number))
        .sort((a, b) => a.sparsity - b.sparsity)
        .map((r) => [X(r.sparsity), Y(r[m.key] as number)] as const);
      if (pts.length > 1)
        parts.push(
          `<polyline points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}" fill="none" stroke="${COLORS[p]}" stroke-width="2"${dash}/>`,
        );
      for (const [a, b] of pts)
        parts.push(`<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3.5" fill="${COLORS[p]}"/>`);
    }
    parts.push('</g>');
  });
  if (panels.length === 0) parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no metric to plot</text>`);
  // Legend.
  let lx = 20;
  const ly = H - legendH / 2;
  for (const { label, policy: p, dash } of variants) {
    parts.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${COLORS[p]}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 34}" y="${ly + 4}">${esc(p === 'dense' ? 'dense (reference)' : label)}</text>`,
    );
    lx += 40 + 7 * Math.max(8, label.length);
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * Write report.md, report.json, report.svg (and the HeSS heat map, when the report has a HeSS file) into `outDir`
 * (created if needed) as one: all are written to
 * temporary files first and renamed together, so a failure leaves no half-written report. Returns their paths.
 * @example const files = await writeReport(await evaluate(model, scenes, opts), './eval-out');
 */
export async function writeReport(
  report: EvalReport,
  outDir: string,
): Promise<{ md: string; json: string; svg: string; heatmap?: string }> {
  const dir = outDir.replace(/\/$/, '');
  const files: { md: string; json: string; svg: string; heatmap?: string } = {
    md: `${dir}/report.md`,
    json: `${dir}/report.json`,
    svg: `${dir}/report.svg`,
  };
  if (report.hessFile) files.heatmap = `${dir}/${HEATMAP_FILE}`;
  const batch = await AtomicBatch.create();
  try {
    await batch.mkdir(dir);
    await batch.write(files.md, renderMarkdown(report));
    await batch.write(files.json, JSON.stringify(report, null, 2));
    await batch.write(files.svg, renderSvg(report));
    if (report.hessFile) await batch.write(files.heatmap!, renderHessHeatmap(report.hessFile));
    await batch.commit();
  } catch (e) {
    await batch.abort();
    throw new HessError(
      'IO_ERROR',
      `cannot write the report to ${dir}: ${String((e as Error)?.message ?? e)}`,
      'check the --out folder',
      { cause: e },
    );
  }
  return files;
}
