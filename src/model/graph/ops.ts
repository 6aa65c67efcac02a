/**
 * Shared ONNX graph helpers for the VGGT graphs (aggregator and heads). Every helper appends nodes to a
 * {@link Graph} and returns the name of its output value.
 *
 * Conventions (read before using `linear`):
 * - `linear` takes the weight as **[in, out]** (already transposed from PyTorch's `[out, in]`), so the graph is a
 *   plain MatMul with no Transpose node; use {@link addLinear} or {@link transposeLinear} to get that layout.
 * - All graphs target ONNX opset 17 (LayerNormalization exists there; GELU is written with Erf).
 */
import { check } from '../../errors.js';
import { type Graph, OnnxType, tensorInit } from '../../onnx/builder.js';
import { toF16 } from '../../attention/f16.js';

/** Opset every VGGT graph is built for. */
export const VGGT_OPSET = 17;

/**
 * Element type of a graph's activations and weights: 'float32', or 'float16' (fp16 compute on WebGPU with
 * shader-f16), where LayerNorm and Softmax still compute in float32 (Cast in, Cast out).
 */
export type ElemType = 'float32' | 'float16';

/** `x` cast to `to` (no node when it already is). */
export function cast(g: Graph, x: string, from: ElemType, to: ElemType): string {
  return from === to ? x : g.op('Cast', [x], { to: OnnxType[to] })[0];
}

/** A small constant (scalars, vectors) in the graph's element type. */
export function consts(g: Graph, values: number[] | Float32Array, dims: number[], type: ElemType = 'float32'): string {
  return type === 'float16' ? g.constant(tensorInit(toF16(values), dims)) : g.floats(values, dims);
}

/**
 * Add a float32 initializer named `name`. Returns the name.
 *
 * @example
 * const w = addWeight(g, 'blocks.0.norm1.weight', data, [64]);
 */
export function addWeight(g: Graph, name: string, data: Float32Array, dims: number[]): string {
  return g.constant(tensorInit(data, dims), name);
}

/**
 * PyTorch Linear weight `[out, in]` → `[in, out]` (the layout {@link linear} multiplies by).
 *
 * @example
 * const wt = transposeLinear(w, 192, 64); // w was [192, 64]
 */
export function transposeLinear(w: Float32Array, out: number, inDim: number): Float32Array {
  check(
    w.length === out * inDim,
    `linear weight has ${w.length} elements, expected ${out}×${inDim}`,
    'pass the PyTorch weight and its [out, in] shape',
  );
  const t = new Float32Array(w.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inDim; i++) t[i * out + o] = w[o * inDim + i];
  return t;
}

/**
 * Add a PyTorch Linear (`weight [out, in]`, optional `bias [out]`) as initializers `${prefix}.weight` (stored
 * transposed, `[in, out]`) and `${prefix}.bias`. Returns the names to pass to {@link linear}.
 *
 * @example
 * const fc1 = addLinear(g, 'mlp.fc1', w, [256, 64], b);
 * const h = linear(g, x, fc1.w, fc1.b);
 */
export function addLinear(
  g: Graph,
  prefix: string,
  w: Float32Array,
  shape: [out: number, inDim: number],
  b?: Float32Array,
): { w: string; b?: string } {
  const [out, inDim] = shape;
  const wName = addWeight(g, `${prefix}.weight`, transposeLinear(w, out, inDim), [inDim, out]);
  if (!b) return { w: wName };
  check(b.length === out, `${prefix}.bias has ${b.length} elements, expected ${out}`);
  return { w: wName, b: addWeight(g, `${prefix}.bias`, b, [out]) };
}

/**
 * `x · W + b` over the last axis. `wName` is a graph value of shape **[in, out]**; `bName` (optional) `[out]`.
 *
 * @example
 * const y = linear(g, x, 'qkv.weight', 'qkv.bias'); // x [..., 64] → y [..., 192]
 */
export function linear(g: Graph, x: string, wName: string, bName?: string): string {
  const y = g.op('MatMul', [x, wName])[0];
  return bName ? g.op('Add', [y, bName])[0] : y;
}

/**
 * LayerNorm over the last axis with affine `w`, `b` (graph values of shape [C]) and `eps` (1e-6 in DINO, 1e-5
 * in the aggregator and heads). Uses ONNX LayerNormalization (opset 17), computed in float32: with `type`
 * 'float16', `x`, `w`, `b` are cast to float32 first and the result back to float16 (explicit, rather than
 * trusting an EP to honour stash_type, so mean and variance always accumulate in fp32).
 *
 * @example
 * const h = layerNorm(g, x, 'norm1.weight', 'norm1.bias', 1e-5);
 */
export function layerNorm(g: Graph, x: string, w: string, b: string, eps: number, type: ElemType = 'float32'): string {
  const [x32, w32, b32] = [x, w, b].map((v) => cast(g, v, type, 'float32'));
  const y = g.op('LayerNormalization', [x32, w32, b32], { axis: -1, epsilon: { kind: 'float', value: eps } })[0];
  return cast(g, y, 'float32', type);
}

/**
 * LayerNorm without affine parameters (e.g. the camera head's adaLN, eps 1e-6). `C` is the normalised width.
 * Computed in float32 like {@link layerNorm}: with `type` 'float16', `x` is cast in and the result back.
 *
 * @example
 * const h = layerNormNoAffine(g, x, 128, 1e-6);
 */
export function layerNormNoAffine(g: Graph, x: string, C: number, eps: number, type: ElemType = 'float32'): string {
  const one = g.floats(new Float32Array(C).fill(1), [C]);
  const zero = g.floats(new Float32Array(C), [C]);
  return cast(g, layerNorm(g, cast(g, x, type, 'float32'), one, zero, eps), 'float32', type);
}

/**
 * Exact GELU, `0.5·x·(1 + erf(x/√2))` (PyTorch's default `nn.GELU()`, not the tanh approximation).
 *
 * @example
 * const h = gelu(g, linear(g, x, fc1.w, fc1.b));
 */
export function gelu(g: Graph, x: string, type: ElemType = 'float32'): string {
  const inv = consts(g, [Math.SQRT1_2], [1], type);
  const half = consts(g, [0.5], [1], type);
  const one = consts(g, [1], [1], type);
  const e = g.op('Erf', [g.op('Mul', [x, inv])[0]])[0];
  return g.op('Mul', [g.op('Mul', [x, half])[0], g.op('Add', [e, one])[0]])[0];
}

/**
 * A two-layer MLP `fc2(GELU(fc1(x)))`, weights as [in, out] values.
 *
 * @example
 * const y = mlp(g, x, { w1, b1, w2, b2 });
 */
export function mlp(g: Graph, x: string, p: { w1: string; b1?: string; w2: string; b2?: string }): string {
  return linear(g, gelu(g, linear(g, x, p.w1, p.b1)), p.w2, p.b2);
}

/** `Reshape` to a fixed shape (0 = copy that dim from the input, -1 = infer). */
export function reshape(g: Graph, x: string, shape: number[]): string {
  return g.op('Reshape', [x, g.ints(shape)])[0];
}
