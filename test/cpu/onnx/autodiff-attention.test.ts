// Composite check for the HeSS use case: ∂loss/∂(query rows of one head of qkv.weight) through a small attention
// block (LayerNorm → Linear → split q/k/v → per-head LayerNorm → softmax attention → Linear → residual).
import { describe, expect, it } from 'vitest';
import { buildGradientGraph } from '../../../src/onnx/autodiff.js';
import { freshSeed, randomF32, relError, rng } from '../../helpers/random.js';
import { attentionGraph } from './attention-graph.js';
import { fdGrad, runOrt } from './grad-harness.js';
import { evaluate, type T } from './ref-eval.js';

describe('buildGradientGraph: attention block', () => {
  it("gradient w.r.t. one head's query rows of qkv.weight matches float64 finite differences", async () => {
    const rand = rng(freshSeed('autodiff-attention'));
    const { g, loss, dims, D, C } = attentionGraph(rand);
    const [B, S] = dims;
    const gg = buildGradientGraph(g, { loss, wrt: ['qkv.weight', 'x'] });
    const xs = randomF32(B * S * C, rand, -1, 1);
    const feeds = { x: { dims: [B, S, C], data: Float64Array.from(xs) } };
    const out = await runOrt(gg, { x: xs }, { x: [B, S, C] });
    const ref = evaluate(gg, feeds);

    const head = 1; // query rows of head h are rows [h·D, (h+1)·D) of qkv.weight (q block first)
    const rows = Array.from({ length: D * C }, (_, i) => head * D * C + i);
    const base = evaluate(g, feeds).get('qkv.weight') as T;
    const fd = fdGrad(g, feeds, loss, 'qkv.weight', base, rows);
    const g32 = rows.map((i) => out['grad_qkv.weight'][i]);
    const g64 = rows.map((i) => (ref.get('grad_qkv.weight') as T).data[i]);
    expect(Math.max(...Array.from(fd, Math.abs))).toBeGreaterThan(1e-6);
    expect(relError(g64, fd)).toBeLessThan(1e-6);
    expect(relError(g32, fd)).toBeLessThan(1e-3);
    // spot-check the input gradient too (the residual path and the attention path add up)
    const fdx = fdGrad(g, feeds, loss, 'x', feeds.x, [0, 7, 20, 47]);
    expect(
      relError(
        [0, 7, 20, 47].map((i) => out.grad_x[i]),
        fdx,
      ),
    ).toBeLessThan(1e-3);
  });
});
