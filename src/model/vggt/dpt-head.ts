/**
 * VGGT DPT heads (depth and point) as ONNX graphs, one per image size, run on chunks of frames so that memory
 * stays bounded (the math is per frame). Follows upstream `vggt/heads/dpt_head.py`:
 * shared LayerNorm → projects (1×1) → +0.1·uv-embedding → resize layers → layerN_rn (3×3, no bias) →
 * RefineNet fusion (bilinear, align_corners) → output_conv1 → resize to the image → +0.1·uv-embedding →
 * output_conv2 → activations.
 */
import { HessError, check, throwIfAborted } from '../../errors';
import { Graph } from '../../onnx/builder';
import { type ExecutionTarget, type Ort, loadOrt } from '../../runtime/ort';
import type { DptHeadConfig } from '../config';
import {
  type HeadWeights, type LoadedTensor, checkLength, conv2d, convTranspose2d, headSession, loadPrefixed, need,
  resizeAlignCorners, sliceAxis,
} from './heads-common';
import { VGGT_OPSET, addWeight, layerNorm } from './ops';

type Session = import('onnxruntime-web').InferenceSession;

/** Which head: depth (`exp`, output_dim 2) or world points (`inv_log`, output_dim 4); confidence is `1 + exp`. */
export type DptKind = 'depth' | 'point';

/** What a DPT head needs to know beyond its weights. */
export interface DptHeadSpec {
  kind: DptKind;
  /** Channels, out_channels and output_dim (from {@link inferVggtConfig}: `depthHead` / `pointHead`). */
  head: DptHeadConfig;
  /** Token width, 2 × embed_dim. */
  dimIn: number;
  /** 14 in VGGT. */
  patchSize: number;
  /** Index of the first patch token (1 camera + registers = 5). */
  patchStartIdx: number;
  /** Aggregated layers read by the four levels (default [4, 11, 17, 23]). */
  layerIdx?: readonly [number, number, number, number];
}

/** Options beyond the architecture. */
export interface DptHeadOptions {
  /** Weight prefix (default `${kind}_head`). */
  prefix?: string;
  /** Frames per graph run (default 8, as upstream's frames_chunk_size): bounds the activation memory. */
  framesChunk?: number;
  ort?: Ort;
}

/** Output of {@link DptHead.run}. */
export interface DptOutput {
  /** depth `[S, H, W, 1]` or world points `[S, H, W, 3]` (output_dim − 1 channels, last axis). */
  values: Float32Array;
  /** Confidence `[S, H, W]`. */
  conf: Float32Array;
}

const LN_EPS = 1e-5;
const POS_RATIO = 0.1;

/**
 * Upstream's `_apply_pos_embed` table (before the 0.1 ratio) for a `gh × gw` map with `C` channels of an image
 * `imgH × imgW`, in float64, layout `[C, gh, gw]`. Channels [0, C/2) depend on the column (x), [C/2, C) on the
 * row (y): `[sin(xω), cos(xω), sin(yω), cos(yω)]` with `ω_k = 100^(−k/(C/4))`.
 *
 * @example
 * const e = dptPosEmbed(64, 5, 7, 98, 70); // Float64Array(64·5·7)
 */
export function dptPosEmbed(C: number, gh: number, gw: number, imgW: number, imgH: number): Float64Array {
  check(C % 4 === 0, `the uv position embedding needs channels divisible by 4, got ${C}`);
  const { x, y } = separablePosEmbed(C, gh, gw, imgW, imgH);
  const out = new Float64Array(C * gh * gw);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < gh; i++) {
      for (let j = 0; j < gw; j++) out[(c * gh + i) * gw + j] = c < C / 2 ? x[c * gw + j]! : y[c * gh + i]!;
    }
  }
  return out;
}

/** The embedding split by what each channel depends on: x `[C, gw]` (zero for c ≥ C/2), y `[C, gh]` (zero for c < C/2). */
function separablePosEmbed(C: number, gh: number, gw: number, imgW: number, imgH: number): { x: Float64Array; y: Float64Array } {
  const ar = imgW / imgH;
  const diag = Math.sqrt(ar * ar + 1);
  const spanX = ar / diag;
  const spanY = 1 / diag;
  const q = C / 4;
  const omega = Array.from({ length: q }, (_, k) => 1 / 100 ** (k / q));
  const x = new Float64Array(C * gw);
  const y = new Float64Array(C * gh);
  for (let j = 0; j < gw; j++) {
    const u = (spanX * (2 * j + 1 - gw)) / gw;
    for (let k = 0; k < q; k++) {
      x[k * gw + j] = Math.sin(u * omega[k]!);
      x[(q + k) * gw + j] = Math.cos(u * omega[k]!);
    }
  }
  for (let i = 0; i < gh; i++) {
    const v = (spanY * (2 * i + 1 - gh)) / gh;
    for (let k = 0; k < q; k++) {
      y[(2 * q + k) * gh + i] = Math.sin(v * omega[k]!);
      y[(3 * q + k) * gh + i] = Math.cos(v * omega[k]!);
    }
  }
  return { x, y };
}

/**
 * A VGGT DPT head (depth or point map).
 *
 * @example
 * const cfg = inferVggtConfig(st.tensors);
 * const depth = await DptHead.create(st, { kind: 'depth', head: cfg.depthHead!, dimIn: 2 * cfg.embedDim,
 *   patchSize: cfg.patchSize, patchStartIdx: cfg.patchStartIdx }, { ep: 'wasm' });
 * const { values, conf } = await depth.run(layers, S, H, W); // layers: Map<4|11|17|23, Float32Array [S, P, 2·dim]>
 */
export class DptHead {
  private readonly sessions = new Map<string, Promise<Session>>();
  private disposed = false;
  readonly layerIdx: readonly [number, number, number, number];

  private constructor(
    private readonly ort: Ort,
    private readonly weights: Map<string, LoadedTensor>,
    readonly spec: DptHeadSpec,
    private readonly prefix: string,
    private readonly target: ExecutionTarget,
    private readonly framesChunk: number,
  ) {
    this.layerIdx = spec.layerIdx ?? [4, 11, 17, 23];
  }

  /** Load the weights. Graphs are built (and sessions created) lazily, once per image size. */
  static async create(weights: HeadWeights, spec: DptHeadSpec, target: ExecutionTarget, opts: DptHeadOptions = {}): Promise<DptHead> {
    check(spec.kind === 'depth' || spec.kind === 'point', `kind must be 'depth' or 'point', got ${String(spec.kind)}`);
    const chunk = opts.framesChunk ?? 8;
    check(Number.isInteger(chunk) && chunk >= 1, `framesChunk must be a positive integer, got ${chunk}`);
    if (spec.layerIdx) check(spec.layerIdx.length === 4, 'layerIdx needs exactly 4 layer indices', 'pass e.g. [4, 11, 17, 23]');
    check(spec.head.outputDim >= 2, `output_dim must be at least 2 (values + confidence), got ${spec.head.outputDim}`);
    const prefix = opts.prefix ?? `${spec.kind}_head`;
    const w = await loadPrefixed(weights, prefix);
    // validate every shape now rather than at the first run
    buildDptGraph(w, spec, prefix, spec.patchSize, spec.patchSize);
    return new DptHead(opts.ort ?? (await loadOrt()), w, spec, prefix, target, chunk);
  }

  /**
   * Run on the aggregated layers (each `[S, P, dimIn]`, P = patchStartIdx + (H/14)·(W/14)) for images of H×W.
   * `signal` is checked between frame chunks.
   */
  async run(
    layers: ReadonlyMap<number, Float32Array>, S: number, H: number, W: number, opts: { signal?: AbortSignal } = {},
  ): Promise<DptOutput> {
    if (this.disposed) throw new HessError('DISPOSED', 'DptHead.run after dispose()', 'create a new DptHead');
    const ps = this.spec.patchSize;
    check(Number.isInteger(S) && S >= 1, `S must be a positive integer, got ${S}`);
    if (!(Number.isInteger(H) && Number.isInteger(W) && H > 0 && W > 0 && H % ps === 0 && W % ps === 0)) {
      throw new HessError('SHAPE_MISMATCH', `image size ${H}×${W} is not a positive multiple of the patch size ${ps}`,
        `preprocess the images to multiples of ${ps} (e.g. 350×518)`);
    }
    const P = this.spec.patchStartIdx + (H / ps) * (W / ps);
    const C = this.spec.dimIn;
    const inputs = this.layerIdx.map((idx) => {
      const a = layers.get(idx);
      if (!a) throw new HessError('INVALID_ARGUMENT', `aggregated layer ${idx} is missing`, `pass layers ${this.layerIdx.join(', ')}`);
      checkLength(a, S * P * C, `aggregated layer ${idx}`, `[S=${S}, P=${P}, ${C}]`);
      return a;
    });
    const session = await this.session(H, W);
    const od = this.spec.head.outputDim;
    const HW = H * W;
    const values = new Float32Array(S * HW * (od - 1));
    const conf = new Float32Array(S * HW);
    for (let s0 = 0; s0 < S; s0 += this.framesChunk) {
      throwIfAborted(opts.signal);
      const n = Math.min(this.framesChunk, S - s0);
      const feeds: Record<string, import('onnxruntime-web').Tensor> = {};
      inputs.forEach((a, k) => {
        feeds[`l${k}`] = new this.ort.Tensor('float32', a.subarray(s0 * P * C, (s0 + n) * P * C), [n, P, C]);
      });
      const out = await session.run(feeds);
      values.set(out.values!.data as Float32Array, s0 * HW * (od - 1));
      conf.set(out.conf!.data as Float32Array, s0 * HW);
    }
    return { values, conf };
  }

  /** Release every session. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s).release();
  }

  private session(H: number, W: number): Promise<Session> {
    const key = `${H}x${W}`;
    let s = this.sessions.get(key);
    if (!s) {
      const model = buildDptGraph(this.weights, this.spec, this.prefix, H, W);
      s = headSession(this.ort, model, this.target).then(({ session }) => session);
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }
}

/** Build the graph of one DPT head for images of H×W (inputs `l0..l3` `[N, P, dimIn]`; outputs `values`, `conf`). */
export function buildDptGraph(w: Map<string, LoadedTensor>, spec: DptHeadSpec, prefix: string, H: number, W: number): Uint8Array {
  return dptHeadGraph(w, spec, prefix, H, W).toModel({ opset: VGGT_OPSET }).model;
}

/**
 * One DPT head for images of H×W as a {@link Graph}. With `raw: true` the only output is `raw` `[N, od−1, H, W]`:
 * the value channels before the activation (NCHW), so that the graph can be differentiated (the activation's
 * Abs/Sign are chained by hand: d inv_log(v)/dv = exp|v| = 1 + |inv_log(v)|, d exp(v)/dv = exp(v)).
 *
 * @example
 * const g = dptHeadGraph(await loadPrefixed(st, 'point_head'), spec, 'point_head', 70, 98, { raw: true });
 */
export function dptHeadGraph(
  w: Map<string, LoadedTensor>, spec: DptHeadSpec, prefix: string, H: number, W: number, opts: { raw?: boolean } = {},
): Graph {
  const { features: F, outChannels: oc, outputDim: od } = spec.head;
  const C = spec.dimIn;
  const gh = H / spec.patchSize;
  const gw = W / spec.patchSize;
  const P = spec.patchStartIdx + gh * gw;
  const g = new Graph(`vggt_${spec.kind}_head`);
  const n = (k: string, shape: number[]) => need(w, prefix, k, shape);

  // x + 0.1·emb as two broadcast adds of small constants ([1,C,1,w] and [1,C,h,1]) instead of one [1,C,h,w]
  // table: at 518² the full table for output_conv1's 128 channels would be 137 MB.
  const addPos = (x: string, ch: number, h: number, wd: number): string => {
    const e = separablePosEmbed(ch, h, wd, W, H);
    const ex = g.floats(Float32Array.from(e.x, (v) => v * POS_RATIO), [1, ch, 1, wd]);
    const ey = g.floats(Float32Array.from(e.y, (v) => v * POS_RATIO), [1, ch, h, 1]);
    return g.op('Add', [g.op('Add', [x, ex])[0], ey])[0];
  };

  const normW = addWeight(g, `${prefix}.norm.weight`, n('norm.weight', [C]).data, [C]);
  const normB = addWeight(g, `${prefix}.norm.bias`, n('norm.bias', [C]).data, [C]);
  const levels: string[] = [];
  for (let k = 0; k < 4; k++) {
    const x = g.input(`l${k}`, 'float32', ['N', P, C]);
    const tokens = layerNorm(g, sliceAxis(g, x, 1, spec.patchStartIdx, P), normW, normB, LN_EPS); // shared norm
    const map = g.op('Reshape', [g.op('Transpose', [tokens], { perm: [0, 2, 1] })[0], g.ints([0, C, gh, gw])])[0];
    const proj = conv2d(g, map, n(`projects.${k}.weight`, [oc[k]!, C, 1, 1]), n(`projects.${k}.bias`, [oc[k]!]), `${prefix}.projects.${k}`);
    let y = addPos(proj, oc[k]!, gh, gw);
    if (k === 0 || k === 1) {
      const ks = k === 0 ? 4 : 2;
      y = convTranspose2d(g, y, n(`resize_layers.${k}.weight`, [oc[k]!, oc[k]!, ks, ks]), n(`resize_layers.${k}.bias`, [oc[k]!]),
        `${prefix}.resize_layers.${k}`);
    } else if (k === 3) {
      y = conv2d(g, y, n('resize_layers.3.weight', [oc[3]!, oc[3]!, 3, 3]), n('resize_layers.3.bias', [oc[3]!]),
        `${prefix}.resize_layers.3`, { stride: 2, pad: 1 });
    }
    levels.push(conv2d(g, y, n(`scratch.layer${k + 1}_rn.weight`, [F, oc[k]!, 3, 3]), undefined, `${prefix}.scratch.layer${k + 1}_rn`, { pad: 1 }));
  }
  const sizes: Array<[number, number]> = [
    [4 * gh, 4 * gw], [2 * gh, 2 * gw], [gh, gw], [Math.floor((gh - 1) / 2) + 1, Math.floor((gw - 1) / 2) + 1],
  ];

  // ResidualConvUnit with upstream's in-place ReLU: the skip adds relu(x), not x.
  const rcu = (x: string, name: string): string => {
    const r = g.op('Relu', [x])[0];
    const c1 = conv2d(g, r, n(`${name}.conv1.weight`, [F, F, 3, 3]), n(`${name}.conv1.bias`, [F]), `${prefix}.${name}.conv1`, { pad: 1 });
    const c2 = conv2d(g, g.op('Relu', [c1])[0], n(`${name}.conv2.weight`, [F, F, 3, 3]), n(`${name}.conv2.bias`, [F]),
      `${prefix}.${name}.conv2`, { pad: 1 });
    return g.op('Add', [c2, r])[0];
  };
  const fusion = (i: number, x0: string, x1: string | null, size: [number, number]): string => {
    const name = `scratch.refinenet${i}`;
    let y = x1 === null ? x0 : g.op('Add', [x0, rcu(x1, `${name}.resConfUnit1`)])[0];
    y = rcu(y, `${name}.resConfUnit2`);
    y = resizeAlignCorners(g, y, size[0], size[1]);
    return conv2d(g, y, n(`${name}.out_conv.weight`, [F, F, 1, 1]), n(`${name}.out_conv.bias`, [F]), `${prefix}.${name}.out_conv`);
  };
  let out = fusion(4, levels[3]!, null, sizes[2]!);
  out = fusion(3, out, levels[2]!, sizes[1]!);
  out = fusion(2, out, levels[1]!, sizes[0]!);
  out = fusion(1, out, levels[0]!, [2 * sizes[0]![0], 2 * sizes[0]![1]]);
  const F2 = F / 2;
  out = conv2d(g, out, n('scratch.output_conv1.weight', [F2, F, 3, 3]), n('scratch.output_conv1.bias', [F2]), `${prefix}.scratch.output_conv1`, { pad: 1 });
  out = resizeAlignCorners(g, out, H, W);
  out = addPos(out, F2, H, W);
  const hf2 = n('scratch.output_conv2.0.weight', [-1, F2, 3, 3]).shape[0]!;
  out = conv2d(g, out, n('scratch.output_conv2.0.weight', [hf2, F2, 3, 3]), n('scratch.output_conv2.0.bias', [hf2]),
    `${prefix}.scratch.output_conv2.0`, { pad: 1 });
  out = g.op('Relu', [out])[0];
  out = conv2d(g, out, n('scratch.output_conv2.2.weight', [od, hf2, 1, 1]), n('scratch.output_conv2.2.bias', [od]), `${prefix}.scratch.output_conv2.2`);

  // activations on the channel split, then NCHW → NHWC as upstream's activate_head returns
  const v = sliceAxis(g, out, 1, 0, od - 1);
  if (opts.raw) {
    g.output(v, 'float32', ['N', od - 1, H, W], 'raw');
    return g;
  }
  let act: string;
  if (spec.kind === 'depth') {
    act = g.op('Exp', [v])[0];
  } else {
    // inv_log: sign(x)·(exp(|x|) − 1)
    const em1 = g.op('Sub', [g.op('Exp', [g.op('Abs', [v])[0]])[0], g.floats([1], [1])])[0];
    act = g.op('Mul', [g.op('Sign', [v])[0], em1])[0];
  }
  g.output(g.op('Transpose', [act], { perm: [0, 2, 3, 1] })[0], 'float32', ['N', H, W, od - 1], 'values');
  const c = g.op('Add', [g.op('Exp', [sliceAxis(g, out, 1, od - 1, od)])[0], g.floats([1], [1])])[0];
  g.output(g.op('Reshape', [c, g.ints([0, H, W])])[0], 'float32', ['N', H, W], 'conf');
  return g;
}
