/**
 * VGGT DPT heads (depth and point) as ONNX graphs, run on chunks of frames so that memory stays bounded (the math
 * is per frame). Follows upstream `vggt/heads/dpt_head.py`:
 * shared LayerNorm → projects (1×1) → +0.1·uv-embedding → resize layers → layerN_rn (3×3, no bias) →
 * RefineNet fusion (bilinear, align_corners) → output_conv1 → resize to the image → +0.1·uv-embedding →
 * output_conv2 → activations.
 *
 * The runtime session serves every image size: the weights are graph inputs (GPU-resident on WebGPU, uploaded
 * once), the uv position tables are inputs computed per size in float64, and every other size (the token grid,
 * the fusion and output resizes) is read in-graph from those tables' and the feature maps' shapes, as upstream
 * reads them from its tensors.
 */
import type { Tensor } from 'onnxruntime-web';
import { HessError, check } from '../../errors.js';
import { type Dim, Graph } from '../../onnx/builder.js';
import { createSession, loadOrt, type ExecutionTarget, type Ort } from '../../runtime/ort.js';
import type { DptHeadConfig } from '../config.js';
import { type HeadInput, inputLength } from '../trunk/head-inputs.js';
import {
  checkFrameFits,
  forEachFrameChunk,
  type FrameChunking,
  frameChunking,
  framesPerRun,
} from '../heads/frame-chunks.js';
import {
  type HeadFeeds,
  type HeadParam,
  HeadParams,
  type HeadParamSource,
  loadHeadFeeds,
  releaseFeeds,
} from '../heads/head-params.js';
import { toF16 } from '../../attention/f16.js';
import { checkComputeType } from '../graph/half-weights.js';
import {
  type HeadWeights,
  type LoadedTensor,
  conv2d,
  convTranspose2d,
  resizeAlignCorners,
  sliceAxis,
  spatialShape,
} from '../heads/heads-common.js';
import { VGGT_OPSET, cast, consts, type ElemType, layerNorm } from '../graph/ops.js';

type Session = import('onnxruntime-web').InferenceSession;

/** Which head: depth (`exp`, output_dim 2) or world points (`inv_log`, output_dim 4); confidence is `1 + exp`. */
export type DptKind = 'depth' | 'point';

/** What a DPT head needs to know beyond its weights. */
export interface DptHeadSpec {
  kind: DptKind;
  /** Channels, out_channels and output_dim (from `inferVggtConfig`: `depthHead` / `pointHead`). */
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
  /** Frames per session run. Default: as many as keep the run's largest intermediate under `chunkBytes`. */
  framesChunk?: number;
  /**
   * Byte budget of the largest single intermediate of one run (the frame chunk is sized from it). Default: on
   * WebGPU the device's `maxStorageBufferBindingSize` (and `maxBufferSize`), at most 1 GiB; on the wasm EP 256 MiB.
   */
  chunkBytes?: number;
  ort?: Ort;
  signal?: AbortSignal;
  /**
   * Compute precision (default 'fp32'). 'fp16' (WebGPU with shader-f16): weights uploaded as float16 (no float32
   * copy), the graph in float16 with the shared LayerNorm in float32, and the parts in {@link DPT_FP32_PARTS} (the
   * activations); GPU inputs must then be float16 tensors. Outputs are float32 either way.
   */
  dtype?: 'fp32' | 'fp16';
  /** Which parts of a float16 head compute in float32 (default {@link DPT_FP32_PARTS}; for measurements). */
  fp32Parts?: readonly DptFp32Part[];
}

/**
 * Parts of a float16 DPT head that can compute in float32 (the LayerNorm always does): 'output' (the last 1×1
 * conv, output_conv2.2, whose result the activations exponentiate) and 'activation' (exp, inv_log and the
 * confidence's 1 + exp: in float16 exp overflows past 11.09).
 */
export type DptFp32Part = 'output' | 'activation';

/**
 * What a float16 DPT head keeps in float32 beyond its LayerNorm by default: the activations. Measured on the fixture
 * (bench/fp16.bench.ts → bench/results/fp16.md): they cut the error 3.6× on depth and points and ~9× on the
 * confidences (world_points 2.5e-2 → 6.9e-3), and they guard against exp overflowing float16; 'output' changes
 * nothing measurable.
 */
export const DPT_FP32_PARTS: readonly DptFp32Part[] = ['activation'];

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
function separablePosEmbed(
  C: number,
  gh: number,
  gw: number,
  imgW: number,
  imgH: number,
): { x: Float64Array; y: Float64Array } {
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

/** A uv position table the shared graph takes as an input (they carry the image size; see {@link dptPosFeeds}). */
export interface DptPosInput {
  /** Graph input name. */
  readonly name: string;
  /** Channels of the feature map it is added to. */
  readonly channels: number;
  /** 'grid': the (H/14)×(W/14) token grid; 'image': the H×W output map. */
  readonly map: 'grid' | 'image';
  /** 'x' `[1, C, 1, w]` (column-dependent channels) or 'y' `[1, C, h, 1]` (row-dependent channels). */
  readonly axis: 'x' | 'y';
}

/**
 * The position tables (times the 0.1 ratio) for images of H×W, as float32 `[1, C, 1, w]` / `[1, C, h, 1]`
 * arrays keyed by input name, computed in float64.
 */
export function dptPosFeeds(
  inputs: readonly DptPosInput[],
  patchSize: number,
  H: number,
  W: number,
): Map<string, { data: Float32Array; dims: number[] }> {
  const out = new Map<string, { data: Float32Array; dims: number[] }>();
  for (const p of inputs) {
    const [h, w] = p.map === 'grid' ? [H / patchSize, W / patchSize] : [H, W];
    const e = separablePosEmbed(p.channels, h, w, W, H);
    const t = p.axis === 'x' ? e.x : e.y;
    out.set(p.name, {
      data: Float32Array.from(t, (v) => v * POS_RATIO),
      dims: p.axis === 'x' ? [1, p.channels, 1, w] : [1, p.channels, h, 1],
    });
  }
  return out;
}

/**
 * Bytes of the largest single intermediate of one frame of a DPT head at H×W: what the frame chunk is sized from.
 * At VGGT-1B widths and 518² it is the 128-channel map at image size, 137 MB in float32 (half in float16, where
 * only the LayerNorm's tokens and the `od`-channel output are float32). `widths` are the output convs' widths
 * (output_conv1, output_conv2.0), upstream's features/2 and 32 unless given.
 */
export function dptFrameBytes(
  spec: DptHeadSpec,
  H: number,
  W: number,
  widths: { half: number; hidden: number } = { half: spec.head.features / 2, hidden: 32 },
  type: ElemType = 'float32',
): number {
  const { features: F, outChannels: oc, outputDim: od } = spec.head;
  const gh = H / spec.patchSize;
  const gw = W / spec.patchSize;
  const g = gh * gw;
  const P = spec.patchStartIdx + g;
  const e = type === 'float16' ? 2 : 4;
  return Math.max(
    4 * P * spec.dimIn,
    e *
      Math.max(
        // a level's tokens: the LayerNorm runs on float32
        P * spec.dimIn, // a level's tokens and the [C, gh, gw] map
        ...oc.map((c) => c * g),
        oc[0]! * 16 * g,
        oc[1]! * 4 * g, // projections, resize_layers 0 and 1
        F * 16 * g,
        F * 64 * g,
        widths.half * 64 * g, // fusion at 4× the grid, refinenet1's ×2 upsample, output_conv1
        Math.max(widths.half, widths.hidden, od) * H * W, // maps at image size
      ),
    4 * od * H * W,
  ); // the float32 output the activations read
}

/**
 * A VGGT DPT head (depth or point map): one session for every image size and frame count.
 *
 * @example
 * const cfg = inferVggtConfig(st.tensors);
 * const depth = await DptHead.create(st, { kind: 'depth', head: cfg.depthHead!, dimIn: 2 * cfg.embedDim,
 *   patchSize: cfg.patchSize, patchStartIdx: cfg.patchStartIdx }, { ep: 'wasm' });
 * const { values, conf } = await depth.run(layers, S, H, W); // layers: Map<4|11|17|23, Float32Array [S, P, 2·dim]>
 */
export class DptHead {
  readonly layerIdx: readonly [number, number, number, number];
  private session: Session | null;
  private readonly posCache = new Map<string, Record<string, Tensor>>();

  private constructor(
    private readonly ort: Ort,
    session: Session,
    private readonly weights: HeadFeeds,
    readonly spec: DptHeadSpec,
    private readonly target: ExecutionTarget,
    private readonly chunk: FrameChunking,
    private readonly pos: readonly DptPosInput[],
    private readonly widths: { half: number; hidden: number },
    /** Element type the head computes in (its weights, layer inputs and position tables). */
    readonly type: ElemType,
  ) {
    this.layerIdx = spec.layerIdx ?? [4, 11, 17, 23];
    this.session = session;
  }

  /** Bytes of weights the head holds (4 per value in fp32, 2 in fp16; on the GPU under WebGPU). */
  get weightBytes(): number {
    return this.weights.bytes;
  }

  /** Build the graph (weights and image size as inputs), stream the weights into feeds, create the one session. */
  static async create(
    weights: HeadWeights,
    spec: DptHeadSpec,
    target: ExecutionTarget,
    opts: DptHeadOptions = {},
  ): Promise<DptHead> {
    check(spec.kind === 'depth' || spec.kind === 'point', `kind must be 'depth' or 'point', got ${String(spec.kind)}`);
    const chunk = frameChunking(target, opts);
    if (spec.layerIdx)
      check(spec.layerIdx.length === 4, 'layerIdx needs exactly 4 layer indices', 'pass e.g. [4, 11, 17, 23]');
    check(spec.head.outputDim >= 2, `output_dim must be at least 2 (values + confidence), got ${spec.head.outputDim}`);
    const prefix = opts.prefix ?? `${spec.kind}_head`;
    const type = checkComputeType(opts.dtype, target);
    const built = dptHeadInputsGraph(weights.tensors, spec, prefix, { type, fp32Parts: opts.fp32Parts });
    const ort = opts.ort ?? (await loadOrt());
    const feeds = await loadHeadFeeds(weights, prefix, built.params, ort, target, opts.signal, type);
    try {
      const session = await createSession(ort, built.graph.toModel({ opset: VGGT_OPSET }).model, target);
      return new DptHead(ort, session, feeds, spec, target, chunk, built.pos, built.widths, type);
    } catch (e) {
      releaseFeeds(feeds);
      throw e;
    }
  }

  /** Frames per session run for images of H×W (the `framesChunk` option, else sized from `chunkBytes`). */
  framesPerRun(H: number, W: number): number {
    return framesPerRun(this.chunk, dptFrameBytes(this.spec, H, W, this.widths, this.type));
  }

  /**
   * Run on the aggregated layers (each `[S, P, dimIn]`, P = patchStartIdx + (H/14)·(W/14)) for images of H×W,
   * in chunks of {@link framesPerRun} frames. Each layer may be a Float32Array or an onnxruntime-web tensor (CPU,
   * or a GPU buffer on this head's WebGPU device of the head's element type). `signal` is checked between chunks.
   */
  async run(
    layers: ReadonlyMap<number, HeadInput>,
    S: number,
    H: number,
    W: number,
    opts: { signal?: AbortSignal } = {},
  ): Promise<DptOutput> {
    const session = this.session;
    if (!session) throw new HessError('DISPOSED', 'DptHead.run after dispose()', 'create a new DptHead');
    const ps = this.spec.patchSize;
    check(Number.isInteger(S) && S >= 1, `S must be a positive integer, got ${S}`);
    if (!(Number.isInteger(H) && Number.isInteger(W) && H > 0 && W > 0 && H % ps === 0 && W % ps === 0)) {
      throw new HessError(
        'SHAPE_MISMATCH',
        `image size ${H}×${W} is not a positive multiple of the patch size ${ps}`,
        `preprocess the images to multiples of ${ps} (e.g. 350×518)`,
      );
    }
    const P = this.spec.patchStartIdx + (H / ps) * (W / ps);
    const C = this.spec.dimIn;
    const inputs = this.layerIdx.map((idx) => {
      const a = layers.get(idx);
      if (!a)
        throw new HessError(
          'INVALID_ARGUMENT',
          `aggregated layer ${idx} is missing`,
          `pass layers ${this.layerIdx.join(', ')}`,
        );
      const n = inputLength(a, `aggregated layer ${idx}`);
      if (n !== S * P * C) {
        throw new HessError(
          'SHAPE_MISMATCH',
          `aggregated layer ${idx} has ${n} elements, expected ${S * P * C} ([S=${S}, P=${P}, ${C}])`,
          `pass [S=${S}, P=${P}, ${C}], row-major`,
        );
      }
      return a;
    });
    checkFrameFits(
      this.target,
      dptFrameBytes(this.spec, H, W, this.widths, this.type),
      `the ${this.spec.kind} head at ${H}×${W}`,
    );
    const pos = this.posFeeds(H, W);
    const od = this.spec.head.outputDim;
    const HW = H * W;
    const values = new Float32Array(S * HW * (od - 1));
    const conf = new Float32Array(S * HW);
    const shape = { S, rows: P, width: C };
    await forEachFrameChunk(
      this.ort,
      this.target,
      inputs,
      shape,
      this.framesPerRun(H, W),
      this.type,
      opts.signal,
      async (spans, s0) => {
        const feeds: Record<string, Tensor> = { ...this.weights.feeds, ...pos };
        spans.forEach((t, k) => {
          feeds[`l${k}`] = t;
        });
        const out = await session.run(feeds);
        values.set(out.values!.data as Float32Array, s0 * HW * (od - 1));
        conf.set(out.conf!.data as Float32Array, s0 * HW);
      },
    );
    return { values, conf };
  }

  /** Release the session and the weights. */
  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) releaseFeeds(this.weights);
    await s?.release();
  }

  /** The position-table feeds for H×W (a few KB; the last few sizes are kept). */
  private posFeeds(H: number, W: number): Record<string, Tensor> {
    const key = `${H}x${W}`;
    let f = this.posCache.get(key);
    if (!f) {
      f = {};
      for (const [name, t] of dptPosFeeds(this.pos, this.spec.patchSize, H, W)) {
        f[name] =
          this.type === 'float16'
            ? new this.ort.Tensor('float16', toF16(t.data), t.dims)
            : new this.ort.Tensor('float32', t.data, t.dims);
      }
      if (this.posCache.size >= 4) this.posCache.delete(this.posCache.keys().next().value!);
      this.posCache.set(key, f);
    }
    return f;
  }
}

/** Build the graph of one DPT head for images of H×W, weights baked (inputs `l0..l3` `[N, P, dimIn]`; outputs `values`, `conf`). */
export function buildDptGraph(
  w: Map<string, LoadedTensor>,
  spec: DptHeadSpec,
  prefix: string,
  H: number,
  W: number,
): Uint8Array {
  return dptHeadGraph(w, spec, prefix, H, W).toModel({ opset: VGGT_OPSET }).model;
}

/**
 * One DPT head for images of H×W as a {@link Graph} with its weights and position tables baked. With `raw: true`
 * the only output is `raw` `[N, od−1, H, W]`: the value channels before the activation (NCHW), so that the graph
 * can be differentiated (the activation's Abs/Sign are chained by hand: d inv_log(v)/dv = exp|v| = 1 +
 * |inv_log(v)|, d exp(v)/dv = exp(v)).
 *
 * @example
 * const g = dptHeadGraph(await loadPrefixed(st, 'point_head'), spec, 'point_head', 70, 98, { raw: true });
 */
export function dptHeadGraph(
  w: Map<string, LoadedTensor>,
  spec: DptHeadSpec,
  prefix: string,
  H: number,
  W: number,
  opts: { raw?: boolean } = {},
): Graph {
  const P = spec.patchStartIdx + (H / spec.patchSize) * (W / spec.patchSize);
  return dptGraph({ baked: w }, spec, prefix, { P, H, W }, opts.raw ?? false, FP32).graph;
}

/**
 * The DPT head for every image size: weights are inputs (`${prefix}.${key}`), and so are the position tables
 * `pos` (which carry the image size); built from the checkpoint's tensor table alone. What {@link DptHead} runs.
 *
 * @example
 * const { graph, params, pos } = dptHeadInputsGraph(st.tensors, spec, 'depth_head');
 * // `raw: true`: the pre-activation output `raw` [N, od−1, H, W] instead of values/conf (for VJPs);
 * // `size: { H, W }`: built for one image size, the position tables baked as (small) constants, `pos` empty
 * // `type: 'float16'`: float16 weights, layers and position tables (LayerNorm, activations, `fp32Parts` float32)
 */
export function dptHeadInputsGraph(
  shapes: ReadonlyMap<string, { readonly shape: readonly number[] }>,
  spec: DptHeadSpec,
  prefix: string,
  opts: { raw?: boolean; size?: { H: number; W: number }; type?: ElemType; fp32Parts?: readonly DptFp32Part[] } = {},
): { graph: Graph; params: HeadParam[]; pos: DptPosInput[]; widths: { half: number; hidden: number } } {
  const z = opts.size;
  const fixed = z ? { P: spec.patchStartIdx + (z.H / spec.patchSize) * (z.W / spec.patchSize), H: z.H, W: z.W } : null;
  const type = opts.type ?? 'float32';
  const pr = { type, fp32: new Set(type === 'float16' ? (opts.fp32Parts ?? DPT_FP32_PARTS) : []) };
  return dptGraph({ shapes }, spec, prefix, fixed, opts.raw ?? false, pr);
}

/** A graph's element type and the parts of a float16 graph kept in float32. */
interface Precision {
  readonly type: ElemType;
  readonly fp32: ReadonlySet<DptFp32Part>;
}
const FP32: Precision = { type: 'float32', fp32: new Set() };

function dptGraph(
  src: HeadParamSource,
  spec: DptHeadSpec,
  prefix: string,
  fixed: { P: number; H: number; W: number } | null,
  raw: boolean,
  pr: Precision,
): { graph: Graph; params: HeadParam[]; pos: DptPosInput[]; widths: { half: number; hidden: number } } {
  const { features: F, outChannels: oc, outputDim: od } = spec.head;
  const C = spec.dimIn;
  const et = pr.type;
  const g = new Graph(`vggt_${spec.kind}_head`);
  const p = new HeadParams(g, prefix, src, et);
  const P: Dim = fixed?.P ?? 'P';
  const H: Dim = fixed?.H ?? 'H';
  const W: Dim = fixed?.W ?? 'W';

  // Position tables: constants for a fixed size, else inputs whose shapes carry the grid and image sizes. Added as
  // two broadcast adds of [1,C,1,w] and [1,C,h,1] instead of one [1,C,h,w] table (137 MB at 518² for 128 channels).
  const pos: DptPosInput[] = [];
  const tables = new Map<string, { x: string; y: string }>();
  const table = (channels: number, map: 'grid' | 'image'): { x: string; y: string } => {
    const key = `${map}:${channels}`;
    let t = tables.get(key);
    if (t) return t;
    const name = map === 'grid' ? `grid_pos${channels}` : 'image_pos';
    if (fixed) {
      const f = dptPosFeeds(
        [
          { name: 'x', channels, map, axis: 'x' },
          { name: 'y', channels, map, axis: 'y' },
        ],
        spec.patchSize,
        fixed.H,
        fixed.W,
      );
      t = {
        x: consts(g, f.get('x')!.data, f.get('x')!.dims, pr.type),
        y: consts(g, f.get('y')!.data, f.get('y')!.dims, pr.type),
      };
    } else {
      const [h, w] = map === 'grid' ? ['gh', 'gw'] : ['H', 'W'];
      pos.push({ name: `${name}_x`, channels, map, axis: 'x' }, { name: `${name}_y`, channels, map, axis: 'y' });
      t = {
        x: g.input(`${name}_x`, pr.type, [1, channels, 1, w]),
        y: g.input(`${name}_y`, pr.type, [1, channels, h, 1]),
      };
    }
    tables.set(key, t);
    return t;
  };
  const addPos = (x: string, t: { x: string; y: string }) => g.op('Add', [g.op('Add', [x, t.x])[0], t.y])[0];
  // [h, w] of a table pair, read from its shapes
  const sizeOf = (t: { x: string; y: string }) =>
    g.op('Concat', [sliceAxis(g, g.op('Shape', [t.y])[0], 0, 2, 3), sliceAxis(g, g.op('Shape', [t.x])[0], 0, 3, 4)], {
      axis: 0,
    })[0];

  const grid = sizeOf(table(oc[0]!, 'grid'));
  const mapShape = g.op('Concat', [g.ints([0, C]), grid], { axis: 0 })[0];
  const normW = p.tensor('norm.weight', [C]);
  const normB = p.tensor('norm.bias', [C]);
  const levels: string[] = [];
  for (let k = 0; k < 4; k++) {
    const x = g.input(`l${k}`, et, ['N', P, C]);
    const tokens = layerNorm(g, sliceAxis(g, x, 1, spec.patchStartIdx, 2 ** 31 - 1), normW, normB, LN_EPS, et); // shared norm
    const map = g.op('Reshape', [g.op('Transpose', [tokens], { perm: [0, 2, 1] })[0], mapShape])[0];
    const proj = conv2d(
      g,
      map,
      p.tensor(`projects.${k}.weight`, [oc[k]!, C, 1, 1]),
      p.tensor(`projects.${k}.bias`, [oc[k]!]),
      1,
    );
    let y = addPos(proj, table(oc[k]!, 'grid'));
    if (k === 0 || k === 1) {
      const ks = k === 0 ? 4 : 2;
      y = convTranspose2d(
        g,
        y,
        p.tensor(`resize_layers.${k}.weight`, [oc[k]!, oc[k]!, ks, ks]),
        p.tensor(`resize_layers.${k}.bias`, [oc[k]!]),
        ks,
      );
    } else if (k === 3) {
      y = conv2d(
        g,
        y,
        p.tensor('resize_layers.3.weight', [oc[3]!, oc[3]!, 3, 3]),
        p.tensor('resize_layers.3.bias', [oc[3]!]),
        3,
        { stride: 2, pad: 1 },
      );
    }
    levels.push(conv2d(g, y, p.tensor(`scratch.layer${k + 1}_rn.weight`, [F, oc[k]!, 3, 3]), undefined, 3, { pad: 1 }));
  }

  // ResidualConvUnit with upstream's in-place ReLU: the skip adds relu(x), not x.
  const rcu = (x: string, name: string): string => {
    const r = g.op('Relu', [x])[0];
    const c1 = conv2d(g, r, p.tensor(`${name}.conv1.weight`, [F, F, 3, 3]), p.tensor(`${name}.conv1.bias`, [F]), 3, {
      pad: 1,
    });
    const c2 = conv2d(
      g,
      g.op('Relu', [c1])[0],
      p.tensor(`${name}.conv2.weight`, [F, F, 3, 3]),
      p.tensor(`${name}.conv2.bias`, [F]),
      3,
      { pad: 1 },
    );
    return g.op('Add', [c2, r])[0];
  };
  // upstream upsamples to the next level's size (refinenet1: ×2)
  const fusion = (i: number, x0: string, x1: string | null, size: string | { factor: number }): string => {
    const name = `scratch.refinenet${i}`;
    let y = x1 === null ? x0 : g.op('Add', [x0, rcu(x1, `${name}.resConfUnit1`)])[0];
    y = rcu(y, `${name}.resConfUnit2`);
    y = resizeAlignCorners(g, y, size);
    return conv2d(g, y, p.tensor(`${name}.out_conv.weight`, [F, F, 1, 1]), p.tensor(`${name}.out_conv.bias`, [F]), 1);
  };
  let out = fusion(4, levels[3]!, null, spatialShape(g, levels[2]!));
  out = fusion(3, out, levels[2]!, spatialShape(g, levels[1]!));
  out = fusion(2, out, levels[1]!, spatialShape(g, levels[0]!));
  out = fusion(1, out, levels[0]!, { factor: 2 });
  const half = p.shape('scratch.output_conv1.weight', [-1, F, 3, 3])[0]!;
  out = conv2d(
    g,
    out,
    p.tensor('scratch.output_conv1.weight', [half, F, 3, 3]),
    p.tensor('scratch.output_conv1.bias', [half]),
    3,
    { pad: 1 },
  );
  const image = table(half, 'image');
  out = resizeAlignCorners(g, out, sizeOf(image));
  out = addPos(out, image);
  const hidden = p.shape('scratch.output_conv2.0.weight', [-1, half, 3, 3])[0]!;
  out = conv2d(
    g,
    out,
    p.tensor('scratch.output_conv2.0.weight', [hidden, half, 3, 3]),
    p.tensor('scratch.output_conv2.0.bias', [hidden]),
    3,
    { pad: 1 },
  );
  out = g.op('Relu', [out])[0];
  // The last 1×1 conv ('output') and the activations ('activation': exponentials) in float32 when asked: the conv
  // reads `hidden` channels, the activations `od` (a few channels at image size).
  const ot: ElemType = pr.fp32.has('output') ? 'float32' : et;
  const at: ElemType = pr.fp32.has('activation') ? 'float32' : et;
  const w2 = cast(g, p.tensor('scratch.output_conv2.2.weight', [od, hidden, 1, 1]), et, ot);
  const b2 = cast(g, p.tensor('scratch.output_conv2.2.bias', [od]), et, ot);
  out = cast(g, conv2d(g, cast(g, out, et, ot), w2, b2, 1), ot, at);
  const result = { graph: g, params: p.inputs, pos, widths: { half, hidden } };

  // activations on the channel split, then NCHW → NHWC as upstream's activate_head returns
  const v = sliceAxis(g, out, 1, 0, od - 1);
  if (raw) {
    g.output(cast(g, v, at, 'float32'), 'float32', ['N', od - 1, H, W], 'raw');
    return result;
  }
  const one = consts(g, [1], [1], at);
  let act: string;
  if (spec.kind === 'depth') {
    act = g.op('Exp', [v])[0];
  } else {
    // inv_log: sign(x)·(exp(|x|) − 1)
    const em1 = g.op('Sub', [g.op('Exp', [g.op('Abs', [v])[0]])[0], one])[0];
    act = g.op('Mul', [g.op('Sign', [v])[0], em1])[0];
  }
  g.output(
    cast(g, g.op('Transpose', [act], { perm: [0, 2, 3, 1] })[0], at, 'float32'),
    'float32',
    ['N', H, W, od - 1],
    'values',
  );
  const c = g.op('Add', [g.op('Exp', [sliceAxis(g, out, 1, od - 1, od)])[0], one])[0];
  g.output(cast(g, g.op('Squeeze', [c, g.ints([1])])[0], at, 'float32'), 'float32', ['N', H, W], 'conf');
  return result;
}
