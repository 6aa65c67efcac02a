import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { Graph, tensorInit } from '../../../src/onnx/builder.js';
import { buildGradientGraph, DIFFERENTIABLE_OPS } from '../../../src/onnx/autodiff.js';
import { freshSeed, randomF32, relError, rng } from '../../helpers/random.js';
import { fdGrad, op, runOrt } from './grad-harness.js';

const rand = rng(freshSeed('autodiff-errors'));

function invalid(f: () => unknown, pattern: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(HessError);
  expect((err as HessError).code).toBe('INVALID_ARGUMENT');
  expect((err as HessError).message).toMatch(pattern);
}

function small(): { g: Graph; x: string; w: string } {
  const g = new Graph('e');
  const x = g.input('x', 'float32', [2, 3]);
  const w = g.floats(randomF32(6, rand), [3, 2], 'w');
  return { g, x, w };
}

describe('buildGradientGraph: typed errors and edge cases', () => {
  it('throws "no gradient for <op>" for an op on the path to the loss, at build time', () => {
    const { g, x, w } = small();
    const loss = op(g, 'ReduceSum', [op(g, 'Abs', [op(g, 'MatMul', [x, w])])], { keepdims: 0 });
    g.output(loss, 'float32', []);
    invalid(() => buildGradientGraph(g, { loss, wrt: ['w'] }), /no gradient for Abs/);
    expect(DIFFERENTIABLE_OPS).not.toContain('Abs');
  });

  it('names the first op without shape inference on the path, even when known ops follow it', () => {
    const { g, x, w } = small();
    const h = op(g, 'HardSwish', [op(g, 'MatMul', [x, w])]);
    const loss = op(g, 'ReduceSum', [op(g, 'Tanh', [h])], { keepdims: 0 });
    g.output(loss, 'float32', []);
    // the loss's shape is unknown here (downstream of HardSwish), which is reported as such
    invalid(() => buildGradientGraph(g, { loss, wrt: ['w'] }), /shape cannot be inferred/);
    const l2 = op(g, 'ReduceSum', [op(g, 'Mul', [op(g, 'MatMul', [x, w]), op(g, 'Neg', [op(g, 'MatMul', [x, w])])])], {
      keepdims: 0,
    });
    const bad = op(g, 'Add', [op(g, 'Tanh', [op(g, 'Cos', [x])]), x]);
    const l3 = op(g, 'Add', [l2, op(g, 'ReduceSum', [op(g, 'MatMul', [bad, w])], { keepdims: 0 })]);
    invalid(() => buildGradientGraph(g, { loss: l3, wrt: ['x'] }), /no gradient for Cos/);
    expect(() => buildGradientGraph(g, { loss: l3, wrt: ['w'] })).not.toThrow(); // Cos is not on a path from w
    const h16 = op(g, 'Cast', [op(g, 'Cast', [op(g, 'MatMul', [x, w])], { to: 10 })], { to: 1 });
    const l4 = op(g, 'ReduceSum', [h16], { keepdims: 0 });
    invalid(() => buildGradientGraph(g, { loss: l4, wrt: ['w'] }), /no gradient for Cast .* on float16/);
  });

  it('ignores an undifferentiable op that is off the gradient path', async () => {
    const { g, x, w } = small();
    const side = op(g, 'Abs', [x]);
    op(g, 'HardSwish', [x]); // no shape inference for it, and not on any path: harmless
    const loss = op(g, 'ReduceSum', [op(g, 'Mul', [op(g, 'MatMul', [side, w]), op(g, 'MatMul', [x, w])])], {
      keepdims: 0,
    });
    g.output(loss, 'float32', []);
    const gg = buildGradientGraph(g, { loss, wrt: ['w'] });
    const xs = randomF32(6, rand);
    const out = await runOrt(gg, { x: xs }, { x: [2, 3] });
    const feeds = { x: { dims: [2, 3], data: Float64Array.from(xs) } };
    const wv = {
      dims: [3, 2],
      data: Float64Array.from(new Float32Array(g.initializers.get('w')!.data.slice().buffer)),
    };
    expect(relError(out.grad_w, fdGrad(g, feeds, loss, 'w', wv))).toBeLessThan(2e-4);
  });

  it('rejects Gather with run-time indices on the path', () => {
    const g = new Graph('gi');
    const x = g.input('x', 'float32', [4, 3]);
    const i = g.input('i', 'int64', [2]);
    const loss = op(g, 'ReduceSum', [op(g, 'Gather', [x, i])], { keepdims: 0 });
    g.output(loss, 'float32', []);
    invalid(() => buildGradientGraph(g, { loss, wrt: ['x'] }), /no gradient for Gather/);
  });

  it('rejects a non-scalar loss, an unknown wrt, an integer wrt and an empty wrt', () => {
    const { g, x, w } = small();
    const y = op(g, 'MatMul', [x, w]);
    g.output(y, 'float32', [2, 2]);
    invalid(() => buildGradientGraph(g, { loss: y, wrt: ['w'] }), /must be a float scalar/);
    const loss = op(g, 'ReduceSum', [y], { keepdims: 0 });
    invalid(() => buildGradientGraph(g, { loss, wrt: ['nope'] }), /not an input or initializer/);
    invalid(() => buildGradientGraph(g, { loss, wrt: [g.ints([1, 2], 'idx')] }), /not a float tensor/);
    invalid(() => buildGradientGraph(g, { loss, wrt: [] }), /wrt is empty/);
    invalid(() => buildGradientGraph(g, { loss: 'missing', wrt: ['w'] }), /is not a value/);
  });

  it('needs symbolic dims bound, and then differentiates with them', async () => {
    const g = new Graph('sym');
    const x = g.input('x', 'float32', ['N', 3]);
    const b = g.floats(randomF32(3, rand), [3], 'b');
    const loss = op(g, 'ReduceSum', [op(g, 'Tanh', [op(g, 'Add', [x, b])])], { keepdims: 0 });
    g.output(loss, 'float32', []);
    invalid(() => buildGradientGraph(g, { loss, wrt: ['b'] }), /symbolic dim "N"/);
    const gg = buildGradientGraph(g, { loss, wrt: ['b'], dims: { N: 4 } });
    const xs = randomF32(12, rand);
    const out = await runOrt(gg, { x: xs }, { x: [4, 3] });
    const bv = { dims: [3], data: Float64Array.from(new Float32Array(g.initializers.get('b')!.data.slice().buffer)) };
    const fd = fdGrad(g, { x: { dims: [4, 3], data: Float64Array.from(xs) } }, loss, 'b', bv);
    expect(relError(out.grad_b, fd)).toBeLessThan(2e-4);
  });

  it('gives an all-zero gradient for a wrt the loss does not depend on', async () => {
    const { g, x, w } = small();
    const unused = g.constant(tensorInit(randomF32(4, rand), [4]), 'unused');
    void unused;
    const loss = op(g, 'ReduceSum', [op(g, 'MatMul', [x, w])], { keepdims: 0 });
    g.output(loss, 'float32', []);
    const gg = buildGradientGraph(g, { loss, wrt: ['unused', 'x'] });
    const out = await runOrt(gg, { x: randomF32(6, rand) }, { x: [2, 3] });
    expect(Array.from(out.grad_unused)).toEqual([0, 0, 0, 0]);
    // d/dx Σ(xW) = 1·Wᵀ, row sums of W for every row of x
    const wv = new Float32Array(g.initializers.get('w')!.data.slice().buffer);
    const rowSum = [wv[0] + wv[1], wv[2] + wv[3], wv[4] + wv[5]];
    expect(relError(out.grad_x, [...rowSum, ...rowSum])).toBeLessThan(1e-6);
  });
});
