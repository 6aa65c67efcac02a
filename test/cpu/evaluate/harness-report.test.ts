import { describe, expect, it } from 'vitest';
import { summarize, type EvalPolicy, type EvalReport, type EvalRow } from '../../../src/evaluate/harness';
import { niceTicks, renderMarkdown, renderSvg } from '../../../src/evaluate/report';
import { freshSeed, rng } from '../../helpers/random';

function row(rand: () => number, scene: string, policy: EvalPolicy, sparsity: number, depth: boolean): EvalRow {
  return {
    scene, policy, sparsity, achievedSparsity: policy === 'dense' ? 0 : sparsity * (0.9 + 0.1 * rand()), frames: 3,
    auc30: rand(), rra15: rand(), rta15: rand(), meanRRA: 10 * rand(), meanRTA: 10 * rand(),
    accuracy: rand(), completeness: rand(), chamfer: rand(), f1: rand(), threshold: 0.01,
    depthAbsRel: depth ? rand() : null, alignScale: 1, alignment: 'umeyama', ms: 100 * rand(),
  };
}

function report(rand: () => number): EvalReport {
  const rows: EvalRow[] = [];
  for (const scene of ['a', 'b', 'c']) {
    rows.push(row(rand, scene, 'dense', 0, scene !== 'c'));
    for (const p of ['uniform', 'hess'] as const) for (const s of [0.43, 0.73, 0.9]) rows.push(row(rand, scene, p, s, scene !== 'c'));
  }
  return {
    format: 'hess-vggt-eval', version: 1, createdAt: '2026-01-01T00:00:00Z', model: { embedDim: 64, depth: 24, heads: 4, ep: 'webgpu' },
    options: { policies: ['dense', 'uniform', 'hess'], sparsities: [0.43, 0.73, 0.9], mode: 'crop', targetSize: 518, hess: 'test' },
    rows, summary: summarize(rows),
  };
}

describe('eval report rendering', () => {
  it('summarize: per (policy, sparsity) means over scenes, skipping missing metrics', () => {
    const rand = rng(freshSeed('report summarize'));
    const r = report(rand);
    expect(r.summary).toHaveLength(7);
    for (const s of r.summary) {
      const g = r.rows.filter((x) => x.policy === s.policy && x.sparsity === s.sparsity);
      expect(s.scenes).toBe(3);
      expect(s.chamfer).toBeCloseTo(g.reduce((a, x) => a + x.chamfer!, 0) / 3, 12);
      // scene c has no GT depth: the mean is over a and b only
      expect(s.depthAbsRel).toBeCloseTo((g[0].depthAbsRel! + g[1].depthAbsRel!) / 2, 12);
    }
  });

  it('niceTicks covers the range with evenly spaced round steps', () => {
    const rand = rng(freshSeed('nice ticks'));
    for (let i = 0; i < 200; i++) {
      const lo = (rand() - 0.5) * 10 ** (4 * rand() - 2);
      const hi = lo + 10 ** (4 * rand() - 3);
      const t = niceTicks(lo, hi);
      expect(t[0]).toBeLessThanOrEqual(lo);
      expect(t[t.length - 1]).toBeGreaterThanOrEqual(hi);
      expect(t.length).toBeGreaterThanOrEqual(2);
      expect(t.length).toBeLessThanOrEqual(12);
      const step = t[1] - t[0];
      const mant = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
      expect([1, 2, 2.5, 5, 10].some((m) => Math.abs(m - mant) < 1e-6)).toBe(true);
    }
    expect(niceTicks(3, 3).length).toBeGreaterThanOrEqual(2); // a constant metric still gets an axis
  });

  it('the SVG has one panel per available metric, a line per sparse policy, a dashed dense line and a legend', () => {
    const r = report(rng(freshSeed('report svg')));
    const svg = renderSvg(r);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.split('<g>').length - 1).toBe(4); // AUC, Chamfer, F1, AbsRel
    expect(svg.split('<polyline').length - 1).toBe(8); // 2 policies × 4 panels
    expect(svg.split('stroke-dasharray').length - 1).toBe(5); // 4 dense reference lines + the legend's
    expect(svg.split('<circle').length - 1).toBe(24); // 2 policies × 3 sparsities × 4 panels
    for (const s of ['target sparsity ρ', 'Camera AUC@30', 'Chamfer distance', 'dense (reference)', '>uniform<', '>hess<', '>0<']) expect(svg).toContain(s);
    // every coordinate is a finite number
    expect(svg).not.toMatch(/NaN|Infinity/);
    // without depth GT anywhere, the AbsRel panel is dropped
    const noDepth = report(rng(1));
    noDepth.rows.forEach((x) => (x.depthAbsRel = null));
    noDepth.summary = summarize(noDepth.rows);
    expect(renderSvg(noDepth).split('<g>').length - 1).toBe(3);
  });

  it('the Markdown has a summary table and a per-scene table', () => {
    const r = report(rng(freshSeed('report md')));
    const md = renderMarkdown(r);
    const tableRows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---') && !l.startsWith('| policy') && !l.startsWith('| scene'));
    expect(tableRows).toHaveLength(r.summary.length + r.rows.length);
    expect(md).toContain('| hess | 0.73 |');
    expect(md).toContain('| c | uniform | 0.90 |');
    expect(md).toMatch(/\| – \| \d+ \|$/m); // missing AbsRel shown as a dash
  });
});
