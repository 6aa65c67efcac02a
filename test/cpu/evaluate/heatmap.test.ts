import { describe, expect, it } from 'vitest';
import { combineHess, parseHessFile, type HessFile } from '../../../src/hess/hess-file.js';
import { HEATMAP_PANELS, heatmapValues, renderHessHeatmap, colourOf } from '../../../src/evaluate/heatmap.js';
import { freshSeed, rng } from '../../helpers/random.js';

/** A random HeSS file: raw traces spanning several decades (per layer and per head), combined as calibrate does. */
function randomHess(rand: () => number, layers: number, heads: number): HessFile {
  const traces = () =>
    Array.from({ length: layers }, () => {
      const layerScale = 10 ** (6 * rand() - 3);
      return Array.from({ length: heads }, () => layerScale * 10 ** (2 * rand()));
    });
  const camera = traces();
  const pointCloud = traces();
  const lambda = rand();
  return parseHessFile({
    format: 'hess-scores',
    version: 1,
    modelId: 'test/<&"model">',
    layers,
    heads,
    lambda,
    terms: { camera, pointCloud },
    scores: combineHess(camera, pointCloud, lambda),
    calibration: { description: 'random', scenes: 3 },
  });
}

/**
 * Minimal XML well-formedness check (what an SVG viewer needs): balanced, properly nested tags, quoted attributes
 * without raw '<' or '&', no stray '<' or unescaped '&' in text. Returns the elements as {name, attrs}.
 */
function parseXml(xml: string): { name: string; attrs: Record<string, string> }[] {
  const els: { name: string; attrs: Record<string, string> }[] = [];
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  const entity = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;
  let i = 0;
  while (i < xml.length) {
    const c = xml[i];
    if (c === '<') {
      tag.lastIndex = i;
      const m = tag.exec(xml);
      if (!m) throw new Error(`malformed tag at ${i}: ${xml.slice(i, i + 60)}`);
      const [all, close, name, attrText, selfClose] = m;
      if (close) {
        if (stack.pop() !== name) throw new Error(`mismatched </${name}> at ${i}`);
      } else {
        const attrs: Record<string, string> = {};
        for (const a of attrText.matchAll(/([\w:-]+)="([^"]*)"/g)) {
          if (a[1] in attrs) throw new Error(`duplicate attribute ${a[1]} at ${i}`);
          entity.lastIndex = 0;
          for (let k = a[2].indexOf('&'); k >= 0; k = a[2].indexOf('&', k + 1)) {
            entity.lastIndex = k;
            if (!entity.test(a[2])) throw new Error(`raw & in attribute ${a[1]} at ${i}`);
          }
          attrs[a[1]] = a[2];
        }
        els.push({ name, attrs });
        if (!selfClose) stack.push(name);
      }
      i += all.length;
    } else if (c === '&') {
      entity.lastIndex = i;
      if (!entity.test(xml)) throw new Error(`raw & in text at ${i}`);
      i++;
    } else {
      if (c === '>') throw new Error(`stray > at ${i}`);
      i++;
    }
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  return els;
}

/** WCAG relative luminance of #rrggbb. */
function luminance(hex: string): number {
  const lin = (k: number) => {
    const c = parseInt(hex.slice(1 + 2 * k, 3 + 2 * k), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(0) + 0.7152 * lin(1) + 0.0722 * lin(2);
}

describe('HeSS heat map (SVG)', () => {
  it('the colour map is monotone: luminance never decreases along [0, 1] (8-bit rounding included)', () => {
    let prev = -1;
    for (let i = 0; i <= 1000; i++) {
      const c = colourOf(i / 1000);
      expect(c).toMatch(/^#[0-9a-f]{6}$/);
      const y = luminance(c);
      expect(y).toBeGreaterThanOrEqual(prev); // equal only where two steps round to the same 8-bit colour
      prev = y;
    }
    expect(luminance(colourOf(1))).toBeGreaterThan(10 * luminance(colourOf(0)));
    expect(colourOf(Number.NaN)).toBe(colourOf(0));
  });

  for (const scale of ['log', 'linear'] as const) {
    it(`${scale} scale: well-formed SVG, one cell per layer × head per panel, values and colours follow the scores`, () => {
      const rand = rng(freshSeed(`heatmap ${scale}`));
      for (let trial = 0; trial < 4; trial++) {
        const layers = 1 + Math.floor(rand() * 30);
        const heads = 1 + Math.floor(rand() * 20);
        const hess = randomHess(rand, layers, heads);
        const svg = renderHessHeatmap(hess, { scale });
        expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
        expect(svg).not.toMatch(/NaN|Infinity|undefined/);
        const els = parseXml(svg);
        expect(els[0].name).toBe('svg');
        for (const e of els) {
          for (const k of ['x', 'y', 'width', 'height', 'x1', 'y1', 'x2', 'y2']) {
            if (k in e.attrs) expect(Number.isFinite(Number(e.attrs[k])), `${e.name} ${k}=${e.attrs[k]}`).toBe(true);
          }
        }
        const cells = els.filter((e) => e.name === 'rect' && e.attrs.class === 'cell');
        expect(cells).toHaveLength(3 * layers * heads);
        const expected = heatmapValues(hess);
        for (const p of HEATMAP_PANELS) {
          const mine = cells.filter((c) => c.attrs['data-panel'] === p);
          expect(mine).toHaveLength(layers * heads);
          const seen = new Set(mine.map((c) => `${c.attrs['data-layer']}/${c.attrs['data-head']}`));
          expect(seen.size).toBe(layers * heads);
          let worst = 0;
          for (const c of mine) {
            const v = Number(c.attrs['data-value']);
            const want = expected[p][Number(c.attrs['data-layer'])][Number(c.attrs['data-head'])];
            worst = Math.max(worst, Math.abs(v - want) / want);
          }
          expect(worst).toBeLessThan(1e-3); // 4 significant digits
        }
        // Shares × heads: each layer's row of each panel sums to the number of heads; combined = the file's scores.
        for (const p of HEATMAP_PANELS) {
          for (const row of expected[p])
            expect(Math.abs(row.reduce((a, b) => a + b, 0) - heads)).toBeLessThan(1e-9 * heads);
        }
        expected.combined.forEach((row, l) =>
          row.forEach((v, h) => expect(Math.abs(v - hess.scores[l][h] * heads)).toBeLessThan(1e-12 * heads)),
        );
        // One colour scale over all panels: sorting cells by value sorts their colours by luminance.
        const byValue = cells
          .map((c) => ({ v: Number(c.attrs['data-value']), y: luminance(c.attrs.fill) }))
          .sort((a, b) => a.v - b.v);
        const inversions = byValue.filter((c, i) => i > 0 && c.v > byValue[i - 1].v && c.y < byValue[i - 1].y);
        expect(inversions).toEqual([]);
        // The extremes span the scale: the largest cell is the brightest colour, the smallest the darkest (when the
        // values differ at all: one head per layer makes every share 1).
        if (byValue[0].v < byValue[byValue.length - 1].v) {
          expect(byValue[byValue.length - 1].y).toBeCloseTo(luminance(colourOf(1)), 6);
          expect(byValue[0].y).toBeCloseTo(luminance(colourOf(0)), 6);
        }
        // Labels: the title escapes the model id; a legend with at least two ticks.
        expect(svg).toContain('test/&lt;&amp;&quot;model&quot;&gt;');
        expect(svg).toContain(`${scale} colour scale`);
        expect(els.filter((e) => e.name === 'line').length).toBeGreaterThanOrEqual(2);
      }
    });
  }

  it('lambda re-combines the terms: λ = 1 draws the camera shares, λ = 0 the point-cloud shares in the combined panel', () => {
    const rand = rng(freshSeed('heatmap lambda'));
    const hess = randomHess(rand, 6, 5);
    for (const lambda of [0, 1]) {
      const v = heatmapValues(hess, lambda);
      const src = lambda === 1 ? v.camera : v.pointCloud;
      v.combined.forEach((row, l) => row.forEach((x, h) => expect(Math.abs(x - src[l][h])).toBeLessThan(1e-12)));
      expect(renderHessHeatmap(hess, { lambda })).toContain(`combined, λ = ${lambda}`);
    }
  });

  it('degenerate files render: all-equal scores, a head with a zero trace (log scale clamps it to the floor)', () => {
    const flat = parseHessFile({
      format: 'hess-scores',
      version: 1,
      modelId: 'flat',
      layers: 2,
      heads: 3,
      lambda: 0.5,
      terms: {
        camera: [
          [1, 1, 1],
          [2, 2, 2],
        ],
        pointCloud: [
          [0, 0, 0],
          [5, 5, 5],
        ],
      },
      scores: [
        [1 / 3, 1 / 3, 1 / 3],
        [1 / 3, 1 / 3, 1 / 3],
      ],
      calibration: { description: '', scenes: 1 },
    });
    for (const scale of ['log', 'linear'] as const) {
      const svg = renderHessHeatmap(flat, { scale });
      expect(svg).not.toMatch(/NaN|Infinity/);
      const cells = parseXml(svg).filter((e) => e.name === 'rect' && e.attrs.class === 'cell');
      expect(cells).toHaveLength(18);
      expect(new Set(cells.map((c) => c.attrs.fill)).size).toBe(1);
    }
    const zero = parseHessFile({
      format: 'hess-scores',
      version: 1,
      modelId: 'zero',
      layers: 1,
      heads: 3,
      lambda: 0.5,
      terms: { camera: [[0, 1, 3]], pointCloud: [[1, 1, 2]] },
      scores: combineHess([[0, 1, 3]], [[1, 1, 2]], 0.5),
      calibration: { description: '', scenes: 1 },
    });
    const svg = renderHessHeatmap(zero);
    expect(svg).not.toMatch(/NaN|Infinity/);
    const zeroCell = parseXml(svg).find((e) => e.attrs['data-panel'] === 'camera' && e.attrs['data-head'] === '0');
    expect(zeroCell!.attrs['data-value']).toBe('0');
    expect(zeroCell!.attrs.fill).toBe(colourOf(0));
  });
});
