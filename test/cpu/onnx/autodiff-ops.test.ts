import { describe, it } from 'vitest';
import { floatAttr } from '../../../src/onnx/builder.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { checkGrad, op } from './grad-harness.js';

const rand = rng(freshSeed('autodiff-ops'));

describe('buildGradientGraph: per-op gradients vs float64 finite differences', () => {
  it('MatMul, batched with broadcasting', async () => {
    await checkGrad(
      'matmul',
      rand,
      [
        { name: 'a', dims: [2, 1, 3, 4] },
        { name: 'b', dims: [3, 4, 2], init: true },
      ],
      (g, v) => op(g, 'MatMul', [v.a, v.b]),
    );
  });

  it('MatMul with 1-D operands', async () => {
    await checkGrad(
      'matmul1d',
      rand,
      [
        { name: 'a', dims: [4] },
        { name: 'b', dims: [2, 4, 3] },
        { name: 'c', dims: [3] },
      ],
      (g, v) => op(g, 'MatMul', [op(g, 'MatMul', [v.a, v.b]), v.c]),
    );
  });

  it('Gemm with transA, transB, alpha, beta and a broadcast C', async () => {
    await checkGrad(
      'gemm',
      rand,
      [
        { name: 'a', dims: [4, 3] },
        { name: 'b', dims: [5, 4], init: true },
        { name: 'c', dims: [5] },
      ],
      (g, v) => op(g, 'Gemm', [v.a, v.b, v.c], { transA: 1, transB: 1, alpha: floatAttr(0.7), beta: floatAttr(1.5) }),
    );
  });

  it('Add, Sub, Mul, Div with broadcasting and fan-out', async () => {
    await checkGrad(
      'arith',
      rand,
      [
        { name: 'a', dims: [2, 3, 4] },
        { name: 'b', dims: [3, 1] },
        { name: 'd', dims: [4], lo: 1.5, hi: 2.5 }, // d + b ∈ [0.5, 3.5]: the divisor stays away from 0
      ],
      (g, v) => {
        const s = op(g, 'Sub', [op(g, 'Add', [v.a, v.b]), v.b]);
        const m = op(g, 'Mul', [s, v.a]);
        return op(g, 'Div', [m, op(g, 'Add', [v.d, v.b])]);
      },
    );
  });

  it('Neg, Exp, Log, Sqrt, Erf, Tanh, Sigmoid, Relu', async () => {
    await checkGrad(
      'unary',
      rand,
      [
        { name: 'x', dims: [3, 5], lo: 0.2, hi: 1.5 },
        { name: 'z', dims: [3, 5], lo: -2, hi: 2 },
      ],
      (g, v) => {
        const p = op(g, 'Add', [op(g, 'Log', [v.x]), op(g, 'Sqrt', [v.x])]);
        const q = op(g, 'Add', [op(g, 'Erf', [v.z]), op(g, 'Tanh', [op(g, 'Neg', [v.z])])]);
        const r = op(g, 'Mul', [op(g, 'Sigmoid', [v.z]), op(g, 'Exp', [op(g, 'Mul', [v.z, g.floats([0.5], [])])])]);
        return op(g, 'Add', [op(g, 'Add', [p, q]), op(g, 'Mul', [r, op(g, 'Relu', [v.z])])]);
      },
    );
  });

  it('Relu away from its kink', async () => {
    const data = Float32Array.from({ length: 12 }, (_, i) => (i % 2 ? 1 : -1) * (0.1 + rand()));
    await checkGrad('relu', rand, [{ name: 'x', dims: [3, 4], data }], (g, v) => op(g, 'Relu', [v.x]));
  });

  it('Pow with constant exponents and with a differentiable exponent', async () => {
    await checkGrad(
      'pow',
      rand,
      [
        { name: 'x', dims: [2, 3], lo: 0.3, hi: 2 },
        { name: 'p', dims: [3], lo: 0.5, hi: 2.5 },
      ],
      (g, v) => {
        const c = op(g, 'Add', [op(g, 'Pow', [v.x, g.floats([3], [])]), op(g, 'Pow', [v.x, g.floats([0.5], [])])]);
        return op(g, 'Add', [c, op(g, 'Pow', [v.x, v.p])]);
      },
    );
  });

  it('Softmax and LogSoftmax along an axis', async () => {
    await checkGrad('softmax', rand, [{ name: 'x', dims: [2, 3, 4], lo: -2, hi: 2 }], (g, v) =>
      op(g, 'Add', [op(g, 'Softmax', [v.x], { axis: 1 }), op(g, 'LogSoftmax', [v.x], { axis: -1 })]),
    );
  });

  it('ReduceSum (axes input, keepdims 0) and ReduceMean (axes attribute, keepdims 1)', async () => {
    await checkGrad('reduce', rand, [{ name: 'x', dims: [2, 3, 4] }], (g, v) => {
      const s = op(g, 'ReduceSum', [v.x, g.ints([1])], { keepdims: 0 }); // [2, 4]
      const m = op(g, 'ReduceMean', [v.x], { axes: [0, 2], keepdims: 1 }); // [1, 3, 1]
      return op(g, 'Mul', [op(g, 'Unsqueeze', [s, g.ints([1])]), m]); // [2, 3, 4]
    });
  });

  it('Reshape, Transpose, Unsqueeze, Squeeze, Flatten, Expand', async () => {
    await checkGrad(
      'shape',
      rand,
      [
        { name: 'x', dims: [2, 3, 4] },
        { name: 'e', dims: [3, 1] },
      ],
      (g, v) => {
        const t = op(g, 'Transpose', [v.x], { perm: [2, 0, 1] }); // [4, 2, 3]
        const r = op(g, 'Reshape', [t, g.ints([0, -1])]); // [4, 6]
        const u = op(g, 'Squeeze', [op(g, 'Unsqueeze', [r, g.ints([0, 3])]), g.ints([0])]); // [4, 6, 1]
        const f = op(g, 'Flatten', [u], { axis: 1 }); // [4, 6]
        const ex = op(g, 'Reshape', [op(g, 'Expand', [v.e, g.ints([2, 3, 2])]), g.ints([1, 12])]); // [1, 12] → broadcast
        return op(g, 'Mul', [op(g, 'Reshape', [f, g.ints([2, 12])]), ex]);
      },
    );
  });

  it('Concat, Split, Slice (contiguous, strided, reversed) and Gather (constant indices with repeats)', async () => {
    await checkGrad(
      'select',
      rand,
      [
        { name: 'x', dims: [3, 6] },
        { name: 'y', dims: [3, 2] },
      ],
      (g, v) => {
        const c = op(g, 'Concat', [v.x, v.y], { axis: 1 }); // [3, 8]
        const [p, q] = g.op('Split', [c, g.ints([5, 3])], { axis: 1 }, { outputs: 2 }); // [3,5], [3,3]
        const s1 = op(g, 'Slice', [p, g.ints([1, 1]), g.ints([3, 4]), g.ints([0, 1])]); // [2, 3]
        const s2 = op(g, 'Slice', [p, g.ints([4]), g.ints([-100]), g.ints([1]), g.ints([-2])]); // cols 4,2,0 → [3, 3]
        const ga = op(g, 'Gather', [q, g.ints([2, 0, 2])], { axis: 1 }); // [3, 3]
        const gi = g.constant({
          kind: 'tensor',
          dtype: 'int64',
          dims: [2, 1],
          data: new Uint8Array(BigInt64Array.from([1n, -1n]).buffer),
        });
        const gb = op(g, 'Reshape', [op(g, 'Gather', [s2, gi], { axis: 0 }), g.ints([2, 3])]); // rows 1,2 → [2, 3]
        const top = op(g, 'Add', [s1, gb]);
        return op(g, 'Concat', [top, op(g, 'Mul', [ga, s2])], { axis: 0 }); // [5, 3]
      },
    );
  });

  it('LayerNormalization with scale and bias, last axis and over two axes', async () => {
    await checkGrad(
      'layernorm',
      rand,
      [
        { name: 'x', dims: [2, 3, 4], lo: -2, hi: 2 },
        { name: 's', dims: [4], init: true },
        { name: 'b', dims: [4], init: true },
        { name: 's2', dims: [3, 4] },
        { name: 'b2', dims: [4] },
      ],
      (g, v) => {
        const y1 = op(g, 'LayerNormalization', [v.x, v.s, v.b], { axis: -1, epsilon: floatAttr(1e-5) });
        const y2 = op(g, 'LayerNormalization', [v.x, v.s2, v.b2], { axis: 1, epsilon: floatAttr(1e-3) });
        return op(g, 'Mul', [y1, op(g, 'Tanh', [y2])]);
      },
    );
  });

  it('Where with a Greater condition (gradient to both branches, none to the condition)', async () => {
    await checkGrad(
      'where',
      rand,
      [
        { name: 'x', dims: [3, 4] },
        { name: 'y', dims: [4] },
        { name: 'c', dims: [3, 4], grad: false },
      ],
      (g, v) =>
        op(g, 'Where', [op(g, 'Greater', [v.c, g.floats([0], [])]), op(g, 'Exp', [v.x]), op(g, 'Mul', [v.y, v.y])]),
    );
  });

  it('Identity and Cast float→float pass gradients through', async () => {
    await checkGrad('cast', rand, [{ name: 'x', dims: [5] }], (g, v) =>
      op(g, 'Mul', [op(g, 'Cast', [op(g, 'Identity', [v.x])], { to: 1 }), v.x]),
    );
  });
});
