// The small attention block of the composite gradient test (LayerNorm → Linear → split q/k/v → per-head LayerNorm →
// softmax attention → Linear → residual → 0.5‖y − target‖²), weights as initializers with PyTorch names.
import { Graph, floatAttr, tensorInit } from '../../../src/onnx/builder.js';
import { randn } from '../../helpers/random.js';
import { op } from './grad-harness.js';

export function attentionGraph(
  rand: () => number,
  B = 1,
  S = 6,
  C = 8,
  H = 2,
): { g: Graph; loss: string; dims: number[]; D: number; C: number } {
  const D = C / H;
  const g = new Graph('attn');
  const x = g.input('x', 'float32', [B, S, C]);
  const w = (name: string, dims: number[], scale: number, shift = 0) => {
    const d = randn(
      dims.reduce((a, b) => a * b, 1),
      rand,
      scale,
    ).map((v) => v + shift);
    return g.constant(tensorInit(d, dims), name);
  };
  const lnW = w('norm1.weight', [C], 0.2, 1);
  const lnB = w('norm1.bias', [C], 0.1);
  const qkvW = w('qkv.weight', [3 * C, C], 0.5);
  const qkvB = w('qkv.bias', [3 * C], 0.1);
  const qnW = w('q_norm.weight', [D], 0.2, 1);
  const qnB = w('q_norm.bias', [D], 0.1);
  const knW = w('k_norm.weight', [D], 0.2, 1);
  const knB = w('k_norm.bias', [D], 0.1);
  const pW = w('proj.weight', [C, C], 0.4);
  const pB = w('proj.bias', [C], 0.1);
  const target = w('target', [B, S, C], 1);

  const eps = { epsilon: floatAttr(1e-6) };
  const xn = op(g, 'LayerNormalization', [x, lnW, lnB], { axis: -1, ...eps });
  const qkv = op(g, 'Add', [op(g, 'MatMul', [xn, op(g, 'Transpose', [qkvW], { perm: [1, 0] })]), qkvB]);
  const t = op(g, 'Transpose', [op(g, 'Reshape', [qkv, g.ints([B, S, 3, H, D])])], { perm: [2, 0, 3, 1, 4] }); // [3,B,H,S,D]
  const pick = (i: number) =>
    op(g, 'Gather', [t, g.constant(tensorInit(BigInt64Array.of(BigInt(i)), []))], { axis: 0 });
  const q = op(g, 'LayerNormalization', [pick(0), qnW, qnB], { axis: -1, ...eps });
  const k = op(g, 'LayerNormalization', [pick(1), knW, knB], { axis: -1, ...eps });
  const v = pick(2);
  const scores = op(g, 'MatMul', [
    op(g, 'Mul', [q, g.floats([1 / Math.sqrt(D)], [])]),
    op(g, 'Transpose', [k], { perm: [0, 1, 3, 2] }),
  ]);
  const o = op(g, 'MatMul', [op(g, 'Softmax', [scores], { axis: -1 }), v]); // [B,H,S,D]
  const merged = op(g, 'Reshape', [op(g, 'Transpose', [o], { perm: [0, 2, 1, 3] }), g.ints([B, S, C])]);
  const y = op(g, 'Add', [
    op(g, 'Add', [op(g, 'MatMul', [merged, op(g, 'Transpose', [pW], { perm: [1, 0] })]), pB]),
    x,
  ]);
  const diff = op(g, 'Sub', [y, target]);
  const loss = op(g, 'Mul', [op(g, 'ReduceSum', [op(g, 'Mul', [diff, diff])], { keepdims: 0 }), g.floats([0.5], [])]);
  g.output(loss, 'float32', []);

  return { g, loss, dims: [B, S, C], D, C };
}
