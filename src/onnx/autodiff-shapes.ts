/**
 * Static shape (and small-constant) inference over a {@link Graph}, used by the reverse-mode differentiator:
 * gradients of broadcasting ops must be reduce-summed back to the input's shape, and we do that with shapes known
 * at build time rather than with Shape-op arithmetic at run time (smaller graphs, fewer ops for the EPs to support).
 */
import { HessError } from '../errors.js';
import { OnnxType, type AttrValue, type Graph, type GraphNode, type OnnxDType, type TensorInit } from './builder.js';

/** What we know about a value: static dims, element type and (for small constant tensors) the values. */
export interface ValueInfo {
  dims: number[];
  dtype: OnnxDType;
  /** Known element values (initializers, Constant, Shape outputs and what is folded from them). */
  value?: number[];
}

const CODE_TO_DTYPE = new Map<number, OnnxDType>(Object.entries(OnnxType).map(([k, v]) => [v, k as OnnxDType]));

export const numel = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** Decode constant tensor bytes to plain numbers (float16 is not decoded). */
export function tensorValues(t: TensorInit): number[] | undefined {
  const bytes = t.data.slice(); // aligned copy
  const b = bytes.buffer;
  switch (t.dtype) {
    case 'float32':
      return Array.from(new Float32Array(b));
    case 'float64':
      return Array.from(new Float64Array(b));
    case 'int32':
      return Array.from(new Int32Array(b));
    case 'int64':
      return Array.from(new BigInt64Array(b), Number);
    case 'int8':
      return Array.from(new Int8Array(b));
    case 'uint8':
    case 'bool':
      return Array.from(bytes);
    default:
      return undefined;
  }
}

/** Broadcast dims numpy-style; throws SHAPE_MISMATCH when they do not broadcast. */
export function broadcastDims(a: readonly number[], b: readonly number[], where = ''): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw new HessError(
        'SHAPE_MISMATCH',
        `${where}: shapes ${JSON.stringify(a)} and ${JSON.stringify(b)} do not broadcast`,
      );
    }
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** ONNX Slice semantics for one axis: the selected indices, in order. */
export function sliceIndices(dim: number, start: number, end: number, step: number): number[] {
  if (step === 0) throw new HessError('INVALID_ARGUMENT', 'Slice step 0');
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, -1, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
  return out;
}

const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);
const attrNum = (n: GraphNode, k: string, d: number): number => {
  const v = n.attrs[k];
  if (v === undefined) return d;
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && !Array.isArray(v) && v.kind === 'float') return v.value;
  throw new HessError('INVALID_ARGUMENT', `${n.op} ${n.name}: attribute ${k} is not a number`);
};
const attrInts = (n: GraphNode, k: string): number[] | undefined => {
  const v = n.attrs[k];
  return Array.isArray(v) ? (v as number[]) : undefined;
};
export { attrNum, attrInts };

const UNARY = new Set([
  'Identity',
  'Neg',
  'Exp',
  'Log',
  'Sqrt',
  'Erf',
  'Tanh',
  'Sigmoid',
  'Relu',
  'Softmax',
  'LogSoftmax',
  'Abs',
  'Reciprocal',
  'Sin',
  'Cos',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Not',
]);
const BINARY = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Max',
  'Min',
  'Greater',
  'Less',
  'Equal',
  'GreaterOrEqual',
  'LessOrEqual',
  'And',
  'Or',
]);
const KNOWN = new Set([
  ...UNARY,
  ...BINARY,
  'Constant',
  'Cast',
  'Shape',
  'Where',
  'MatMul',
  'Gemm',
  'ReduceSum',
  'ReduceMean',
  'ReduceMax',
  'ReduceMin',
  'ReduceSumSquare',
  'ReduceL2',
  'Reshape',
  'Expand',
  'Transpose',
  'Concat',
  'Split',
  'Slice',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Flatten',
  'Pad',
  'Conv',
  'ConvTranspose',
  'Resize',
  'LayerNormalization',
]);
const COMPARE = new Set(['Greater', 'Less', 'Equal', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Not']);

/** Axes of a reduction node (attribute before opset 18 for most reductions, input for ReduceSum ≥ 13). */
export function reduceAxes(n: GraphNode, rank: number, info: (v: string) => ValueInfo): number[] {
  let axes = attrInts(n, 'axes');
  if (!axes && n.inputs[1]) {
    axes = info(n.inputs[1]).value;
    if (!axes) throw new HessError('INVALID_ARGUMENT', `${n.op} ${n.name}: axes must be a constant to differentiate`);
  }
  if (!axes || axes.length === 0)
    return attrNum(n, 'noop_with_empty_axes', 0) ? [] : Array.from({ length: rank }, (_, i) => i);
  return axes.map((a) => norm(a, rank)).sort((a, b) => a - b);
}

/**
 * Infer static dims (and fold small constants) for every value of `g`. Input dims must be numbers, or symbols bound
 * in `dims`. Values produced by ops outside the supported set (or downstream of them) are absent from the map.
 *
 * @example
 * const info = inferShapes(graph, { S: 4 }); info.get('y')!.dims; // e.g. [4, 3]
 */
export function inferShapes(g: Graph, dims: Record<string, number> = {}): Map<string, ValueInfo> {
  const m = new Map<string, ValueInfo>();
  for (const v of g.inputList) {
    const d = v.shape.map((x) => {
      const n = typeof x === 'number' ? x : dims[x];
      if (n === undefined) {
        throw new HessError(
          'INVALID_ARGUMENT',
          `input ${v.name} has symbolic dim "${x}"`,
          `bind it: buildGradientGraph(g, { ..., dims: { ${x}: <size> } })`,
        );
      }
      return n;
    });
    m.set(v.name, { dims: d, dtype: v.dtype });
  }
  for (const [name, t] of g.initializers) {
    m.set(name, { dims: [...t.dims], dtype: t.dtype, value: numel(t.dims) <= 4096 ? tensorValues(t) : undefined });
  }
  const info = (v: string): ValueInfo => {
    const i = m.get(v);
    if (!i) throw new HessError('INVALID_ARGUMENT', `value ${v} has no known shape`);
    return i;
  };
  for (const n of g.nodeList) {
    // An op we cannot infer leaves its outputs (and everything downstream) without info; the differentiator only
    // fails if such a value lies on a gradient path, so graphs with unrelated exotic ops still work.
    if (!KNOWN.has(n.op) || n.inputs.some((i) => i !== '' && !m.has(i))) continue;
    const outs = inferNode(n, info);
    n.outputs.forEach((o, i) => {
      if (o) m.set(o, outs[i] ?? outs[0]);
    });
  }
  return m;
}

function inferNode(n: GraphNode, info: (v: string) => ValueInfo): ValueInfo[] {
  const x = n.inputs[0] ? info(n.inputs[0]) : undefined;
  const need = (): ValueInfo =>
    x ??
    (() => {
      throw new HessError('INVALID_ARGUMENT', `${n.op} ${n.name} has no input`);
    })();
  const op = n.op;
  if (UNARY.has(op)) return [{ dims: [...need().dims], dtype: COMPARE.has(op) ? 'bool' : need().dtype }];
  if (BINARY.has(op)) {
    const a = need();
    const b = info(n.inputs[1]);
    const dims = broadcastDims(a.dims, b.dims, `${op} ${n.name}`);
    return [{ dims, dtype: COMPARE.has(op) ? 'bool' : a.dtype }];
  }
  switch (op) {
    case 'Constant': {
      const v = n.attrs.value as AttrValue | undefined;
      if (v && typeof v === 'object' && !Array.isArray(v) && v.kind === 'tensor')
        return [{ dims: [...v.dims], dtype: v.dtype, value: tensorValues(v) }];
      if (n.attrs.value_float !== undefined)
        return [{ dims: [], dtype: 'float32', value: [attrNum(n, 'value_float', 0)] }];
      if (n.attrs.value_int !== undefined) return [{ dims: [], dtype: 'int64', value: [attrNum(n, 'value_int', 0)] }];
      const ints = attrInts(n, 'value_ints');
      if (ints) return [{ dims: [ints.length], dtype: 'int64', value: ints }];
      break;
    }
    case 'Cast': {
      const to = CODE_TO_DTYPE.get(attrNum(n, 'to', 1));
      if (!to) break;
      return [{ dims: [...need().dims], dtype: to, value: need().value }];
    }
    case 'Shape': {
      const d = need().dims;
      const r = d.length;
      const s = norm(attrNum(n, 'start', 0), r);
      const e = n.attrs.end === undefined ? r : norm(attrNum(n, 'end', r), r);
      const value = d.slice(Math.max(0, s), Math.min(r, e));
      return [{ dims: [value.length], dtype: 'int64', value }];
    }
    case 'Where': {
      const a = info(n.inputs[1]);
      const b = info(n.inputs[2]);
      return [
        { dims: broadcastDims(broadcastDims(need().dims, a.dims, op), b.dims, `${op} ${n.name}`), dtype: a.dtype },
      ];
    }
    case 'MatMul': {
      const a = need().dims;
      const b = info(n.inputs[1]).dims;
      const a2 = a.length === 1 ? [1, a[0]] : a;
      const b2 = b.length === 1 ? [b[0], 1] : b;
      if (a2[a2.length - 1] !== b2[b2.length - 2]) {
        throw new HessError('SHAPE_MISMATCH', `MatMul ${n.name}: ${JSON.stringify(a)} × ${JSON.stringify(b)}`);
      }
      const batch = broadcastDims(a2.slice(0, -2), b2.slice(0, -2), `MatMul ${n.name}`);
      const out = [
        ...batch,
        ...(a.length === 1 ? [] : [a2[a2.length - 2]]),
        ...(b.length === 1 ? [] : [b2[b2.length - 1]]),
      ];
      return [{ dims: out, dtype: need().dtype }];
    }
    case 'Gemm': {
      const a = need().dims;
      const b = info(n.inputs[1]).dims;
      const M = attrNum(n, 'transA', 0) ? a[1] : a[0];
      const N = attrNum(n, 'transB', 0) ? b[0] : b[1];
      return [{ dims: [M, N], dtype: need().dtype }];
    }
    case 'ReduceSum':
    case 'ReduceMean':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceSumSquare':
    case 'ReduceL2': {
      const d = need().dims;
      const axes = reduceAxes(n, d.length, info);
      const keep = attrNum(n, 'keepdims', 1);
      const dims = keep ? d.map((v, i) => (axes.includes(i) ? 1 : v)) : d.filter((_, i) => !axes.includes(i));
      return [{ dims, dtype: need().dtype }];
    }
    case 'Reshape':
    case 'Expand': {
      const s = info(n.inputs[1]).value;
      if (!s)
        throw new HessError(
          'INVALID_ARGUMENT',
          `${op} ${n.name}: the shape input must be a constant (static shapes only)`,
        );
      const d = need().dims;
      if (op === 'Expand') return [{ dims: broadcastDims(d, s, `Expand ${n.name}`), dtype: need().dtype }];
      const out = s.map((v, i) => (v === 0 && !attrNum(n, 'allowzero', 0) ? d[i] : v));
      const k = out.indexOf(-1);
      if (k >= 0) out[k] = numel(d) / numel(out.filter((_, i) => i !== k));
      if (numel(out) !== numel(d))
        throw new HessError('SHAPE_MISMATCH', `Reshape ${n.name}: ${JSON.stringify(d)} → ${JSON.stringify(s)}`);
      return [{ dims: out, dtype: need().dtype, value: need().value }];
    }
    case 'Transpose': {
      const d = need().dims;
      const perm = attrInts(n, 'perm') ?? d.map((_, i) => d.length - 1 - i);
      return [{ dims: perm.map((p) => d[p]), dtype: need().dtype }];
    }
    case 'Concat': {
      const ins = n.inputs.map(info);
      const r = ins[0].dims.length;
      const axis = norm(attrNum(n, 'axis', 0), r);
      const dims = [...ins[0].dims];
      dims[axis] = ins.reduce((s, v) => s + v.dims[axis], 0);
      const value = ins.every((v) => v.value) ? ins.flatMap((v) => v.value as number[]) : undefined;
      return [{ dims, dtype: ins[0].dtype, value: r === 1 ? value : undefined }];
    }
    case 'Split': {
      const d = need().dims;
      const axis = norm(attrNum(n, 'axis', 0), d.length);
      let parts = n.inputs[1] ? info(n.inputs[1]).value : attrInts(n, 'split');
      if (!parts) {
        const k = n.outputs.length;
        const each = Math.ceil(d[axis] / k);
        parts = Array.from({ length: k }, (_, i) => Math.min(each, d[axis] - i * each));
      }
      return parts.map((p) => {
        const o = [...d];
        o[axis] = p;
        return { dims: o, dtype: need().dtype };
      });
    }
    case 'Slice': {
      const d = need().dims;
      const { axes, idx } = sliceSpec(n, d, info);
      const dims = [...d];
      axes.forEach((a, i) => {
        dims[a] = idx[i].length;
      });
      let value: number[] | undefined;
      if (d.length === 1 && need().value && axes.length === 1) value = idx[0].map((i) => (need().value as number[])[i]);
      return [{ dims, dtype: need().dtype, value }];
    }
    case 'Gather': {
      const d = need().dims;
      const axis = norm(attrNum(n, 'axis', 0), d.length);
      const ind = info(n.inputs[1]);
      const dims = [...d.slice(0, axis), ...ind.dims, ...d.slice(axis + 1)];
      let value: number[] | undefined;
      if (d.length === 1 && need().value && ind.value)
        value = ind.value.map((i) => (need().value as number[])[i < 0 ? i + d[0] : i]);
      return [{ dims, dtype: need().dtype, value }];
    }
    case 'Unsqueeze': {
      const d = need().dims;
      const axesV = n.inputs[1] ? info(n.inputs[1]).value : attrInts(n, 'axes');
      if (!axesV) throw new HessError('INVALID_ARGUMENT', `Unsqueeze ${n.name}: axes must be constant`);
      const r = d.length + axesV.length;
      const axes = axesV.map((a) => norm(a, r));
      const out: number[] = [];
      let j = 0;
      for (let i = 0; i < r; i++) out.push(axes.includes(i) ? 1 : d[j++]);
      return [{ dims: out, dtype: need().dtype, value: need().value }];
    }
    case 'Squeeze': {
      const d = need().dims;
      const axesV = n.inputs[1] ? info(n.inputs[1]).value : attrInts(n, 'axes');
      const axes = axesV ? axesV.map((a) => norm(a, d.length)) : d.flatMap((v, i) => (v === 1 ? [i] : []));
      return [{ dims: d.filter((_, i) => !axes.includes(i)), dtype: need().dtype, value: need().value }];
    }
    case 'Flatten': {
      const d = need().dims;
      const axis = norm(attrNum(n, 'axis', 1), d.length);
      return [{ dims: [numel(d.slice(0, axis)), numel(d.slice(axis))], dtype: need().dtype }];
    }
    case 'Pad': {
      const d = need().dims;
      const pads = info(n.inputs[1]).value;
      if (!pads) throw new HessError('INVALID_ARGUMENT', `Pad ${n.name}: pads must be constant`);
      return [{ dims: d.map((v, i) => v + pads[i] + pads[i + d.length]), dtype: need().dtype }];
    }
    case 'Conv':
    case 'ConvTranspose': {
      const c = convSpec(n, need().dims, info(n.inputs[1]).dims);
      return [{ dims: c.out, dtype: need().dtype }];
    }
    case 'Resize': {
      const d = need().dims;
      const sizes = n.inputs[3] ? info(n.inputs[3]).value : undefined;
      const scales = n.inputs[2] ? info(n.inputs[2]).value : undefined;
      if (sizes?.length) return [{ dims: [...sizes], dtype: need().dtype }];
      if (scales?.length) return [{ dims: d.map((v, i) => Math.floor(v * scales[i])), dtype: need().dtype }];
      throw new HessError('INVALID_ARGUMENT', `Resize ${n.name}: scales or sizes must be constants`);
    }
    case 'LayerNormalization': {
      const d = need().dims;
      const axis = norm(attrNum(n, 'axis', -1), d.length);
      const stat = d.map((v, i) => (i >= axis ? 1 : v));
      return [
        { dims: [...d], dtype: need().dtype },
        { dims: stat, dtype: 'float32' },
        { dims: stat, dtype: 'float32' },
      ];
    }
  }
  throw new HessError(
    'INVALID_ARGUMENT',
    `cannot infer the static shape of ${op} (node ${n.name})`,
    'the differentiator supports the ops listed in src/onnx/autodiff.ts',
  );
}

/** Resolved Slice: the axes it touches and the selected indices per axis (static starts/ends/axes/steps only). */
export function sliceSpec(
  n: GraphNode,
  d: number[],
  info: (v: string) => ValueInfo,
): { axes: number[]; idx: number[][] } {
  const get = (i: number): number[] | undefined => {
    if (!n.inputs[i]) return undefined;
    const v = info(n.inputs[i]).value;
    if (!v) throw new HessError('INVALID_ARGUMENT', `Slice ${n.name}: starts/ends/axes/steps must be constants`);
    return v;
  };
  const starts = get(1) ?? attrInts(n, 'starts') ?? [];
  const ends = get(2) ?? attrInts(n, 'ends') ?? [];
  const axes = (get(3) ?? attrInts(n, 'axes') ?? starts.map((_, i) => i)).map((a) => norm(a, d.length));
  const steps = get(4) ?? starts.map(() => 1);
  return { axes, idx: axes.map((a, i) => sliceIndices(d[a], starts[i], ends[i], steps[i])) };
}

/** Resolved Conv / ConvTranspose geometry (explicit pads only; auto_pad other than NOTSET is rejected). */
export interface ConvSpec {
  k: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  group: number;
  outputPadding: number[];
  out: number[];
}

export function convSpec(n: GraphNode, x: number[], w: number[]): ConvSpec {
  const sp = x.length - 2;
  const autoPad = n.attrs.auto_pad;
  if (autoPad !== undefined && autoPad !== 'NOTSET') {
    throw new HessError(
      'INVALID_ARGUMENT',
      `${n.op} ${n.name}: auto_pad=${String(autoPad)} is not supported`,
      'give explicit pads',
    );
  }
  if (n.attrs.output_shape !== undefined)
    throw new HessError(
      'INVALID_ARGUMENT',
      `${n.op} ${n.name}: output_shape is not supported`,
      'give explicit pads/output_padding',
    );
  const k = attrInts(n, 'kernel_shape') ?? w.slice(2);
  const ones = new Array<number>(sp).fill(1);
  const strides = attrInts(n, 'strides') ?? ones;
  const dilations = attrInts(n, 'dilations') ?? ones;
  const pads = attrInts(n, 'pads') ?? new Array<number>(2 * sp).fill(0);
  const group = attrNum(n, 'group', 1);
  const outputPadding = attrInts(n, 'output_padding') ?? new Array<number>(sp).fill(0);
  const span = (i: number) => dilations[i] * (k[i] - 1) + 1;
  const out =
    n.op === 'Conv'
      ? [x[0], w[0], ...k.map((_, i) => Math.floor((x[i + 2] + pads[i] + pads[i + sp] - span(i)) / strides[i]) + 1)]
      : [
          x[0],
          w[1] * group,
          ...k.map((_, i) => strides[i] * (x[i + 2] - 1) + outputPadding[i] + span(i) - pads[i] - pads[i + sp]),
        ];
  return { k, strides, dilations, pads, group, outputPadding, out };
}
