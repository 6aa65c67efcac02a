/**
 * The π³ (Pi3) prediction heads: three transformer decoders (point, conf, camera) over the decoder's last two
 * outputs, then the point head (linear → 14×14×3 per patch → pixel shuffle → local points), the conf head
 * (linear → 14×14×1 → pixel shuffle, raw logits) and the camera head (residual MLPs → mean over patches → MLPs →
 * translation + SVD-orthogonalised rotation → 4×4 camera-to-world). World points = pose · local points.
 *
 * `hidden`, what {@link Pi3Heads.run} takes, is the reference's `decode()` output (yyfz/Pi3 `pi3/models/pi3.py`):
 * `torch.cat([out34, out35], dim=-1)`, `[S, R + P, 2·decDim]` row-major, where out34 / out35 are the outputs of
 * decoder blocks 34 and 35 (the last two of 36; the global block 35's `[1, S·T, C]` reshaped back per frame).
 * Channels `[0, decDim)` are block 34's, `[decDim, 2·decDim)` block 35's. Tokens per frame: the R = 5 register
 * tokens first, then the P = (H/14)·(W/14) patches row-major (patch (r, c) at R + r·(W/14) + c). Frames in input
 * order. The head decoders attend over all R + P tokens of a frame (registers included; RoPE position (0, 0) for
 * registers, (r + 1, c + 1) for patches); the point, conf and camera outputs read the patches only.
 */
import type { Tensor } from 'onnxruntime-web';
import { toF16 } from '../../attention/f16.js';
import { HessError, check } from '../../errors.js';
import { createSession, loadOrt, type ExecutionTarget, type Ort } from '../../runtime/ort.js';
import { type HeadInput, inputLength } from '../trunk/head-inputs.js';
import {
  checkFrameFits,
  type FrameChunking,
  forEachFrameChunk,
  frameChunking,
  framesPerRun,
} from '../heads/frame-chunks.js';
import { type HeadFeeds, type HeadParam, loadHeadFeeds, releaseFeeds } from '../heads/head-params.js';
import type { HeadWeights } from '../heads/heads-common.js';
import { checkComputeType } from '../graph/half-weights.js';
import { type ElemType, VGGT_OPSET } from '../graph/ops.js';
import { ropePositions, ropeTables } from '../trunk/rope.js';
import { posesFromRaw, worldPoints } from './camera-pose.js';
import { type Pi3Fp32Part, type Pi3HeadsGraphDims, pi3HeadsInputsGraph } from './heads-graph.js';

type Session = import('onnxruntime-web').InferenceSession;

/** What {@link Pi3Heads.run} returns, all float32, row-major. */
export interface Pi3HeadOutputs {
  /** World points `[S, H, W, 3]`: `cameraPoses[s] · (localPoints, 1)`. */
  points: Float32Array;
  /** Camera-frame points `[S, H, W, 3]`: `(x·z, y·z, z)`, `z = exp(raw)`. */
  localPoints: Float32Array;
  /** Confidence `[S, H, W]`: raw logits, as the reference returns them (no activation). */
  conf: Float32Array;
  /** Camera-to-world poses `[S, 4, 4]`: rotation (orthogonalised, det +1) and translation, last row (0, 0, 0, 1). */
  cameraPoses: Float32Array;
}

/** What the heads need beyond the weight shapes (widths and depths are read from the checkpoint). */
export interface Pi3HeadsConfig {
  /** Attention heads of the three head decoders (16 in yyfz233/Pi3, 4 in the pi3-tiny fixture). */
  heads: number;
  /** Register tokens before the patches of each frame (5). */
  registers: number;
  /** Patch size (14). */
  patchSize: number;
  /** RoPE base frequency (100). */
  ropeFreq: number;
}

/** Options beyond the architecture. */
export interface Pi3HeadsOptions {
  /** Frames per session run. Default: as many as keep the largest intermediate of a run under `chunkBytes`. */
  framesChunk?: number;
  /**
   * Byte budget of the largest single intermediate of one run. Default: on WebGPU the device's
   * `maxStorageBufferBindingSize` (and `maxBufferSize`), at most 1 GiB; on the wasm EP 256 MiB.
   */
  chunkBytes?: number;
  /** An already loaded onnxruntime-web. */
  ort?: Ort;
  signal?: AbortSignal;
  /**
   * Compute precision (default 'fp32'). 'fp16' (WebGPU with shader-f16): weights uploaded as float16 (no float32
   * copy), the graph in float16 with its LayerNorms, the Softmax and the parts in `PI3_FP32_PARTS` in float32; a
   * GPU input must then be a float16 tensor. Outputs are float32 either way; the camera SVD runs in float64.
   */
  dtype?: 'fp32' | 'fp16';
  /** Which parts of float16 heads compute in float32 (default `PI3_FP32_PARTS`; for measurements). */
  fp32Parts?: readonly Pi3Fp32Part[];
}

/**
 * Bytes of the largest single intermediate of one frame of the π³ heads at H×W, what frame chunks are sized from:
 * the attention scores `[heads, T, T]`, a decoder's MLP hidden, qkv or input `[T, ·]`, or the point map `[H·W, 3]`
 * (T = registers + (H/14)·(W/14)). At yyfz233/Pi3's widths and 518² it is the scores, 121 MB. In float16 the
 * scores and the point map are still float32 (the Softmax reads float32; the outputs are float32), the rest half.
 */
export function pi3HeadsFrameBytes(
  config: Pi3HeadsConfig,
  dims: Pi3HeadsGraphDims,
  H: number,
  W: number,
  type: ElemType = 'float32',
): number {
  const ps = config.patchSize;
  const T = config.registers + (H / ps) * (W / ps);
  const e = type === 'float16' ? 2 : 4;
  return Math.max(
    4 * config.heads * T * T,
    e * Math.max(...Object.values(dims.decoders).map((d) => T * Math.max(d.mlp, 3 * d.dim, d.inDim))),
    4 * H * W * 3,
  );
}

/**
 * Bytes of the heads' weights (what {@link Pi3Heads} uploads: GPU-resident on WebGPU, fed per run on the wasm EP),
 * from the checkpoint's tensor table: the tensors under the three decoders and three heads, 4 bytes a value in
 * float32, 2 in float16. 766 MiB for yyfz233/Pi3 in float32.
 */
export function pi3HeadsWeightBytes(
  shapes: ReadonlyMap<string, { readonly shape: readonly number[] }>,
  type: ElemType = 'float32',
): number {
  let n = 0;
  for (const [name, t] of shapes) if (HEAD_TENSOR.test(name)) n += t.shape.reduce((a, d) => a * d, 1);
  return (type === 'float16' ? 2 : 4) * n;
}

const HEAD_TENSOR = /^(point|conf|camera)_(decoder|head)\./;

/**
 * The π³ heads: one session for all three (point, conf, camera: they read the same input; the graph lists them
 * one after the other), weights as graph inputs uploaded once, frames run in chunks sized from a byte budget on
 * one frame's largest intermediate; the 3×3 SVD of the camera head runs on the host in float64.
 *
 * @example
 * const heads = await Pi3Heads.create(st, { heads: 16, registers: 5, patchSize: 14, ropeFreq: 100 }, { ep: 'wasm' });
 * const { points, localPoints, conf, cameraPoses } = await heads.run(hidden, S, H, W);
 */
export class Pi3Heads {
  private session: Session | null;
  private readonly sizeCache = new Map<string, Record<string, Tensor>>();

  private constructor(
    private readonly ort: Ort,
    session: Session,
    private readonly weights: HeadFeeds,
    readonly config: Pi3HeadsConfig,
    /** Widths and depths read from the checkpoint. */
    readonly dims: Pi3HeadsGraphDims,
    private readonly target: ExecutionTarget,
    private readonly chunk: FrameChunking,
    /** Element type the heads compute in (their weights, input and RoPE tables). */
    readonly type: ElemType,
  ) {
    this.session = session;
  }

  /** Bytes of weights the heads hold (4 per value in fp32, 2 in fp16; on the GPU under WebGPU). */
  get weightBytes(): number {
    return this.weights.bytes;
  }

  /**
   * Build the graph (weights, image size and RoPE tables as inputs) from the checkpoint's tensor table, stream the
   * weights of `point_decoder`, `conf_decoder`, `camera_decoder`, `point_head`, `conf_head` and `camera_head` into
   * feeds and create the one session on `target`.
   */
  static async create(
    weights: HeadWeights,
    config: Pi3HeadsConfig,
    target: ExecutionTarget,
    opts: Pi3HeadsOptions = {},
  ): Promise<Pi3Heads> {
    const chunk = frameChunking(target, opts);
    check(
      Number.isInteger(config.registers) && config.registers >= 0,
      `registers must be a non-negative integer, got ${config.registers}`,
    );
    check(
      Number.isInteger(config.patchSize) && config.patchSize >= 1,
      `patchSize must be a positive integer, got ${config.patchSize}`,
    );
    check(Number.isFinite(config.ropeFreq) && config.ropeFreq > 0, `ropeFreq must be positive, got ${config.ropeFreq}`);
    const type = checkComputeType(opts.dtype, target);
    const built = pi3HeadsInputsGraph(weights.tensors, config, { type, fp32Parts: opts.fp32Parts });
    const ort = opts.ort ?? (await loadOrt());
    const feeds = await loadAllFeeds(weights, built.params, ort, target, type, opts.signal);
    try {
      const session = await createSession(ort, built.graph.toModel({ opset: VGGT_OPSET }).model, target);
      return new Pi3Heads(ort, session, feeds, config, built.dims, target, chunk, type);
    } catch (e) {
      releaseFeeds(feeds);
      throw e;
    }
  }

  /** Bytes of the largest single intermediate of one frame at H×W ({@link pi3HeadsFrameBytes}). */
  frameBytes(H: number, W: number): number {
    return pi3HeadsFrameBytes(this.config, this.dims, H, W, this.type);
  }

  /** Frames per session run for images of H×W (the `framesChunk` option, else sized from `chunkBytes`). */
  framesPerRun(H: number, W: number): number {
    return framesPerRun(this.chunk, this.frameBytes(H, W));
  }

  /**
   * Run on `hidden` `[S, R + P, 2·decDim]` (see the file comment; a Float32Array or an onnxruntime-web tensor on
   * the CPU, or in a GPU buffer on this head's WebGPU device of the heads' element type) for images of H×W, in chunks of
   * {@link framesPerRun} frames. `signal` is checked between chunks.
   */
  async run(
    hidden: HeadInput,
    S: number,
    H: number,
    W: number,
    opts: { signal?: AbortSignal } = {},
  ): Promise<Pi3HeadOutputs> {
    const session = this.session;
    if (!session) throw new HessError('DISPOSED', 'Pi3Heads.run after dispose()', 'create new Pi3Heads');
    const ps = this.config.patchSize;
    check(Number.isInteger(S) && S >= 1, `S must be a positive integer, got ${S}`);
    if (!(Number.isInteger(H) && Number.isInteger(W) && H > 0 && W > 0 && H % ps === 0 && W % ps === 0)) {
      throw new HessError(
        'SHAPE_MISMATCH',
        `image size ${H}×${W} is not a positive multiple of the patch size ${ps}`,
        `preprocess the images to multiples of ${ps} (e.g. 350×518)`,
      );
    }
    const T = this.config.registers + (H / ps) * (W / ps);
    const C = this.dims.decoders.point_decoder.inDim;
    const n = inputLength(hidden, 'hidden');
    if (n !== S * T * C) {
      throw new HessError(
        'SHAPE_MISMATCH',
        `hidden has ${n} elements, expected ${S * T * C} ([S=${S}, T=${T}, ${C}])`,
        `pass the last two decoder outputs concatenated, [S, ${this.config.registers} + (H/${ps})·(W/${ps}), ${C}], row-major`,
      );
    }
    checkFrameFits(this.target, this.frameBytes(H, W), `the π³ heads at ${H}×${W}`);
    const size = this.sizeFeeds(H, W);
    const HW = H * W;
    // NaN until a chunk writes it: a frame that no run covered can never pass for a result
    const localPoints = new Float32Array(S * HW * 3).fill(Number.NaN);
    const conf = new Float32Array(S * HW).fill(Number.NaN);
    const raw = new Float32Array(S * 12).fill(Number.NaN);
    const shape = { S, rows: T, width: C };
    const chunk = this.framesPerRun(H, W);
    await forEachFrameChunk(this.ort, this.target, [hidden], shape, chunk, this.type, opts.signal, async ([h], s0) => {
      const out = await session.run({ ...this.weights.feeds, ...size, hidden: h! });
      localPoints.set(out.local_points!.data as Float32Array, s0 * HW * 3);
      conf.set(out.conf!.data as Float32Array, s0 * HW);
      raw.set(out.pose_raw!.data as Float32Array, s0 * 12);
    });
    const poses = posesFromRaw(raw, S);
    return { points: worldPoints(localPoints, poses, S), localPoints, conf, cameraPoses: Float32Array.from(poses) };
  }

  /** Release the session and the weights. */
  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) releaseFeeds(this.weights);
    await s?.release();
  }

  /** The RoPE tables and grid feeds for H×W (a few KB; the last few sizes are kept). */
  private sizeFeeds(H: number, W: number): Record<string, Tensor> {
    const key = `${H}x${W}`;
    let f = this.sizeCache.get(key);
    if (!f) {
      const ps = this.config.patchSize;
      const [gh, gw] = [H / ps, W / ps];
      const d = this.dims.headDim;
      const t = ropeTables(ropePositions(gh, gw, this.config.registers), d, this.config.ropeFreq);
      const table = (x: Float32Array) =>
        this.type === 'float16'
          ? new this.ort.Tensor('float16', toF16(x), [t.T, 1, d])
          : new this.ort.Tensor('float32', x, [t.T, 1, d]);
      f = {
        rope_cos: table(t.cos),
        rope_sin: table(t.sinSigned),
        grid: new this.ort.Tensor('int64', BigInt64Array.of(BigInt(gh), BigInt(gw)), [2]),
      };
      if (this.sizeCache.size >= 4) this.sizeCache.delete(this.sizeCache.keys().next().value!);
      this.sizeCache.set(key, f);
    }
    return f;
  }
}

/** The feeds of every prefix's weights as one {@link HeadFeeds} (all released if one fails). */
async function loadAllFeeds(
  weights: HeadWeights,
  groups: readonly { prefix: string; params: readonly HeadParam[] }[],
  ort: Ort,
  target: ExecutionTarget,
  type: ElemType,
  signal?: AbortSignal,
): Promise<HeadFeeds> {
  const all: HeadFeeds = { feeds: {}, buffers: [], bytes: 0 };
  let bytes = 0;
  try {
    for (const { prefix, params } of groups) {
      const f = await loadHeadFeeds(weights, prefix, params, ort, target, signal, type);
      Object.assign(all.feeds, f.feeds);
      all.buffers.push(...f.buffers);
      bytes += f.bytes;
    }
  } catch (e) {
    releaseFeeds(all);
    throw e;
  }
  return { ...all, bytes };
}
