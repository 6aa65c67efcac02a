import { inferShapes } from '../../src/onnx/autodiff.js';
import { Graph, tensorInit } from '../../src/onnx/builder.js';

/**
 * Replace Shape nodes by constants so the float64 interpreter (test/cpu/onnx/ref-eval.ts has no Shape op) can run
 * a graph whose dims are all known: `dims` gives each symbolic input dim its value.
 */
export function foldShapes(g: Graph, dims: Record<string, number>): Graph {
  const info = inferShapes(g, dims);
  const o = new Graph(g.name);
  for (const v of g.inputList) o.input(v.name, v.dtype, [...v.shape]);
  for (const [n, t] of g.initializers) o.constant(t, n);
  for (const n of g.nodeList) {
    if (n.op === 'Shape') {
      const d = info.get(n.inputs[0]!)!.dims;
      o.constant(tensorInit(BigInt64Array.from(d.map(BigInt)), [d.length]), n.outputs[0]);
    } else {
      o.op(n.op, [...n.inputs], { ...n.attrs }, { outputs: [...n.outputs], name: n.name });
    }
  }
  for (const v of g.outputList) o.output(v.name, v.dtype, [...v.shape]);
  return o;
}
