// A small float64 reference interpreter for the ONNX ops our builder emits (forward and backward). It is written
// independently of src/onnx/autodiff*.ts so that finite differences and backward graphs are checked against it.
import type { Graph, GraphNode, TensorInit } from '../../../src/onnx/builder.js';

export interface T {
  dims: number[];
  data: Float64Array;
}

const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
const strides = (d: number[]) => {
  const s = new Array(d.length).fill(1);
  for (let i = d.length - 2; i >= 0; i--) s[i] = s[i + 1] * d[i + 1];
  return s;
};
const nrm = (a: number, r: number) => (a < 0 ? a + r : a);

export function fromInit(t: TensorInit): T {
  const b = t.data.slice().buffer;
  const arr: ArrayLike<number> =
    t.dtype === 'float32'
      ? new Float32Array(b)
      : t.dtype === 'float64'
        ? new Float64Array(b)
        : t.dtype === 'int32'
          ? new Int32Array(b)
          : t.dtype === 'int64'
            ? Array.from(new BigInt64Array(b), Number)
            : t.dtype === 'int8'
              ? new Int8Array(b)
              : new Uint8Array(b);
  return { dims: [...t.dims], data: Float64Array.from(arr) };
}

/** Iterate every output index of `out` dims, giving flat offsets into each broadcast input. */
function bcast(ins: T[], f: (...v: number[]) => number): T {
  const r = Math.max(...ins.map((t) => t.dims.length));
  const pad = ins.map((t) => [...new Array(r - t.dims.length).fill(1), ...t.dims]);
  const dims = Array.from({ length: r }, (_, i) => Math.max(...pad.map((p) => p[i])));
  for (const p of pad)
    p.forEach((v, i) => {
      if (v !== 1 && v !== dims[i]) throw new Error(`bcast ${JSON.stringify(pad)}`);
    });
  const st = pad.map(strides);
  const n = size(dims);
  const out = new Float64Array(n);
  const idx = new Array(r).fill(0);
  const vals = new Array(ins.length);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < ins.length; j++) {
      let o = 0;
      for (let i = 0; i < r; i++) if (pad[j][i] !== 1) o += idx[i] * st[j][i];
      vals[j] = ins[j].data[o];
    }
    out[k] = f(...vals);
    for (let i = r - 1; i >= 0; i--) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
  return { dims, data: out };
}

function erf(x: number): number {
  if (Math.abs(x) > 5) return Math.sign(x);
  // Maclaurin series: exact to ~1e-10 for |x| ≤ 5 in float64, good enough for finite differences at h = 1e-5
  let sum = 0;
  let term = x;
  let n = 0;
  while (Math.abs(term) > 1e-17 * Math.max(1, Math.abs(sum)) || n < 3) {
    sum += term / (2 * n + 1);
    n++;
    term *= (-x * x) / n;
    if (n > 200) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

function transpose(x: T, perm: number[]): T {
  const dims = perm.map((p) => x.dims[p]);
  const st = strides(x.dims);
  const n = size(dims);
  const out = new Float64Array(n);
  const idx = new Array(dims.length).fill(0);
  for (let k = 0; k < n; k++) {
    let o = 0;
    for (let i = 0; i < dims.length; i++) o += idx[i] * st[perm[i]];
    out[k] = x.data[o];
    for (let i = dims.length - 1; i >= 0; i--) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
  return { dims, data: out };
}

function reduce(x: T, axes: number[], keep: boolean, f: 'sum' | 'mean' | 'max'): T {
  const r = x.dims.length;
  const ax = axes.length ? axes.map((a) => nrm(a, r)) : x.dims.map((_, i) => i);
  const kd = x.dims.map((d, i) => (ax.includes(i) ? 1 : d));
  const ks = strides(kd);
  const out = new Float64Array(size(kd)).fill(f === 'max' ? -Infinity : 0);
  const idx = new Array(r).fill(0);
  for (let k = 0; k < x.data.length; k++) {
    let o = 0;
    for (let i = 0; i < r; i++) if (!ax.includes(i)) o += idx[i] * ks[i];
    out[o] = f === 'max' ? Math.max(out[o], x.data[k]) : out[o] + x.data[k];
    for (let i = r - 1; i >= 0; i--) {
      if (++idx[i] < x.dims[i]) break;
      idx[i] = 0;
    }
  }
  if (f === 'mean') {
    const c = size(ax.map((a) => x.dims[a]));
    for (let i = 0; i < out.length; i++) out[i] /= c;
  }
  return { dims: keep ? kd : x.dims.filter((_, i) => !ax.includes(i)), data: out };
}

function matmul(a: T, b: T): T {
  const a2 = a.dims.length === 1 ? { dims: [1, a.dims[0]], data: a.data } : a;
  const b2 = b.dims.length === 1 ? { dims: [b.dims[0], 1], data: b.data } : b;
  const M = a2.dims[a2.dims.length - 2];
  const K = a2.dims[a2.dims.length - 1];
  const N = b2.dims[b2.dims.length - 1];
  if (b2.dims[b2.dims.length - 2] !== K) throw new Error('matmul K');
  const ab = a2.dims.slice(0, -2);
  const bb = b2.dims.slice(0, -2);
  const r = Math.max(ab.length, bb.length);
  const pa = [...new Array(r - ab.length).fill(1), ...ab];
  const pb = [...new Array(r - bb.length).fill(1), ...bb];
  const batch = pa.map((v, i) => Math.max(v, pb[i]));
  const sa = strides(pa);
  const sb = strides(pb);
  const nb = size(batch);
  const out = new Float64Array(nb * M * N);
  const idx = new Array(r).fill(0);
  for (let q = 0; q < nb; q++) {
    let oa = 0;
    let ob = 0;
    for (let i = 0; i < r; i++) {
      if (pa[i] !== 1) oa += idx[i] * sa[i];
      if (pb[i] !== 1) ob += idx[i] * sb[i];
    }
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a2.data[(oa * M + m) * K + k] * b2.data[(ob * K + k) * N + n];
        out[(q * M + m) * N + n] = s;
      }
    for (let i = r - 1; i >= 0; i--) {
      if (++idx[i] < batch[i]) break;
      idx[i] = 0;
    }
  }
  const dims = [...batch, ...(a.dims.length === 1 ? [] : [M]), ...(b.dims.length === 1 ? [] : [N])];
  return { dims, data: out };
}

function sliceIdx(dim: number, start: number, end: number, step: number): number[] {
  const cl = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = cl(s, 0, dim);
    e = cl(e, 0, dim);
  } else {
    s = cl(s, -1, dim - 1);
    e = cl(e, -1, dim - 1);
  }
  const o: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) o.push(i);
  return o;
}

/** Select per-axis index lists (a general gather over several axes). */
function pick(x: T, sel: (number[] | null)[]): T {
  const dims = x.dims.map((d, i) => (sel[i] ? (sel[i] as number[]).length : d));
  const st = strides(x.dims);
  const n = size(dims);
  const out = new Float64Array(n);
  const idx = new Array(dims.length).fill(0);
  for (let k = 0; k < n; k++) {
    let o = 0;
    for (let i = 0; i < dims.length; i++) o += (sel[i] ? (sel[i] as number[])[idx[i]] : idx[i]) * st[i];
    out[k] = x.data[o];
    for (let i = dims.length - 1; i >= 0; i--) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
  return { dims, data: out };
}

const num = (n: GraphNode, k: string, d: number): number => {
  const v = n.attrs[k];
  if (v === undefined) return d;
  return typeof v === 'number' ? v : (v as { value: number }).value;
};
const ints = (n: GraphNode, k: string) => n.attrs[k] as number[] | undefined;
const vals = (t?: T) => (t ? Array.from(t.data) : undefined);

function run(n: GraphNode, x: (T | undefined)[]): T[] {
  const [a, b, c] = x as T[];
  const u = (f: (v: number) => number) => [{ dims: [...a.dims], data: a.data.map(f) }];
  const bin = (f: (p: number, q: number) => number) => [bcast([a, b], f)];
  switch (n.op) {
    case 'Identity':
    case 'Cast':
      return [a];
    case 'Neg':
      return u((v) => -v);
    case 'Abs':
      return u(Math.abs);
    case 'HardSwish':
      return u((v) => v * Math.max(0, Math.min(1, v / 6 + 0.5)));
    case 'Exp':
      return u(Math.exp);
    case 'Log':
      return u(Math.log);
    case 'Sqrt':
      return u(Math.sqrt);
    case 'Erf':
      return u(erf);
    case 'Tanh':
      return u(Math.tanh);
    case 'Sigmoid':
      return u((v) => 1 / (1 + Math.exp(-v)));
    case 'Relu':
      return u((v) => (v > 0 ? v : 0));
    case 'Add':
      return bin((p, q) => p + q);
    case 'Sub':
      return bin((p, q) => p - q);
    case 'Mul':
      return bin((p, q) => p * q);
    case 'Div':
      return bin((p, q) => p / q);
    case 'Pow':
      return bin((p, q) => p ** q);
    case 'Greater':
      return bin((p, q) => (p > q ? 1 : 0));
    case 'Where':
      return [bcast([a, b, c], (s, p, q) => (s ? p : q))];
    case 'MatMul':
      return [matmul(a, b)];
    case 'Gemm': {
      const A = num(n, 'transA', 0) ? transpose(a, [1, 0]) : a;
      const B = num(n, 'transB', 0) ? transpose(b, [1, 0]) : b;
      const al = num(n, 'alpha', 1);
      const be = num(n, 'beta', 1);
      const ab = matmul(A, B);
      return [c ? bcast([ab, c], (p, q) => al * p + be * q) : { dims: ab.dims, data: ab.data.map((v) => al * v) }];
    }
    case 'Softmax':
    case 'LogSoftmax': {
      const ax = nrm(num(n, 'axis', -1), a.dims.length);
      const mx = reduce(a, [ax], true, 'max');
      const ex = bcast([a, mx], (p, q) => Math.exp(p - q));
      const s = reduce(ex, [ax], true, 'sum');
      if (n.op === 'Softmax') return [bcast([ex, s], (p, q) => p / q)];
      return [bcast([a, mx, s], (p, m, q) => p - m - Math.log(q))];
    }
    case 'ReduceSum':
    case 'ReduceMean': {
      const axes = ints(n, 'axes') ?? vals(b) ?? [];
      if (!axes.length && num(n, 'noop_with_empty_axes', 0)) return [a];
      return [reduce(a, axes, num(n, 'keepdims', 1) === 1, n.op === 'ReduceSum' ? 'sum' : 'mean')];
    }
    case 'Reshape': {
      const s = vals(b) as number[];
      const d = s.map((v, i) => (v === 0 ? a.dims[i] : v));
      const k = d.indexOf(-1);
      if (k >= 0) d[k] = size(a.dims) / size(d.filter((_, i) => i !== k));
      if (size(d) !== size(a.dims)) throw new Error('reshape size');
      return [{ dims: d, data: a.data }];
    }
    case 'Flatten': {
      const ax = nrm(num(n, 'axis', 1), a.dims.length);
      return [{ dims: [size(a.dims.slice(0, ax)), size(a.dims.slice(ax))], data: a.data }];
    }
    case 'Transpose':
      return [transpose(a, ints(n, 'perm') ?? a.dims.map((_, i) => a.dims.length - 1 - i))];
    case 'Expand':
      return [bcast([a, { dims: vals(b) as number[], data: new Float64Array(size(vals(b) as number[])) }], (p) => p)];
    case 'Concat': {
      const ts = x as T[];
      const ax = nrm(num(n, 'axis', 0), a.dims.length);
      const dims = [...a.dims];
      dims[ax] = ts.reduce((s, t) => s + t.dims[ax], 0);
      const outer = size(dims.slice(0, ax));
      const out = new Float64Array(size(dims));
      let o = 0;
      for (let q = 0; q < outer; q++)
        for (const t of ts) {
          const blk = size(t.dims.slice(ax));
          out.set(t.data.subarray(q * blk, (q + 1) * blk), o);
          o += blk;
        }
      return [{ dims, data: out }];
    }
    case 'Split': {
      const ax = nrm(num(n, 'axis', 0), a.dims.length);
      const parts = vals(b) ?? Array.from({ length: n.outputs.length }, () => a.dims[ax] / n.outputs.length);
      let off = 0;
      return parts.map((p) => {
        const sel: (number[] | null)[] = a.dims.map(() => null);
        sel[ax] = Array.from({ length: p }, (_, i) => off + i);
        off += p;
        return pick(a, sel);
      });
    }
    case 'Slice': {
      const st = vals(b) as number[];
      const en = vals(c) as number[];
      const axes = (vals(x[3]) ?? st.map((_, i) => i)).map((v) => nrm(v, a.dims.length));
      const steps = vals(x[4]) ?? st.map(() => 1);
      const sel: (number[] | null)[] = a.dims.map(() => null);
      axes.forEach((ax, i) => {
        sel[ax] = sliceIdx(a.dims[ax], st[i], en[i], steps[i]);
      });
      return [pick(a, sel)];
    }
    case 'Gather': {
      const ax = nrm(num(n, 'axis', 0), a.dims.length);
      const iv = (vals(b) as number[]).map((v) => (v < 0 ? v + a.dims[ax] : v));
      const sel: (number[] | null)[] = a.dims.map(() => null);
      sel[ax] = iv;
      const r = pick(a, sel);
      return [{ dims: [...a.dims.slice(0, ax), ...b.dims, ...a.dims.slice(ax + 1)], data: r.data }];
    }
    case 'Unsqueeze': {
      const axes = ints(n, 'axes') ?? (vals(b) as number[]);
      const r = a.dims.length + axes.length;
      const ax = axes.map((v) => nrm(v, r));
      const d: number[] = [];
      let j = 0;
      for (let i = 0; i < r; i++) d.push(ax.includes(i) ? 1 : a.dims[j++]);
      return [{ dims: d, data: a.data }];
    }
    case 'Squeeze': {
      const axes = (ints(n, 'axes') ?? vals(b))?.map((v) => nrm(v, a.dims.length));
      return [{ dims: a.dims.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)), data: a.data }];
    }
    case 'Pad': {
      const p = vals(b) as number[];
      const r = a.dims.length;
      const dims = a.dims.map((d, i) => d + p[i] + p[i + r]);
      const out = { dims, data: new Float64Array(size(dims)) };
      const so = strides(dims);
      const idx = new Array(r).fill(0);
      for (let k = 0; k < a.data.length; k++) {
        let o = 0;
        for (let i = 0; i < r; i++) o += (idx[i] + p[i]) * so[i];
        out.data[o] = a.data[k];
        for (let i = r - 1; i >= 0; i--) {
          if (++idx[i] < a.dims[i]) break;
          idx[i] = 0;
        }
      }
      return [out];
    }
    case 'Conv':
    case 'ConvTranspose': {
      if (a.dims.length !== 4) throw new Error('ref-eval: 2-D convolutions only');
      const [N, Ci, H, W] = a.dims;
      const [w0, w1, kH, kW] = b.dims;
      const s = ints(n, 'strides') ?? [1, 1];
      const d = ints(n, 'dilations') ?? [1, 1];
      const p = ints(n, 'pads') ?? [0, 0, 0, 0];
      const G = num(n, 'group', 1);
      const op = ints(n, 'output_padding') ?? [0, 0];
      const at = (t: T, i: number[]) => {
        let o = 0;
        for (let q = 0; q < 4; q++) o = o * t.dims[q] + i[q];
        return o;
      };
      if (n.op === 'Conv') {
        const Co = w0;
        const Ho = Math.floor((H + p[0] + p[2] - d[0] * (kH - 1) - 1) / s[0]) + 1;
        const Wo = Math.floor((W + p[1] + p[3] - d[1] * (kW - 1) - 1) / s[1]) + 1;
        const y: T = { dims: [N, Co, Ho, Wo], data: new Float64Array(N * Co * Ho * Wo) };
        for (let b0 = 0; b0 < N; b0++)
          for (let co = 0; co < Co; co++) {
            const gi = Math.floor(co / (Co / G));
            for (let oh = 0; oh < Ho; oh++)
              for (let ow = 0; ow < Wo; ow++) {
                let acc = c ? c.data[co] : 0;
                for (let cl = 0; cl < w1; cl++)
                  for (let kh = 0; kh < kH; kh++)
                    for (let kw = 0; kw < kW; kw++) {
                      const ih = oh * s[0] + kh * d[0] - p[0];
                      const iw = ow * s[1] + kw * d[1] - p[1];
                      if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
                      acc += a.data[at(a, [b0, gi * w1 + cl, ih, iw])] * b.data[at(b, [co, cl, kh, kw])];
                    }
                y.data[at(y, [b0, co, oh, ow])] = acc;
              }
          }
        return [y];
      }
      const M = w1 * G;
      const Ho = s[0] * (H - 1) + op[0] + d[0] * (kH - 1) + 1 - p[0] - p[2];
      const Wo = s[1] * (W - 1) + op[1] + d[1] * (kW - 1) + 1 - p[1] - p[3];
      const y: T = { dims: [N, M, Ho, Wo], data: new Float64Array(N * M * Ho * Wo) };
      if (c) for (let q = 0; q < y.data.length; q++) y.data[q] = c.data[Math.floor(q / (Ho * Wo)) % M];
      for (let b0 = 0; b0 < N; b0++)
        for (let ci = 0; ci < Ci; ci++) {
          const gi = Math.floor(ci / (Ci / G));
          for (let h = 0; h < H; h++)
            for (let w = 0; w < W; w++)
              for (let ml = 0; ml < w1; ml++)
                for (let kh = 0; kh < kH; kh++)
                  for (let kw = 0; kw < kW; kw++) {
                    const oh = h * s[0] + kh * d[0] - p[0];
                    const ow = w * s[1] + kw * d[1] - p[1];
                    if (oh < 0 || ow < 0 || oh >= Ho || ow >= Wo) continue;
                    y.data[at(y, [b0, gi * w1 + ml, oh, ow])] +=
                      a.data[at(a, [b0, ci, h, w])] * b.data[at(b, [ci, ml, kh, kw])];
                  }
        }
      return [y];
    }
    case 'Resize': {
      const ctm = (n.attrs.coordinate_transformation_mode as string) ?? 'half_pixel';
      const sizes = vals(x[3]);
      const scales = vals(c);
      const od = sizes?.length ? sizes : a.dims.map((v, i) => Math.floor(v * (scales as number[])[i]));
      if (a.dims[0] !== od[0] || a.dims[1] !== od[1]) throw new Error('ref-eval: Resize of the last two axes only');
      const src = (o: number, inN: number, outN: number) => {
        const sc = outN / inN;
        const v =
          ctm === 'align_corners'
            ? outN === 1
              ? 0
              : (o * (inN - 1)) / (outN - 1)
            : ctm === 'asymmetric'
              ? o / sc
              : ctm === 'pytorch_half_pixel' && outN === 1
                ? 0
                : (o + 0.5) / sc - 0.5;
        return Math.min(Math.max(v, 0), inN - 1);
      };
      const [N, C, H, W] = a.dims;
      const [Ho, Wo] = od.slice(2);
      const y: T = { dims: [N, C, Ho, Wo], data: new Float64Array(N * C * Ho * Wo) };
      for (let q = 0; q < N * C; q++)
        for (let oh = 0; oh < Ho; oh++)
          for (let ow = 0; ow < Wo; ow++) {
            const sh = src(oh, H, Ho);
            const sw = src(ow, W, Wo);
            const h0 = Math.floor(sh);
            const w0 = Math.floor(sw);
            const h1 = Math.min(h0 + 1, H - 1);
            const w1 = Math.min(w0 + 1, W - 1);
            const fh = sh - h0;
            const fw = sw - w0;
            const X = (h: number, w: number) => a.data[(q * H + h) * W + w];
            y.data[(q * Ho + oh) * Wo + ow] =
              (1 - fh) * ((1 - fw) * X(h0, w0) + fw * X(h0, w1)) + fh * ((1 - fw) * X(h1, w0) + fw * X(h1, w1));
          }
      return [y];
    }
    case 'LayerNormalization': {
      const ax = nrm(num(n, 'axis', -1), a.dims.length);
      const eps = num(n, 'epsilon', 1e-5);
      const axes = a.dims.map((_, i) => i).filter((i) => i >= ax);
      const mu = reduce(a, axes, true, 'mean');
      const xc = bcast([a, mu], (p, q) => p - q);
      const v = reduce(
        bcast([xc], (p) => p * p),
        axes,
        true,
        'mean',
      );
      let y = bcast([xc, v], (p, q) => p / Math.sqrt(q + eps));
      y = bcast([y, b], (p, q) => p * q);
      if (c) y = bcast([y, c], (p, q) => p + q);
      return [y];
    }
  }
  throw new Error(`ref-eval: no op ${n.op}`);
}

/** Evaluate `g` in float64. `overrides` replace inputs or initializers by name. Returns every value. */
export function evaluate(g: Graph, feeds: Record<string, T>): Map<string, T> {
  const env = new Map<string, T>();
  for (const [k, t] of g.initializers) env.set(k, fromInit(t));
  for (const [k, t] of Object.entries(feeds)) env.set(k, t);
  for (const n of g.nodeList) {
    const outs = run(
      n,
      n.inputs.map((i) => (i ? env.get(i) : undefined)),
    );
    n.outputs.forEach((o, i) => env.set(o, outs[i]));
  }
  return env;
}
