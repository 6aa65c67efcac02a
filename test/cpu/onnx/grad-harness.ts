// Shared harness: build a forward graph on fresh random data, differentiate it, and compare (a) the backward graph
// evaluated in float64 by ref-eval and (b) the same graph run by onnxruntime-web (wasm EP, float32) against central
// finite differences of the float64 forward pass.
import { expect } from 'vitest';
import { Graph, tensorInit } from '../../../src/onnx/builder.js';
import { buildGradientGraph, inferShapes } from '../../../src/onnx/autodiff.js';
import { createSession, loadOrt } from '../../../src/runtime/ort.js';
import { randomF32, relError } from '../../helpers/random.js';
import { evaluate, type T } from './ref-eval.js';

export interface Arg {
  name: string;
  dims: number[];
  lo?: number;
  hi?: number;
  init?: boolean;
  grad?: boolean;
  data?: Float32Array;
}

/** `g.op` returning its single output name. */
export const op = (g: Graph, type: string, inputs: string[], attrs: Parameters<Graph['op']>[2] = {}): string =>
  g.op(type, inputs, attrs)[0];

const numel = (d: number[]) => d.reduce((a, b) => a * b, 1);

export async function runOrt(
  g: Graph,
  feeds: Record<string, Float32Array>,
  dims: Record<string, number[]>,
): Promise<Record<string, Float32Array>> {
  const ort = await loadOrt();
  const s = await createSession(ort, g.toModel().model, { ep: 'wasm' });
  const f: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor('float32', v, dims[k]);
  const out = await s.run(f);
  const res: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(out)) res[k] = t.data as Float32Array;
  await s.release();
  return res;
}

/** Finite-difference gradient of `loss` w.r.t. `name` (float64 forward, central differences). */
export function fdGrad(
  g: Graph,
  feeds: Record<string, T>,
  loss: string,
  name: string,
  base: T,
  only?: number[],
): Float64Array {
  const h = 1e-5;
  const idx = only ?? Array.from({ length: base.data.length }, (_, i) => i);
  const out = new Float64Array(idx.length);
  idx.forEach((i, k) => {
    const at = (d: number) => {
      const data = base.data.slice();
      data[i] += d;
      return (evaluate(g, { ...feeds, [name]: { dims: base.dims, data } }).get(loss) as T).data[0];
    };
    out[k] = (at(h) - at(-h)) / (2 * h);
  });
  return out;
}

/**
 * Build `y = build(g, args)`, loss = Σ y·R with a random R, differentiate w.r.t. the args marked `grad`, and check
 * both backward evaluations against finite differences.
 */
export async function checkGrad(
  label: string,
  rand: () => number,
  args: Arg[],
  build: (g: Graph, v: Record<string, string>) => string,
  tol = { f64: 1e-6, f32: 2e-4 },
): Promise<void> {
  const g = new Graph(label);
  const names: Record<string, string> = {};
  const feeds32: Record<string, Float32Array> = {};
  const dims: Record<string, number[]> = {};
  const vals64: Record<string, T> = {};
  for (const a of args) {
    const data = a.data ?? randomF32(numel(a.dims), rand, a.lo ?? -1, a.hi ?? 1);
    names[a.name] = a.init ? g.constant(tensorInit(data, a.dims), a.name) : g.input(a.name, 'float32', a.dims);
    if (!a.init) {
      feeds32[a.name] = data;
      dims[a.name] = a.dims;
    }
    vals64[a.name] = { dims: a.dims, data: Float64Array.from(data) };
  }
  const y = build(g, names);
  const yd = (inferShapes(g).get(y) as { dims: number[] }).dims;
  const r = g.floats(randomF32(numel(yd), rand), yd);
  const loss = op(g, 'ReduceSum', [op(g, 'Mul', [y, r])], { keepdims: 0 });
  g.output(loss, 'float32', []);
  const wrt = args.filter((a) => a.grad !== false).map((a) => a.name);
  const gg = buildGradientGraph(g, { loss, wrt });

  const inputsOnly = Object.fromEntries(Object.entries(vals64).filter(([k]) => feeds32[k]));
  const ref = evaluate(gg, inputsOnly);
  const ortOut = await runOrt(gg, feeds32, dims);
  // the loss is a signed sum, so judge ORT's float32 forward against the size of its terms, not of the sum
  const yv = (ref.get(y) as T).data;
  const rv = (ref.get(r) as T).data;
  const scale = yv.reduce((s, v, i) => s + Math.abs(v * rv[i]), 0);
  expect(Math.abs(ortOut[loss][0] - (ref.get(loss) as T).data[0])).toBeLessThan(1e-5 * scale);
  for (const w of wrt) {
    const fd = fdGrad(g, inputsOnly, loss, w, vals64[w]);
    const g64 = (ref.get(`grad_${w}`) as T).data;
    const g32 = ortOut[`grad_${w}`];
    expect(g64.length, `${label} grad_${w} size`).toBe(fd.length);
    const e64 = relError(g64, fd);
    const e32 = relError(g32, fd);
    expect(e64, `${label}: float64 backward vs FD for ${w}`).toBeLessThan(tol.f64);
    expect(e32, `${label}: ORT float32 backward vs FD for ${w}`).toBeLessThan(tol.f32);
    // a zero gradient would pass a relative check trivially only if FD is zero too; make sure it is not
    expect(Math.max(...Array.from(fd, Math.abs)), `${label}: FD for ${w} is not all zero`).toBeGreaterThan(1e-8);
  }
}
