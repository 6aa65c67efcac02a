import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allocateProportional, allocateReference, uniformBudget } from '../../../src/allocate/index.js';
import { HessError } from '../../../src/errors.js';
import {
  layerSparsity,
  summarize,
  withLambda,
  type EvalPolicy,
  type EvalReport,
  type EvalRow,
} from '../../../src/evaluate/harness.js';
import { HEATMAP_FILE, niceTicks, renderMarkdown, renderSvg, writeReport } from '../../../src/evaluate/report.js';
import { maskLayout } from '../../../src/mask/layout.js';
import { plantedHess } from '../../../bench/planted-hess.js';
import { freshSeed, rng } from '../../helpers/random.js';

function row(rand: () => number, scene: string, policy: EvalPolicy, sparsity: number, depth: boolean): EvalRow {
  return {
    scene,
    policy,
    sparsity,
    achievedSparsity: policy === 'dense' ? 0 : sparsity * (0.9 + 0.1 * rand()),
    frames: 3,
    auc30: rand(),
    rra15: rand(),
    rta15: rand(),
    meanRRA: 10 * rand(),
    meanRTA: 10 * rand(),
    accuracy: rand(),
    completeness: rand(),
    chamfer: rand(),
    f1: rand(),
    threshold: 0.01,
    depthAbsRel: depth ? rand() : null,
    alignScale: 1,
    alignment: 'umeyama',
    ms: 100 * rand(),
  };
}

function report(rand: () => number): EvalReport {
  const rows: EvalRow[] = [];
  for (const scene of ['a', 'b', 'c']) {
    rows.push(row(rand, scene, 'dense', 0, scene !== 'c'));
    for (const p of ['uniform', 'hess'] as const)
      for (const s of [0.43, 0.73, 0.9]) rows.push(row(rand, scene, p, s, scene !== 'c'));
  }
  return {
    format: 'hess-vggt-eval',
    version: 1,
    createdAt: '2026-01-01T00:00:00Z',
    model: { embedDim: 64, depth: 24, heads: 4, ep: 'webgpu' },
    options: {
      policies: ['dense', 'uniform', 'hess'],
      sparsities: [0.43, 0.73, 0.9],
      mode: 'crop',
      targetSize: 518,
      hess: 'test',
    },
    rows,
    summary: summarize(rows),
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
    for (const s of [
      'target sparsity ρ',
      'Camera AUC@30',
      'Chamfer distance',
      'dense (reference)',
      '>uniform<',
      '>hess<',
      '>0<',
    ])
      expect(svg).toContain(s);
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
    const tableRows = md
      .split('\n')
      .filter(
        (l) => l.startsWith('| ') && !l.startsWith('| ---') && !l.startsWith('| policy') && !l.startsWith('| scene'),
      );
    expect(tableRows).toHaveLength(r.summary.length + r.rows.length);
    expect(md).toContain('| hess | 0.73 |');
    expect(md).toContain('| c | uniform | 0.90 |');
    expect(md).toMatch(/\| – \| \d+ \|$/m); // missing AbsRel shown as a dash
  });
});

describe('eval ablations: λ, allocation, per-layer sparsity', () => {
  it('allocateProportional: round(C·w) clamped, no redistribution; equals water-filling ±1 when nothing is clamped', () => {
    const rand = rng(freshSeed('proportional allocation'));
    for (let trial = 0; trial < 200; trial++) {
      const heads = 1 + Math.floor(rand() * 16);
      const K = 2 + Math.floor(rand() * 60);
      const sparsity = rand() * 0.95;
      const raw = Array.from({ length: heads }, () => 10 ** (2 * rand()));
      const s = raw.reduce((a, b) => a + b, 0);
      const w = raw.map((x) => x / s);
      const prop = allocateProportional(w, heads, { keyBlocks: K, sparsity });
      const water = allocateReference(w, heads, { keyBlocks: K, sparsity });
      const total = uniformBudget(K, sparsity) * heads;
      const floor = Math.min(2, K);
      const ideal = w.map((x) => total * x);
      for (let h = 0; h < heads; h++) {
        expect(prop[h]).toBeGreaterThanOrEqual(floor);
        expect(prop[h]).toBeLessThanOrEqual(K);
        expect(Math.abs(prop[h] - Math.min(K, Math.max(floor, ideal[h])))).toBeLessThanOrEqual(0.5);
        for (let g = 0; g < heads; g++) if (w[h] > w[g]) expect(prop[h]).toBeGreaterThanOrEqual(prop[g]);
      }
      const clamped = ideal.some((x) => x > K || x < floor);
      const sumP = prop.reduce((a, b) => a + b, 0);
      if (!clamped) {
        for (let h = 0; h < heads; h++) expect(Math.abs(prop[h] - water[h])).toBeLessThanOrEqual(1);
        expect(Math.abs(sumP - total)).toBeLessThanOrEqual(heads / 2);
      } else if (ideal.every((x) => x >= floor)) {
        expect(sumP).toBeLessThan(total + heads / 2); // what the cap cut off is not handed on
        expect(water.reduce((a, b) => a + b, 0)).toBe(total);
      }
    }
  });

  it('withLambda re-combines the terms: λ = 1 → camera shares, 0 → point shares; out-of-range λ is a typed error', () => {
    const rand = rng(freshSeed('withLambda'));
    const cam = [
      [rand(), rand(), rand()],
      [rand(), rand(), rand()],
    ];
    const pc = [
      [rand(), rand(), rand()],
      [rand(), rand(), rand()],
    ];
    const hess = plantedHess(cam.map((r, l) => r.map((x, h) => x + pc[l][h])));
    hess.terms = { camera: cam, pointCloud: pc };
    for (const [lambda, src] of [
      [1, cam],
      [0, pc],
    ] as const) {
      const out = withLambda(hess, lambda);
      expect(out.lambda).toBe(lambda);
      out.scores.forEach((row, l) => {
        const s = src[l].reduce((a, b) => a + b, 0);
        row.forEach((x, h) => expect(Math.abs(x - src[l][h] / s)).toBeLessThan(1e-12));
      });
    }
    const half = withLambda(hess, 0.5).scores;
    half.forEach((row) => expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12));
    expect(() => withLambda(hess, 1.5)).toThrow(HessError);
  });

  it('layerSparsity: budget and achieved fractions per layer from the attention stats', () => {
    const rand = rng(freshSeed('layer sparsity'));
    const [S, P, heads, qb, kb] = [3, 40, 4, 16, 8];
    const L = maskLayout(S, P, qb, kb);
    const budgets = Array.from({ length: 5 }, () =>
      Array.from({ length: heads }, () => Math.floor(rand() * (L.candidateKeyBlocks + 1))),
    );
    const blocks = Array.from({ length: 5 }, () => Math.floor(rand() * heads * L.numQueryBlocks * L.numKeyBlocks));
    const ls = layerSparsity({ budgets, blocksPerLayer: blocks }, heads, S, P, qb, kb);
    budgets.forEach((b, l) => {
      expect(ls.budget[l]).toBeCloseTo(1 - b.reduce((a, x) => a + x, 0) / (heads * L.candidateKeyBlocks), 12);
      expect(ls.achieved[l]).toBeCloseTo(1 - blocks[l] / (heads * L.numQueryBlocks * L.numKeyBlocks), 12);
    });
    const full = layerSparsity(
      {
        budgets: [Array(heads).fill(L.candidateKeyBlocks)],
        blocksPerLayer: [heads * L.numQueryBlocks * L.numKeyBlocks],
      },
      heads,
      S,
      P,
      qb,
      kb,
    );
    expect(full).toEqual({ budget: [0], achieved: [0] });
  });

  it('summary and Markdown of an ablation run: one row per (policy, ρ, λ, allocation), λ/alloc columns, per-layer table, heat map', async () => {
    const rand = rng(freshSeed('ablation report'));
    const rows: EvalRow[] = [];
    const layersOf = () => ({ budget: [rand(), rand(), rand()], achieved: [rand(), rand(), rand()] });
    for (const scene of ['a', 'b']) {
      rows.push(row(rand, scene, 'dense', 0, true));
      rows.push({
        ...row(rand, scene, 'uniform', 0.5, true),
        lambda: null,
        allocation: 'waterfill',
        layers: layersOf(),
      });
      for (const lambda of [1, 0, 0.5]) {
        for (const allocation of ['waterfill', 'proportional'] as const)
          rows.push({ ...row(rand, scene, 'hess', 0.5, true), lambda, allocation, layers: layersOf() });
      }
    }
    const summary = summarize(rows);
    expect(summary).toHaveLength(1 + 1 + 6);
    const h = summary.find((s) => s.policy === 'hess' && s.lambda === 0 && s.allocation === 'proportional')!;
    const g = rows.filter((r) => r.policy === 'hess' && r.lambda === 0 && r.allocation === 'proportional');
    expect(h.scenes).toBe(2);
    expect(h.layers!.achieved[1]).toBeCloseTo((g[0].layers!.achieved[1] + g[1].layers!.achieved[1]) / 2, 12);
    expect(summary.find((s) => s.policy === 'dense')!.layers).toBeUndefined();
    const cam = [
      [1, 2, 3, 4],
      [4, 3, 2, 1],
      [1, 1, 1, 5],
    ];
    const hessFile = plantedHess(cam);
    const report: EvalReport = {
      format: 'hess-vggt-eval',
      version: 1,
      createdAt: '2026-01-01T00:00:00Z',
      model: { embedDim: 64, depth: 3, heads: 4, ep: 'webgpu' },
      options: {
        policies: ['dense', 'uniform', 'hess'],
        sparsities: [0.5],
        mode: 'crop',
        targetSize: 98,
        hess: 'test',
        lambdas: [1, 0, 0.5],
        allocations: ['waterfill', 'proportional'],
      },
      rows,
      summary,
      hessFile,
    };
    const md = renderMarkdown(report);
    expect(md).toContain('| policy | target ρ | λ | alloc | achieved ρ |');
    expect(md).toContain('| hess | 0.50 | 0.00 | proportional |');
    expect(md).toContain('| uniform | 0.50 | – | waterfill |');
    expect(md).toContain('## Requested vs achieved sparsity per global layer');
    expect(md).toContain('| layer | uniform ρ=0.5 | hess ρ=0.5 λ=1 | hess ρ=0.5 λ=1 proportional |');
    expect(md.split('\n').filter((l) => /^\| [012] \| /.test(l))).toHaveLength(3);
    expect(md).toContain(`![HeSS heat map: layers × heads, camera / point-cloud / combined](${HEATMAP_FILE})`);
    const svg = renderSvg(report);
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(svg).toContain('>hess λ=0 proportional<');
    // Outside an ablation run, hess rows (the file's λ, water-filling) keep the plain policy label.
    const plainRows = rows.filter((r) => r.policy !== 'hess' || (r.lambda === 0.5 && r.allocation === 'waterfill'));
    const plainSvg = renderSvg({
      ...report,
      options: { ...report.options, lambdas: undefined, allocations: undefined },
      rows: plainRows,
      summary: summarize(plainRows),
    });
    expect(plainSvg).toContain('>hess<');
    expect(plainSvg.split('<polyline').length - 1).toBe(0); // one sparsity: points, no lines
    const dir = await mkdtemp(join(tmpdir(), 'hess-report-'));
    try {
      const files = await writeReport(report, dir);
      expect(files.heatmap).toBe(`${dir}/${HEATMAP_FILE}`);
      const heat = await readFile(files.heatmap!, 'utf8');
      expect(heat.split('class="cell"').length - 1).toBe(3 * 3 * 4);
      // A report without a HeSS file writes no heat map and does not link one.
      const plain = await writeReport({ ...report, hessFile: null }, join(dir, 'plain'));
      expect(plain.heatmap).toBeUndefined();
      expect(await readFile(plain.md, 'utf8')).not.toContain(HEATMAP_FILE);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
