/**
 * The HeSS heat map: an SVG of a HeSS file's head scores, layers × heads, in three panels (camera term,
 * point-cloud term, combined score) on one shared colour scale with a colour-bar legend. A pure function of the
 * file: no DOM, no plotting library, the same string everywhere (calibrate writes it next to the HeSS file, the
 * eval report embeds it, the demo page can inline it).
 *
 * What is plotted: each head's *share* of its layer, times the number of heads (1 = the uniform share). Raw Fisher
 * traces differ by orders of magnitude between layers and only ratios within a layer reach the allocator, so the
 * share is what decides the budgets; "× heads" makes the colour scale read the same for 4 or 16 heads.
 */
import { combineHess, type HessFile } from '../hess/hess-file.js';

/** Options of {@link renderHessHeatmap}. */
export interface HeatmapOptions {
  /** Colour scale: 'log' (default: shares vary by an order of magnitude) or 'linear'. */
  scale?: 'log' | 'linear';
  /** Re-combine the two terms with this camera weight for the combined panel (default: the file's `scores`). */
  lambda?: number;
  /** Title line (default: the model id and calibration scene count). */
  title?: string;
  /** Cell size in px (defaults fit ~300 px per panel width, clamped to readable sizes). */
  cellWidth?: number;
  cellHeight?: number;
}

/** The three panels, in drawing order. */
export const HEATMAP_PANELS = ['camera', 'pointCloud', 'combined'] as const;
export type HeatmapPanel = (typeof HEATMAP_PANELS)[number];

/**
 * Magma-like stops (dark purple → orange → pale yellow) with every channel non-decreasing, B held flat where
 * magma dips: then luminance rises with the value even after rounding to 8 bits (true viridis/magma drop a
 * channel along some segments, and rounding makes neighbouring colours swap brightness).
 */
const STOPS: readonly [number, number, number][] = [
  [0, 0, 4],
  [28, 16, 68],
  [79, 18, 123],
  [129, 37, 129],
  [181, 54, 129],
  [229, 80, 129],
  [251, 135, 129],
  [254, 194, 150],
  [255, 253, 191],
];

/** Colour of t ∈ [0, 1] (clamped; NaN → 0) as #rrggbb, linear between the stops: brighter = larger. */
export function colourOf(t: number): string {
  const x = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const f = x * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(f));
  const u = f - i;
  const hex = (k: number) =>
    Math.round(STOPS[i][k] + u * (STOPS[i + 1][k] - STOPS[i][k]))
      .toString(16)
      .padStart(2, '0');
  return `#${hex(0)}${hex(1)}${hex(2)}`;
}

/** Each row scaled to sum to `heads` (a row of zeros → all 1: the same convention as combineHess). */
function shares(m: readonly (readonly number[])[], heads: number): number[][] {
  return m.map((row) => {
    const s = row.reduce((a, b) => a + b, 0);
    return s > 0 ? row.map((x) => (x / s) * heads) : row.map(() => 1);
  });
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** A number for an attribute or label: 4 significant digits, no exponent surprises in attributes. */
const num = (v: number) => Number(v.toPrecision(4)).toString();

/**
 * The per-panel values the heat map draws: `[layer][head]` shares × heads (see the file comment).
 *
 * @example heatmapValues(hess).camera[3][1] // head 1's share of layer 3's camera trace, × heads
 */
export function heatmapValues(hess: HessFile, lambda?: number): Record<HeatmapPanel, number[][]> {
  const combined = lambda === undefined ? hess.scores : combineHess(hess.terms.camera, hess.terms.pointCloud, lambda);
  return {
    camera: shares(hess.terms.camera, hess.heads),
    pointCloud: shares(hess.terms.pointCloud, hess.heads),
    combined: shares(combined, hess.heads),
  };
}

/** Tick values of the colour bar: powers of 10 and 2×, 5× between (log), or ~5 even steps (linear). */
function colourTicks(lo: number, hi: number, log: boolean): number[] {
  if (!log) {
    const step = (hi - lo) / 4;
    return [0, 1, 2, 3, 4].map((i) => lo + i * step);
  }
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out.length >= 2 ? out : [lo, ...out, hi]; // within one decade: the ends too
}

/**
 * Render a HeSS file as an SVG heat map: three panels (camera term, point-cloud term, combined score), rows =
 * global layers, columns = heads, one `<rect class="cell">` per (panel, layer, head) carrying `data-panel`,
 * `data-layer`, `data-head` and `data-value` and a hover `<title>`, plus a colour bar. One colour scale spans all
 * three panels so that they compare directly.
 *
 * @example
 * import { writeFile } from 'node:fs/promises';
 * await writeFile('hess.svg', renderHessHeatmap(parseHessFile(text), { scale: 'log' }));
 */
export function renderHessHeatmap(hess: HessFile, opts: HeatmapOptions = {}): string {
  const log = (opts.scale ?? 'log') === 'log';
  const L = hess.layers;
  const Hn = hess.heads;
  const lambda = opts.lambda ?? hess.lambda;
  const vals = heatmapValues(hess, opts.lambda);
  const all = HEATMAP_PANELS.flatMap((p) => vals[p].flat());
  const positive = all.filter((v) => v > 0);
  let hi = Math.max(...all);
  // Log scale: zeros (a head with no gradient at all) are clamped to the floor and drawn darkest.
  let lo = log ? Math.max(Math.min(...positive, hi), hi * 1e-4) : Math.min(...all);
  if (!(hi > lo)) {
    // all equal: widen so that the scale is defined (everything maps to the middle)
    lo = log ? (hi > 0 ? hi / 2 : 0.5) : hi - 0.5;
    hi = log ? (hi > 0 ? hi * 2 : 2) : hi + 0.5;
  }
  const pos = (v: number) =>
    log ? (Math.log(Math.max(v, lo)) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) : (v - lo) / (hi - lo);

  const cw = opts.cellWidth ?? Math.min(40, Math.max(12, Math.round(300 / Hn)));
  const ch = opts.cellHeight ?? Math.min(20, Math.max(10, Math.round(480 / L)));
  const fs = Math.min(11, ch); // label font size
  const M = { l: 60, t: 64, gap: 28, r: 110, b: 46 };
  const pw = Hn * cw;
  const ph = L * ch;
  const W = M.l + 3 * pw + 2 * M.gap + M.r;
  const Ht = M.t + ph + M.b;
  const labelEvery = (size: number) => Math.max(1, Math.ceil(fs / size)); // skip labels that would overlap
  const layerStep = labelEvery(ch);
  const headStep = labelEvery(cw * 0.9);
  const title = opts.title ?? `HeSS scores · ${hess.modelId} · ${hess.calibration.scenes} calibration scene(s)`;
  const names: Record<HeatmapPanel, string> = {
    camera: 'camera term',
    pointCloud: 'point-cloud term',
    combined: `combined, λ = ${num(lambda)}`,
  };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Ht}" viewBox="0 0 ${W} ${Ht}" font-family="Helvetica, Arial, sans-serif" font-size="${fs}">`,
    `<rect width="${W}" height="${Ht}" fill="white"/>`,
    `<text x="${M.l}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${M.l}" y="38" font-size="11" fill="#444">share of its layer × ${Hn} heads (1 = uniform); ${log ? 'log' : 'linear'} colour scale; rows: global layers, columns: heads</text>`,
  ];
  HEATMAP_PANELS.forEach((p, k) => {
    const ox = M.l + k * (pw + M.gap);
    out.push(
      `<g class="panel" data-panel="${p}">`,
      `<text x="${ox + pw / 2}" y="${M.t - 8}" text-anchor="middle" font-size="12" font-weight="bold">${esc(names[p])}</text>`,
    );
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < Hn; h++) {
        const v = vals[p][l][h];
        out.push(
          `<rect class="cell" x="${ox + h * cw}" y="${M.t + l * ch}" width="${cw}" height="${ch}" fill="${colourOf(pos(v))}" ` +
            `data-panel="${p}" data-layer="${l}" data-head="${h}" data-value="${num(v)}"><title>${esc(names[p])}: layer ${l}, head ${h}: ${num(v)}</title></rect>`,
        );
      }
    }
    out.push(`<rect x="${ox}" y="${M.t}" width="${pw}" height="${ph}" fill="none" stroke="#333" stroke-width="0.5"/>`);
    for (let h = 0; h < Hn; h += headStep) {
      out.push(`<text x="${ox + (h + 0.5) * cw}" y="${M.t + ph + fs + 3}" text-anchor="middle">${h}</text>`);
    }
    out.push(`<text x="${ox + pw / 2}" y="${M.t + ph + fs + 20}" text-anchor="middle">head</text>`);
    if (k === 0) {
      for (let l = 0; l < L; l += layerStep) {
        out.push(`<text x="${ox - 5}" y="${M.t + (l + 0.5) * ch + fs * 0.35}" text-anchor="end">${l}</text>`);
      }
      out.push(
        `<text transform="translate(${ox - 38} ${M.t + ph / 2}) rotate(-90)" text-anchor="middle">global layer</text>`,
      );
    }
    out.push('</g>');
  });
  // Colour bar: 64 slices bottom (low) to top (high), ticks at the scale's values.
  const bx = M.l + 3 * pw + 2 * M.gap + 16;
  const slices = 64;
  out.push(`<g class="legend">`);
  for (let i = 0; i < slices; i++) {
    const t = (i + 0.5) / slices;
    out.push(
      `<rect x="${bx}" y="${(M.t + ph - ((i + 1) / slices) * ph).toFixed(2)}" width="16" height="${(ph / slices + 0.5).toFixed(2)}" fill="${colourOf(t)}"/>`,
    );
  }
  out.push(`<rect x="${bx}" y="${M.t}" width="16" height="${ph}" fill="none" stroke="#333" stroke-width="0.5"/>`);
  for (const t of colourTicks(lo, hi, log)) {
    const y = M.t + ph - pos(t) * ph;
    out.push(
      `<line x1="${bx + 16}" y1="${y.toFixed(2)}" x2="${bx + 21}" y2="${y.toFixed(2)}" stroke="#333"/>`,
      `<text x="${bx + 24}" y="${(y + 4).toFixed(2)}">${num(t)}</text>`,
    );
  }
  out.push(`<text x="${bx}" y="${M.t - 8}" font-size="11">share × ${Hn}</text>`, '</g>', '</svg>');
  return out.join('\n');
}
