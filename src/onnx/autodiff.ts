/**
 * Reverse-mode differentiation of {@link Graph}s into plain ONNX (opset 13–17 ops that onnxruntime-web's wasm and
 * WebGPU EPs run), so that gradients such as ∂e/∂W_Q^h for HeSS calibration need no Python and no training runtime.
 *
 * Supported ops (gradient w.r.t. their float inputs): MatMul (batched, broadcasting, 1-D), Gemm, Add, Sub, Mul, Div,
 * Pow, Where (x/y), Expand, Neg, Exp, Log, Sqrt, Erf, Tanh, Sigmoid, Relu, Softmax, LogSoftmax, ReduceSum,
 * ReduceMean, Reshape, Flatten, Transpose, Concat, Split, Slice (static, any step), Gather (constant indices),
 * Unsqueeze, Squeeze, Identity, Cast (float→float), LayerNormalization (X, Scale, B), Conv and ConvTranspose (any
 * spatial rank, strides, pads, dilations, groups; explicit pads), Resize (mode=linear; align_corners, half_pixel,
 * pytorch_half_pixel, asymmetric). Non-differentiable values (Shape, comparisons, integer tensors) stop gradients;
 * float16 values on a gradient path are rejected (differentiate the float32 or float64 graph). Any other op on a path from a `wrt` value to the loss throws
 * `HessError('INVALID_ARGUMENT', 'no gradient for <op>')` at build time.
 *
 * Memory: this is plain reverse mode. The emitted graph contains the whole forward pass and the backward nodes read
 * forward activations directly, so ORT keeps every activation the backward pass needs alive until it is consumed
 * (LayerNormalization statistics are recomputed from X instead of stored). For large S (global attention over
 * thousands of tokens) the [S,S] softmax probabilities dominate; the planned remedy — not done here — is to emit the
 * attention backward per query chunk (recomputing the chunk's scores from q,k, flash-attention style) or to run the
 * gradient graph per layer with checkpointed block inputs.
 */
import { HessError } from '../errors.js';
import { Graph, tensorInit, type AttrValue, type GraphNode, type OnnxDType } from './builder.js';
import {
  attrInts,
  attrNum,
  convSpec,
  inferShapes,
  numel,
  reduceAxes,
  sliceSpec,
  type ValueInfo,
} from './autodiff-shapes.js';

export { inferShapes, type ValueInfo } from './autodiff-shapes.js';

export interface GradientOptions {
  /** Name of the scalar (one-element) value to differentiate. */
  loss: string;
  /** Graph inputs or initializers to differentiate with respect to; each gets an output `grad_<name>`. */
  wrt: string[];
  /** Sizes for symbolic input dims (shapes must be static to reduce broadcast gradients). */
  dims?: Record<string, number>;
}

const FLOAT = new Set<OnnxDType>(['float32', 'float64', 'float16']);
/** Ops whose outputs carry no gradient (indices, shapes, booleans). */
const STOP = new Set([
  'Shape',
  'Greater',
  'Less',
  'Equal',
  'GreaterOrEqual',
  'LessOrEqual',
  'And',
  'Or',
  'Not',
  'ArgMax',
  'ArgMin',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Constant',
  'NonZero',
  'Size',
]);

/** Emits backward nodes into the new graph with static-shape helpers. */
class Emitter {
  private consts = new Map<string, string>();
  constructor(
    readonly g: Graph,
    readonly info: Map<string, ValueInfo>,
  ) {}

  op(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.g.op(type, inputs, attrs)[0];
  }
  /** Scalar float constant of `dtype` (shape []), cached. */
  scalar(v: number, dtype: OnnxDType): string {
    const key = `s:${dtype}:${v}`;
    let n = this.consts.get(key);
    if (!n) {
      const t = dtype === 'float64' ? tensorInit(Float64Array.of(v), []) : tensorInit(Float32Array.of(v), []);
      n = this.g.constant(t);
      this.consts.set(key, n);
    }
    return n;
  }
  ints(v: number[]): string {
    const key = `i:${v.join(',')}`;
    let n = this.consts.get(key);
    if (!n) {
      n = this.g.ints(v);
      this.consts.set(key, n);
    }
    return n;
  }
  zeros(dims: number[], dtype: OnnxDType): string {
    const k = numel(dims);
    return this.g.constant(
      dtype === 'float64' ? tensorInit(new Float64Array(k), dims) : tensorInit(new Float32Array(k), dims),
    );
  }
  dims(v: string): number[] {
    return this.meta(v).dims;
  }
  dtype(v: string): OnnxDType {
    return this.meta(v).dtype;
  }
  private meta(v: string): ValueInfo {
    const i = this.info.get(v);
    if (!i) throw new HessError('INVALID_ARGUMENT', `internal: no shape for ${v}`);
    return i;
  }
  reshape(v: string, dims: number[]): string {
    return this.op('Reshape', [v, this.ints(dims)]);
  }
  transpose(v: string, perm: number[]): string {
    return this.op('Transpose', [v], { perm });
  }
  swapLast(v: string, rank: number): string {
    const p = Array.from({ length: rank }, (_, i) => i);
    [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
    return this.transpose(v, p);
  }
  /** Reduce-sum a gradient of shape `from` back to the (broadcast-compatible) shape `to`. */
  unbroadcast(gr: string, from: number[], to: number[]): string {
    if (from.length === to.length && from.every((d, i) => d === to[i])) return gr;
    const off = from.length - to.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) if (i < off || (to[i - off] === 1 && from[i] !== 1)) axes.push(i);
    let s = axes.length ? this.op('ReduceSum', [gr, this.ints(axes)], { keepdims: 1 }) : gr;
    if (from.length !== to.length) s = this.reshape(s, to);
    return s;
  }
  /**
   * Scatter-add the gradient of a gather along `axis` (size `n` selected entries) back to size `size`, via a constant
   * one-hot matrix and one MatMul, which every EP runs (ScatterND/ScatterElements-with-add are not universal).
   */
  scatterAxis(gr: string, gDims: number[], axis: number, indices: number[], size: number, dtype: OnnxDType): string {
    const pre = numel(gDims.slice(0, axis));
    const tail = gDims.slice(axis + 1);
    const k = indices.length;
    const oh = new Float64Array(size * k);
    indices.forEach((j, i) => {
      oh[(j < 0 ? j + size : j) * k + i] += 1;
    });
    const m = this.g.constant(
      dtype === 'float64' ? tensorInit(oh, [size, k]) : tensorInit(Float32Array.from(oh), [size, k]),
    );
    const out = this.op('MatMul', [m, this.reshape(gr, [pre, k, numel(tail)])]); // [pre, size, post]
    return this.reshape(out, [...gDims.slice(0, axis), size, ...tail]);
  }
}

type Rule = (e: Emitter, n: GraphNode, gOut: (string | undefined)[], need: boolean[]) => (string | undefined)[];

const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** Binary broadcasting op helper: `fa`/`fb` give the full-shape gradient contributions. */
function binary(
  fa: (e: Emitter, n: GraphNode, g: string, y: string) => string,
  fb: (e: Emitter, n: GraphNode, g: string, y: string) => string,
): Rule {
  return (e, n, [g], need) => {
    const y = n.outputs[0];
    const yd = e.dims(y);
    return [
      need[0] ? e.unbroadcast(fa(e, n, g as string, y), yd, e.dims(n.inputs[0])) : undefined,
      need[1] ? e.unbroadcast(fb(e, n, g as string, y), yd, e.dims(n.inputs[1])) : undefined,
    ];
  };
}
const unary =
  (f: (e: Emitter, n: GraphNode, g: string, x: string, y: string) => string): Rule =>
  (e, n, [g]) => [f(e, n, g as string, n.inputs[0], n.outputs[0])];
const reshapeBack: Rule = (e, n, [g]) => [e.reshape(g as string, e.dims(n.inputs[0]))];

const RULES: Record<string, Rule> = {
  Identity: (_e, _n, [g]) => [g],
  Cast: (e, n, [g]) => [
    e.dtype(n.inputs[0]) === e.dtype(n.outputs[0])
      ? g
      : e.op('Cast', [g as string], { to: castCode(e.dtype(n.inputs[0])) }),
  ],
  Neg: unary((e, _n, g) => e.op('Neg', [g])),
  Exp: unary((e, _n, g, _x, y) => e.op('Mul', [g, y])),
  Log: unary((e, _n, g, x) => e.op('Div', [g, x])),
  Sqrt: unary((e, _n, g, x, y) => e.op('Div', [g, e.op('Mul', [y, e.scalar(2, e.dtype(x))])])),
  Tanh: unary((e, _n, g, x, y) => e.op('Mul', [g, e.op('Sub', [e.scalar(1, e.dtype(x)), e.op('Mul', [y, y])])])),
  Sigmoid: unary((e, _n, g, x, y) => e.op('Mul', [g, e.op('Mul', [y, e.op('Sub', [e.scalar(1, e.dtype(x)), y])])])),
  Relu: unary((e, _n, g, x) =>
    e.op('Where', [e.op('Greater', [x, e.scalar(0, e.dtype(x))]), g, e.scalar(0, e.dtype(x))]),
  ),
  Erf: unary((e, _n, g, x) => {
    const t = e.dtype(x);
    const ex = e.op('Exp', [e.op('Neg', [e.op('Mul', [x, x])])]);
    return e.op('Mul', [g, e.op('Mul', [ex, e.scalar(2 / Math.sqrt(Math.PI), t)])]);
  }),
  Softmax: unary((e, n, g, _x, y) => {
    const axis = norm(attrNum(n, 'axis', -1), e.dims(y).length);
    const gy = e.op('Mul', [g, y]);
    const s = e.op('ReduceSum', [gy, e.ints([axis])], { keepdims: 1 });
    return e.op('Sub', [gy, e.op('Mul', [y, s])]);
  }),
  LogSoftmax: unary((e, n, g, _x, y) => {
    const axis = norm(attrNum(n, 'axis', -1), e.dims(y).length);
    const s = e.op('ReduceSum', [g, e.ints([axis])], { keepdims: 1 });
    return e.op('Sub', [g, e.op('Mul', [e.op('Exp', [y]), s])]);
  }),
  Add: binary(
    (_e, _n, g) => g,
    (_e, _n, g) => g,
  ),
  Sub: binary(
    (_e, _n, g) => g,
    (e, _n, g) => e.op('Neg', [g]),
  ),
  Mul: binary(
    (e, n, g) => e.op('Mul', [g, n.inputs[1]]),
    (e, n, g) => e.op('Mul', [g, n.inputs[0]]),
  ),
  Div: binary(
    (e, n, g) => e.op('Div', [g, n.inputs[1]]),
    (e, n, g, y) => e.op('Neg', [e.op('Div', [e.op('Mul', [g, y]), n.inputs[1]])]),
  ),
  Pow: binary(
    (e, n, g) => {
      const [x, p] = n.inputs;
      const pm1 = e.op('Sub', [p, e.scalar(1, e.dtype(p))]);
      return e.op('Mul', [g, e.op('Mul', [p, e.op('Pow', [x, pm1])])]);
    },
    (e, n, g, y) => e.op('Mul', [g, e.op('Mul', [y, e.op('Log', [n.inputs[0]])])]), // d/dp x^p = x^p ln x (x > 0)
  ),
  Where: (e, n, [g], need) => {
    const [c, a, b] = n.inputs;
    const yd = e.dims(n.outputs[0]);
    const z = e.scalar(0, e.dtype(a));
    return [
      undefined,
      need[1] ? e.unbroadcast(e.op('Where', [c, g as string, z]), yd, e.dims(a)) : undefined,
      need[2] ? e.unbroadcast(e.op('Where', [c, z, g as string]), yd, e.dims(b)) : undefined,
    ];
  },
  Expand: (e, n, [g]) => [e.unbroadcast(g as string, e.dims(n.outputs[0]), e.dims(n.inputs[0]))],
  MatMul: (e, n, [g], need) => {
    const [a, b] = n.inputs;
    const ad = e.dims(a);
    const bd = e.dims(b);
    // 1-D operands are promoted exactly as ONNX does, differentiated as matrices, and reshaped back.
    const a2 = ad.length === 1 ? [1, ad[0]] : ad;
    const b2 = bd.length === 1 ? [bd[0], 1] : bd;
    const A = ad.length === 1 ? e.reshape(a, a2) : a;
    const B = bd.length === 1 ? e.reshape(b, b2) : b;
    const batch = broadcastBatch(a2, b2);
    const o2 = [...batch, a2[a2.length - 2], b2[b2.length - 1]];
    const G = e.dims(n.outputs[0]).length === o2.length ? (g as string) : e.reshape(g as string, o2);
    const back = (full: string, fullDims: number[], tgt2: number[], tgt: number[]) => {
      const r = e.unbroadcast(full, fullDims, tgt2);
      return tgt.length === tgt2.length ? r : e.reshape(r, tgt);
    };
    return [
      need[0]
        ? back(e.op('MatMul', [G, e.swapLast(B, b2.length)]), [...batch, a2[a2.length - 2], a2[a2.length - 1]], a2, ad)
        : undefined,
      need[1]
        ? back(e.op('MatMul', [e.swapLast(A, a2.length), G]), [...batch, b2[b2.length - 2], b2[b2.length - 1]], b2, bd)
        : undefined,
    ];
  },
  Gemm: (e, n, [g], need) => {
    const [a, b, c] = n.inputs;
    const tA = attrNum(n, 'transA', 0);
    const tB = attrNum(n, 'transB', 0);
    const alpha = attrNum(n, 'alpha', 1);
    const beta = attrNum(n, 'beta', 1);
    const t = e.dtype(a);
    const G = alpha === 1 ? (g as string) : e.op('Mul', [g as string, e.scalar(alpha, t)]);
    const Ap = tA ? e.transpose(a, [1, 0]) : a; // A' = op(A): [M, K]
    const Bp = tB ? e.transpose(b, [1, 0]) : b; // B' = op(B): [K, N]
    let dA: string | undefined;
    let dB: string | undefined;
    let dC: string | undefined;
    if (need[0]) {
      const d = e.op('MatMul', [G, e.transpose(Bp, [1, 0])]);
      dA = tA ? e.transpose(d, [1, 0]) : d;
    }
    if (need[1]) {
      const d = e.op('MatMul', [e.transpose(Ap, [1, 0]), G]);
      dB = tB ? e.transpose(d, [1, 0]) : d;
    }
    if (c && need[2]) {
      const gc = beta === 1 ? (g as string) : e.op('Mul', [g as string, e.scalar(beta, t)]);
      dC = e.unbroadcast(gc, e.dims(n.outputs[0]), e.dims(c));
    }
    return [dA, dB, dC];
  },
  ReduceSum: reduceRule(false),
  ReduceMean: reduceRule(true),
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Transpose: (e, n, [g]) => {
    const r = e.dims(n.inputs[0]).length;
    const perm = attrInts(n, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
    const inv = new Array<number>(r);
    perm.forEach((p, i) => {
      inv[p] = i;
    });
    return [e.transpose(g as string, inv)];
  },
  Concat: (e, n, [g], need) => {
    const r = e.dims(n.outputs[0]).length;
    const axis = norm(attrNum(n, 'axis', 0), r);
    let off = 0;
    return n.inputs.map((x, i) => {
      const len = e.dims(x)[axis];
      const s = off;
      off += len;
      return need[i] ? e.op('Slice', [g as string, e.ints([s]), e.ints([s + len]), e.ints([axis])]) : undefined;
    });
  },
  Split: (e, n, gs) => {
    const axis = norm(attrNum(n, 'axis', 0), e.dims(n.inputs[0]).length);
    const parts = n.outputs.map((o, i) => gs[i] ?? e.zeros(e.dims(o), e.dtype(o)));
    return [e.op('Concat', parts, { axis })];
  },
  Slice: (e, n, [g]) => {
    const x = n.inputs[0];
    const d = e.dims(x);
    const { axes, idx } = sliceSpec(n, d, (v) => e.info.get(v) as ValueInfo);
    const contiguous = idx.every((ix) => ix.every((v, k) => k === 0 || v === ix[k - 1] + 1));
    if (contiguous) {
      // one Pad with zeros
      const pads = new Array<number>(2 * d.length).fill(0);
      axes.forEach((a, i) => {
        const ix = idx[i];
        pads[a] = ix.length ? ix[0] : d[a];
        pads[a + d.length] = ix.length ? d[a] - ix[ix.length - 1] - 1 : 0;
      });
      return [e.op('Pad', [g as string, e.ints(pads)], { mode: 'constant' })];
    }
    // strided / reversed slices: scatter one axis at a time with a one-hot MatMul
    let cur = g as string;
    const cd = [...e.dims(n.outputs[0])];
    axes.forEach((a, i) => {
      cur = e.scatterAxis(cur, cd, a, idx[i], d[a], e.dtype(x));
      cd[a] = d[a];
    });
    return [cur];
  },
  Gather: (e, n, [g]) => {
    const [x, ind] = n.inputs;
    const d = e.dims(x);
    const axis = norm(attrNum(n, 'axis', 0), d.length);
    const iv = e.info.get(ind)?.value;
    if (!iv)
      throw new HessError(
        'INVALID_ARGUMENT',
        `no gradient for Gather ${n.name} with non-constant indices`,
        'make the indices an initializer or Constant',
      );
    const id = e.dims(ind);
    // flatten the index block to one axis so the one-hot scatter sees [pre, nIdx, post]
    const gd = e.dims(n.outputs[0]);
    const flat = [...gd.slice(0, axis), numel(id), ...gd.slice(axis + id.length)];
    const gf = e.reshape(g as string, flat);
    return [e.scatterAxis(gf, flat, axis, iv, d[axis], e.dtype(x)), undefined];
  },
  LayerNormalization: (e, n, gs, need) => {
    const [x, scale, bias] = n.inputs;
    const g = gs[0];
    if (gs[1] || gs[2])
      throw new HessError('INVALID_ARGUMENT', `no gradient for LayerNormalization ${n.name} Mean/InvStdDev outputs`);
    if (!g) return [];
    const d = e.dims(x);
    const t = e.dtype(x);
    const axis = norm(attrNum(n, 'axis', -1), d.length);
    const eps = attrNum(n, 'epsilon', 1e-5);
    const axes = e.ints(Array.from({ length: d.length - axis }, (_, i) => axis + i));
    const inv = e.scalar(1 / numel(d.slice(axis)), t);
    const mean = (v: string) => e.op('Mul', [e.op('ReduceSum', [v, axes], { keepdims: 1 }), inv]);
    // recompute the statistics (cheap) instead of keeping the optional Mean/InvStdDev outputs alive
    const xc = e.op('Sub', [x, mean(x)]);
    const rstd = e.op('Div', [
      e.scalar(1, t),
      e.op('Sqrt', [e.op('Add', [mean(e.op('Mul', [xc, xc])), e.scalar(eps, t)])]),
    ]);
    const xhat = e.op('Mul', [xc, rstd]);
    const out: (string | undefined)[] = [undefined, undefined, undefined];
    if (need[0]) {
      const dxh = e.op('Mul', [g, scale]);
      const inner = e.op('Sub', [e.op('Sub', [dxh, mean(dxh)]), e.op('Mul', [xhat, mean(e.op('Mul', [dxh, xhat]))])]);
      out[0] = e.op('Mul', [inner, rstd]);
    }
    if (need[1]) out[1] = e.unbroadcast(e.op('Mul', [g, xhat]), d, e.dims(scale));
    if (bias && need[2]) out[2] = e.unbroadcast(g, d, e.dims(bias));
    return out;
  },
  Conv: (e, n, [g], need) => {
    const [x, w, b] = n.inputs;
    const xd = e.dims(x);
    const wd = e.dims(w);
    const c = convSpec(n, xd, wd);
    const sp = xd.length - 2;
    const spatial = Array.from({ length: sp }, (_, i) => i + 2);
    const out: (string | undefined)[] = [undefined, undefined, undefined];
    if (need[0]) {
      // dX = ConvTranspose(dY, W) with the same geometry; output_padding recovers the rows the floor dropped
      const op = c.k.map(
        (_, i) =>
          xd[i + 2] -
          ((c.out[i + 2] - 1) * c.strides[i] + c.dilations[i] * (c.k[i] - 1) + 1 - c.pads[i] - c.pads[i + sp]),
      );
      out[0] = e.op('ConvTranspose', [g as string, w], {
        strides: c.strides,
        dilations: c.dilations,
        pads: c.pads,
        group: c.group,
        output_padding: op,
        kernel_shape: c.k,
      });
    }
    if (need[1]) out[1] = weightGrad(e, x, xd, g as string, c.out, c);
    if (b && need[2]) out[2] = e.op('ReduceSum', [g as string, e.ints([0, ...spatial])], { keepdims: 0 });
    return out;
  },
  ConvTranspose: (e, n, [g], need) => {
    const [x, w, b] = n.inputs;
    const xd = e.dims(x);
    const wd = e.dims(w);
    const c = convSpec(n, xd, wd);
    const sp = xd.length - 2;
    const spatial = Array.from({ length: sp }, (_, i) => i + 2);
    const out: (string | undefined)[] = [undefined, undefined, undefined];
    if (need[0])
      out[0] = e.op('Conv', [g as string, w], {
        strides: c.strides,
        dilations: c.dilations,
        pads: c.pads,
        group: c.group,
        kernel_shape: c.k,
      });
    if (need[1]) out[1] = weightGrad(e, g as string, c.out, x, xd, c);
    if (b && need[2]) out[2] = e.op('ReduceSum', [g as string, e.ints([0, ...spatial])], { keepdims: 0 });
    return out;
  },
  Resize: (e, n, [g], need) => {
    const x = n.inputs[0];
    const xd = e.dims(x);
    const yd = e.dims(n.outputs[0]);
    const mode = (n.attrs.mode as string | undefined) ?? 'nearest';
    const ctm = (n.attrs.coordinate_transformation_mode as string | undefined) ?? 'half_pixel';
    if (mode !== 'linear' || !['align_corners', 'half_pixel', 'pytorch_half_pixel', 'asymmetric'].includes(ctm)) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `no gradient for Resize ${n.name} (mode=${mode}, coordinate_transformation_mode=${ctm})`,
        'use mode=linear with align_corners, half_pixel, pytorch_half_pixel or asymmetric',
      );
    }
    if (!need[0]) return [];
    // linear resize is separable: per resized axis Y = A·X along that axis, so dX = Aᵀ·dY, one MatMul per axis
    let cur = g as string;
    const cd = [...yd];
    for (let a = 0; a < xd.length; a++) {
      if (xd[a] === yd[a]) continue;
      const A = linearWeights(xd[a], yd[a], ctm); // [out, in]
      const At = new Float64Array(xd[a] * yd[a]);
      for (let o = 0; o < yd[a]; o++) for (let i = 0; i < xd[a]; i++) At[i * yd[a] + o] = A[o * xd[a] + i];
      const m = e.g.constant(
        e.dtype(x) === 'float64' ? tensorInit(At, [xd[a], yd[a]]) : tensorInit(Float32Array.from(At), [xd[a], yd[a]]),
      );
      const pre = numel(cd.slice(0, a));
      const post = numel(cd.slice(a + 1));
      const r = e.op('MatMul', [m, e.reshape(cur, [pre, yd[a], post])]);
      cd[a] = xd[a];
      cur = e.reshape(r, cd);
    }
    return [cur];
  },
};

function reduceRule(mean: boolean): Rule {
  return (e, n, [g]) => {
    const x = n.inputs[0];
    const d = e.dims(x);
    const axes = reduceAxes(n, d.length, (v) => e.info.get(v) as ValueInfo);
    if (axes.length === 0) return [g];
    let gk = g as string;
    if (!attrNum(n, 'keepdims', 1))
      gk = e.reshape(
        gk,
        d.map((v, i) => (axes.includes(i) ? 1 : v)),
      );
    let out = e.op('Expand', [gk, e.ints(d)]);
    if (mean) out = e.op('Mul', [out, e.scalar(1 / numel(axes.map((a) => d[a])), e.dtype(x))]);
    return [out];
  };
}

/**
 * Gradient of a convolution weight as another convolution: batch and channel swap roles, stride and dilation swap,
 * and the grouped layout is folded so one grouped Conv does it. For Conv, `inp` is X and `gr` is dY; for
 * ConvTranspose, `inp` is dY and `gr` is X. The result may overhang the kernel by the rows the forward
 * floor division dropped, so it is sliced to the kernel size.
 */
function weightGrad(
  e: Emitter,
  inp: string,
  inpDims: number[],
  gr: string,
  grDims: number[],
  c: { k: number[]; strides: number[]; dilations: number[]; pads: number[]; group: number },
): string {
  const sp = inpDims.length - 2;
  const gp = c.group;
  const [N, Ci] = inpDims;
  const rest = inpDims.slice(2);
  const perm = [2, 1, 0, ...Array.from({ length: sp }, (_, i) => i + 3)];
  // input: [N, Ci, ...] → [Ci/g, g·N, ...]
  const i5 = e.transpose(e.reshape(inp, [N, gp, Ci / gp, ...rest]), perm);
  const I = e.reshape(i5, [Ci / gp, gp * N, ...rest]);
  // weights: [N, Co, ...] → [Co, N, ...]
  const K = e.transpose(gr, [1, 0, ...Array.from({ length: sp }, (_, i) => i + 2)]);
  const pads = c.pads;
  const kk = grDims.slice(2);
  const o = e.op('Conv', [I, K], { strides: c.dilations, dilations: c.strides, pads, group: gp, kernel_shape: kk }); // [Ci/g, Co, k'...]
  const oDims = convOutDims(inpDims.slice(2), kk, c.dilations, c.strides, pads);
  const sliced = oDims.every((v, i) => v === c.k[i])
    ? o
    : e.op('Slice', [o, e.ints(c.k.map(() => 0)), e.ints(c.k), e.ints(c.k.map((_, i) => i + 2))]);
  const t = e.transpose(sliced, [1, 0, ...Array.from({ length: sp }, (_, i) => i + 2)]); // [Co, Ci/g, k...]
  return t;
}

function convOutDims(x: number[], k: number[], strides: number[], dilations: number[], pads: number[]): number[] {
  const sp = x.length;
  return x.map((v, i) => Math.floor((v + pads[i] + pads[i + sp] - dilations[i] * (k[i] - 1) - 1) / strides[i]) + 1);
}

/** Row-stochastic [out, in] matrix of 1-D linear interpolation under an ONNX coordinate transformation mode. */
export function linearWeights(inN: number, outN: number, ctm: string): Float64Array {
  const A = new Float64Array(outN * inN);
  const scale = outN / inN;
  for (let o = 0; o < outN; o++) {
    let s: number;
    if (ctm === 'align_corners') s = outN === 1 ? 0 : (o * (inN - 1)) / (outN - 1);
    else if (ctm === 'asymmetric') s = o / scale;
    else if (ctm === 'pytorch_half_pixel') s = outN > 1 ? (o + 0.5) / scale - 0.5 : 0;
    else s = (o + 0.5) / scale - 0.5;
    s = Math.min(Math.max(s, 0), inN - 1);
    const i0 = Math.floor(s);
    const i1 = Math.min(i0 + 1, inN - 1);
    const f = s - i0;
    A[o * inN + i0] += 1 - f;
    A[o * inN + i1] += f;
  }
  return A;
}

function broadcastBatch(a: number[], b: number[]): number[] {
  const ab = a.slice(0, -2);
  const bb = b.slice(0, -2);
  const r = Math.max(ab.length, bb.length);
  return Array.from({ length: r }, (_, i) => {
    const x = ab[ab.length - r + i] ?? 1;
    const y = bb[bb.length - r + i] ?? 1;
    return x === 1 ? y : x;
  });
}

function castCode(t: OnnxDType): number {
  return { float32: 1, float16: 10, float64: 11 }[t as 'float32'] ?? 1;
}

/** The op types {@link buildGradientGraph} can differentiate. */
export const DIFFERENTIABLE_OPS: readonly string[] = Object.keys(RULES);

/**
 * Emit a graph that computes `forward`'s outputs AND the gradients of the scalar `loss` w.r.t. each `wrt` value
 * (graph inputs or initializers), as extra outputs `grad_<name>` with the value's shape and dtype. Only standard ONNX
 * ops are emitted (see the module comment for the supported list), so the result runs on onnxruntime-web (wasm or
 * WebGPU). Shapes must be static (bind symbolic dims via `dims`).
 *
 * @example
 * const g = new Graph('f');
 * const x = g.input('x', 'float32', [2, 3]);
 * const w = g.floats(new Float32Array(12), [3, 4], 'w');
 * const loss = g.op('ReduceSum', [g.op('Tanh', [g.op('MatMul', [x, w])])], { keepdims: 0 });
 * g.output(loss, 'float32', []);
 * const gg = buildGradientGraph(g, { loss, wrt: ['w'] }); // outputs: the loss and grad_w [3, 4]
 */
export function buildGradientGraph(forward: Graph, opts: GradientOptions): Graph {
  const { loss, wrt } = opts;
  if (!Array.isArray(wrt) || wrt.length === 0)
    throw new HessError(
      'INVALID_ARGUMENT',
      'buildGradientGraph: wrt is empty',
      'pass the input or initializer names to differentiate',
    );
  const info = inferShapes(forward, opts.dims);
  const li = info.get(loss);
  if (!li) {
    throw new HessError(
      'INVALID_ARGUMENT',
      `buildGradientGraph: loss "${loss}" is not a value of graph ${forward.name}, or its shape cannot be inferred`,
      `supported ops: ${DIFFERENTIABLE_OPS.join(', ')}`,
    );
  }
  if (numel(li.dims) !== 1 || !FLOAT.has(li.dtype)) {
    throw new HessError(
      'INVALID_ARGUMENT',
      `buildGradientGraph: loss "${loss}" must be a float scalar, got ${li.dtype} ${JSON.stringify(li.dims)}`,
      'reduce it first, e.g. ReduceSum with keepdims=0',
    );
  }
  const sources = new Set(forward.inputList.map((v) => v.name));
  for (const n of forward.initializers.keys()) sources.add(n);
  for (const w of wrt) {
    if (!sources.has(w))
      throw new HessError(
        'INVALID_ARGUMENT',
        `buildGradientGraph: "${w}" is not an input or initializer of ${forward.name}`,
      );
    if (!FLOAT.has((info.get(w) as ValueInfo).dtype))
      throw new HessError('INVALID_ARGUMENT', `buildGradientGraph: "${w}" is not a float tensor`);
  }

  // Copy the forward graph verbatim (same value names), then append the backward pass.
  const g = new Graph(`${forward.name}_grad`);
  for (const v of forward.inputList) g.input(v.name, v.dtype, [...v.shape]);
  for (const [name, t] of forward.initializers) g.constant(t, name);
  for (const n of forward.nodeList)
    g.op(n.op, [...n.inputs], { ...n.attrs }, { outputs: [...n.outputs], domain: n.domain, name: n.name });
  for (const v of forward.outputList) g.output(v.name, v.dtype, [...v.shape]);

  // Values that depend on some wrt (forward sweep) and that the loss depends on (backward sweep).
  const nodes = forward.nodeList;
  const fromWrt = new Set(wrt);
  for (const n of nodes) {
    if (STOP.has(n.op)) continue;
    // outputs of unknown ops count as differentiable so that a path through them is reported, never cut silently
    if (n.inputs.some((i) => fromWrt.has(i)))
      for (const o of n.outputs) if (o && FLOAT.has(info.get(o)?.dtype ?? 'float32')) fromWrt.add(o);
  }
  const toLoss = new Set([loss]);
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (n.outputs.some((o) => toLoss.has(o))) for (const i of n.inputs) if (i) toLoss.add(i);
  }
  const active = (v: string) => fromWrt.has(v) && toLoss.has(v);

  // Reject undifferentiable ops on a gradient path up front, reporting the first one in graph order.
  for (const n of nodes) {
    if (!n.outputs.some((o) => o && active(o)) || !n.inputs.some((i) => i !== '' && active(i))) continue;
    if (!RULES[n.op] || (n.domain && n.domain !== 'ai.onnx') || n.outputs.some((o) => o && !info.has(o))) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `no gradient for ${n.op} (node ${n.name})`,
        `supported ops: ${DIFFERENTIABLE_OPS.join(', ')}; restructure the graph or stop the gradient before this node`,
      );
    }
    if ([...n.inputs, ...n.outputs].some((v) => v && active(v) && info.get(v)?.dtype === 'float16')) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `no gradient for ${n.op} (node ${n.name}) on float16 values`,
        'differentiate a float32 copy of the graph',
      );
    }
  }

  const e = new Emitter(g, info);
  const grads = new Map<string, string>();
  const accumulate = (v: string, gr: string) => {
    const prev = grads.get(v);
    grads.set(v, prev ? e.op('Add', [prev, gr]) : gr);
  };
  if (active(loss) || wrt.includes(loss)) {
    const ones =
      li.dtype === 'float64'
        ? tensorInit(new Float64Array(1).fill(1), li.dims)
        : tensorInit(new Float32Array(1).fill(1), li.dims);
    grads.set(loss, g.constant(ones));
  }
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    const gOut = n.outputs.map((o) => (o ? grads.get(o) : undefined));
    if (gOut.every((x) => x === undefined)) continue;
    const need = n.inputs.map((i) => i !== '' && active(i));
    if (!need.some(Boolean)) continue;
    const rule = RULES[n.op];
    if (!rule || (n.domain && n.domain !== 'ai.onnx')) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `no gradient for ${n.op} (node ${n.name})`,
        `supported ops: ${DIFFERENTIABLE_OPS.join(', ')}; restructure the graph or stop the gradient before this node`,
      );
    }
    const gIn = rule(e, n, gOut, need);
    n.inputs.forEach((i, j) => {
      if (need[j] && gIn[j]) accumulate(i, gIn[j] as string);
    });
  }
  for (const w of wrt) {
    const wi = info.get(w) as ValueInfo;
    const gr = grads.get(w) ?? e.zeros(wi.dims, wi.dtype);
    g.output(gr, wi.dtype, wi.dims, `grad_${w}`);
  }
  return g;
}
