import { HessError, check } from '../errors.js';
import { ProtoWriter } from './protobuf.js';

/** Element types we emit (ONNX TensorProto.DataType codes). */
export const OnnxType = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
} as const;
export type OnnxDType = keyof typeof OnnxType;

/** A dimension: a fixed size or a symbolic name ("S", "N"). */
export type Dim = number | string;

/** Attribute values. Integers become INT, other numbers FLOAT; use {@link floatAttr} to force a float. */
export type AttrValue = number | string | number[] | string[] | FloatAttr | FloatsAttr | TensorInit | Graph;
interface FloatAttr {
  kind: 'float';
  value: number;
}
interface FloatsAttr {
  kind: 'floats';
  value: number[];
}
/** Force a FLOAT attribute even for an integral value, e.g. `{ alpha: floatAttr(1) }`. */
export const floatAttr = (value: number): FloatAttr => ({ kind: 'float', value });
export const floatsAttr = (value: number[]): FloatsAttr => ({ kind: 'floats', value });

/** Constant tensor data: an initializer or a TENSOR attribute. */
export interface TensorInit {
  kind: 'tensor';
  dtype: OnnxDType;
  dims: number[];
  /** Little-endian raw bytes. */
  data: Uint8Array;
}

type Typed = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;

/** Wrap a typed array as constant tensor data. Uint16Array means float16 bit patterns. */
export function tensorInit(data: Typed, dims: number[], dtype?: OnnxDType): TensorInit {
  const inferred: OnnxDType =
    data instanceof Float32Array
      ? 'float32'
      : data instanceof Float64Array
        ? 'float64'
        : data instanceof Int32Array
          ? 'int32'
          : data instanceof BigInt64Array
            ? 'int64'
            : data instanceof Int8Array
              ? 'int8'
              : data instanceof Uint16Array
                ? 'float16'
                : 'uint8';
  const count = dims.reduce((a, b) => a * b, 1);
  check(count === data.length, `tensor ${JSON.stringify(dims)} needs ${count} elements, got ${data.length}`);
  return {
    kind: 'tensor',
    dtype: dtype ?? inferred,
    dims,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  domain: string;
  name: string;
}
interface ValueSpec {
  name: string;
  dtype: OnnxDType;
  shape: Dim[];
}
/** A node as stored by {@link Graph} (read-only view via `Graph.nodeList`). */
export type GraphNode = Readonly<NodeSpec>;
/** A graph input/output as stored by {@link Graph}. */
export type GraphValue = Readonly<ValueSpec>;

/**
 * A typed ONNX graph builder. Values are referred to by name (string); `op()` returns the output names.
 *
 * @example
 * const g = new Graph('tiny');
 * const x = g.input('x', 'float32', ['N', 4]);
 * const w = g.constant(tensorInit(new Float32Array(12), [4, 3]), 'w');
 * const y = g.op('Softmax', [g.op('MatMul', [x, w])], { axis: -1 });
 * g.output(y, 'float32', ['N', 3]);
 * const bytes = g.toModel().model; // → InferenceSession.create(bytes)
 */
export class Graph {
  readonly kind = 'graph';
  readonly name: string;
  private nodes: NodeSpec[] = [];
  private inputs: ValueSpec[] = [];
  private outputs: ValueSpec[] = [];
  private inits = new Map<string, TensorInit>();
  private names = new Set<string>();
  private counter = 0;

  constructor(name = 'graph') {
    this.name = name;
  }

  /** The nodes in insertion order, which is a topological order (inputs must exist before use). Read-only. */
  get nodeList(): readonly GraphNode[] {
    return this.nodes;
  }
  /** The declared graph inputs. Read-only. */
  get inputList(): readonly GraphValue[] {
    return this.inputs;
  }
  /** The declared graph outputs. Read-only. */
  get outputList(): readonly GraphValue[] {
    return this.outputs;
  }
  /** The initializers by name. Read-only. */
  get initializers(): ReadonlyMap<string, TensorInit> {
    return this.inits;
  }

  /** A fresh unique value name with the given prefix. */
  fresh(prefix = 'v'): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`;
    while (this.names.has(n));
    this.names.add(n);
    return n;
  }

  private claim(name: string): string {
    if (this.names.has(name))
      throw new HessError('INVALID_ARGUMENT', `ONNX graph ${this.name}: value name "${name}" is used twice`);
    this.names.add(name);
    return name;
  }

  input(name: string, dtype: OnnxDType, shape: Dim[]): string {
    this.inputs.push({ name: this.claim(name), dtype, shape });
    return name;
  }

  /** Mark `value` as a graph output (renamed through Identity when `as` is given). */
  output(value: string, dtype: OnnxDType, shape: Dim[], as?: string): string {
    let name = value;
    if (as && as !== value) name = this.op('Identity', [value], {}, { outputs: [as] })[0] as string;
    this.outputs.push({ name, dtype, shape });
    return name;
  }

  /** A named initializer (weights). Returns its name. */
  constant(t: TensorInit, name?: string): string {
    const n = name ? this.claim(name) : this.fresh('const');
    this.inits.set(n, t);
    return n;
  }

  /** Shorthand for small int64 constants (shapes, axes). */
  ints(values: number[], name?: string): string {
    return this.constant(tensorInit(BigInt64Array.from(values.map(BigInt)), [values.length]), name);
  }

  /** Shorthand for a float32 scalar or vector constant. */
  floats(values: number[] | Float32Array, dims?: number[], name?: string): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    return this.constant(tensorInit(data, dims ?? [data.length]), name);
  }

  /** Add a node. Returns its output names (one unless `outputs` says otherwise). Empty input names = omitted. */
  op(
    op: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: { outputs?: number | string[]; domain?: string; name?: string } = {},
  ): string[] & { 0: string } {
    for (const i of inputs) {
      if (i !== '' && !this.names.has(i))
        throw new HessError('INVALID_ARGUMENT', `ONNX graph ${this.name}: ${op} uses unknown value "${i}"`);
    }
    const outs = Array.isArray(opts.outputs)
      ? opts.outputs.map((o) => this.claim(o))
      : Array.from({ length: opts.outputs ?? 1 }, () => this.fresh(op.toLowerCase()));
    this.nodes.push({ op, inputs, outputs: outs, attrs, domain: opts.domain ?? '', name: opts.name ?? outs[0] });
    return outs as string[] & { 0: string };
  }

  /**
   * Encode as GraphProto fields into `w` (external data: initializers ≥ `threshold` bytes go to `ext`).
   * @internal Serialisation plumbing for toModel and graph-valued attributes.
   */
  encode(w: ProtoWriter, ext?: ExternalSink): void {
    for (const n of this.nodes) w.message(1, (m) => encodeNode(m, n, ext));
    w.string(2, this.name);
    for (const [name, t] of this.inits) w.message(5, (m) => encodeTensor(m, t, name, ext));
    for (const v of this.inputs) w.message(11, (m) => encodeValueInfo(m, v));
    for (const v of this.outputs) w.message(12, (m) => encodeValueInfo(m, v));
  }

  /**
   * Serialise to a ModelProto. With `externalData`, initializers of at least `threshold` bytes are written to one
   * external file (returned as bytes, to pass to ORT as `externalData: [{ path, data }]`); needed over 2 GB.
   */
  toModel(opts: { opset?: number; externalData?: { path: string; threshold?: number } } = {}): {
    model: Uint8Array;
    external?: Uint8Array;
  } {
    if (this.outputs.length === 0) throw new HessError('INVALID_ARGUMENT', `ONNX graph ${this.name} has no outputs`);
    const ext = opts.externalData
      ? new ExternalSink(opts.externalData.path, opts.externalData.threshold ?? 1024)
      : undefined;
    const opset = opts.opset ?? 17;
    const w = new ProtoWriter();
    w.int(1, opset >= 21 ? 10 : opset >= 19 ? 9 : 8); // the IR version each opset range requires
    w.string(2, 'hess-vggt');
    w.message(7, (g) => this.encode(g, ext));
    w.message(8, (o) => o.string(1, '').int(2, opset));
    if (this.nodes.some((n) => n.domain === 'com.microsoft'))
      w.message(8, (o) => o.string(1, 'com.microsoft').int(2, 1));
    return { model: w.finish(), external: ext?.finish() };
  }
}

/** Collects external initializer bytes into one file, 64-byte aligned. */
class ExternalSink {
  private parts: Uint8Array[] = [];
  private size = 0;
  constructor(
    readonly path: string,
    readonly threshold: number,
  ) {}
  add(data: Uint8Array): { offset: number; length: number } {
    const pad = (64 - (this.size % 64)) % 64;
    if (pad) this.parts.push(new Uint8Array(pad));
    const offset = this.size + pad;
    this.parts.push(data);
    this.size = offset + data.length;
    return { offset, length: data.length };
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function encodeNode(w: ProtoWriter, n: NodeSpec, ext?: ExternalSink): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs)) w.message(5, (a) => encodeAttr(a, k, v, ext));
  if (n.domain) w.string(7, n.domain);
}

function encodeAttr(w: ProtoWriter, name: string, v: AttrValue, ext?: ExternalSink): void {
  w.string(1, name);
  if (typeof v === 'number') {
    if (Number.isInteger(v)) w.int(3, v).int(20, 2);
    else w.float(2, v).int(20, 1);
  } else if (typeof v === 'string') {
    w.string(4, v).int(20, 3);
  } else if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) {
      for (const x of v as string[]) w.string(9, x);
      w.int(20, 8);
    } else if ((v as number[]).every(Number.isInteger)) {
      for (const x of v as number[]) w.int(8, x);
      w.int(20, 7);
    } else {
      for (const x of v as number[]) w.float(7, x);
      w.int(20, 6);
    }
  } else if (v.kind === 'float') {
    w.float(2, v.value).int(20, 1);
  } else if (v.kind === 'floats') {
    for (const x of v.value) w.float(7, x);
    w.int(20, 6);
  } else if (v.kind === 'tensor') {
    w.message(5, (t) => encodeTensor(t, v, name)).int(20, 4);
  } else {
    w.message(6, (g) => v.encode(g, ext)).int(20, 5);
  }
}

function encodeTensor(w: ProtoWriter, t: TensorInit, name: string, ext?: ExternalSink): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, OnnxType[t.dtype]);
  w.string(8, name);
  if (ext && t.data.length >= ext.threshold) {
    const { offset, length } = ext.add(t.data);
    for (const [k, val] of [
      ['location', ext.path],
      ['offset', String(offset)],
      ['length', String(length)],
    ]) {
      w.message(13, (e) => e.string(1, k).string(2, val));
    }
    w.int(14, 1);
  } else {
    w.bytes(9, t.data);
  }
}

function encodeValueInfo(w: ProtoWriter, v: ValueSpec): void {
  w.string(1, v.name);
  w.message(2, (tp) =>
    tp.message(1, (tt) => {
      tt.int(1, OnnxType[v.dtype]);
      tt.message(2, (sh) => {
        for (const d of v.shape) sh.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}
