/**
 * The shared trunk of VGGT and π³ (DINOv2 patch embed + alternating frame/global attention; VGGT calls it the
 * aggregator, π³ encoder + decoder) as ONNX segments on onnxruntime-web. Architecture comes from the checkpoint
 * shapes ({@link TrunkConfig}); what differs between the models (weight names, norm eps, special tokens) is a
 * {@link TrunkLayout}. Nothing is hard-coded to VGGT-1B.
 *
 * Sessions (default 'per-type'): one per segment *type* (embed, bridge, block pre/post per width, attention core;
 * whole local blocks on the ONNX local path), a handful whatever the depth; each block's weights are fed as inputs
 * (GPU-resident tensors on WebGPU, uploaded once at create time). 'per-block' bakes each block's weights into its
 * own session instead (see {@link AggregatorOptions.sessions}).
 *
 * Memory: no tensor grows with S·T² on the default WebGPU path. Local (DINO, frame) attention runs on the WGSL
 * kernel with a frame axis ({@link AggregatorOptions.localAttention}); the per-token pre/post segments (and so the
 * MLP hidden `[rows, M]`) run on token chunks sized from the device's buffer limits (`planChunks`), their
 * outputs copied into whole `[N, …]` tensors on the GPU; only the attention cores see all N = S·P tokens at once.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-web';
import { check, HessError } from '../../errors.js';
import { abortCheckpoint } from '../../runtime/checkpoint.js';
import { fromF16, toF16 } from '../../attention/f16.js';
import { createStorageBuffer, readBuffer, readF32 } from '../../gpu/buffers.js';
import { createSession, loadOrt, type ExecutionTarget, type Ort } from '../../runtime/ort.js';
import type { TrunkConfig } from '../config.js';
import { type AttentionCore, DenseOnnxAttention, WgslLocalAttention } from './attention-core.js';
import {
  type BlockDims,
  type BlockWeights,
  buildBridgeGraph,
  buildEmbedGraph,
  buildLocalBlockGraph,
  buildPostGraph,
  buildPreGraph,
  loadBlockWeights,
  type ParamSpec,
  postParams,
  preParams,
  type WeightReader,
} from './blocks.js';
import { type BufferLimits, planChunks, rowChunks, RowTensors, tensorByteLimit } from './chunks.js';
import { loadBlockWeightsOnDevice } from '../graph/device-weights.js';
import { checkComputeType } from '../graph/half-weights.js';
import type { HeadInput } from './head-inputs.js';
import { interleaveGpu, interleaveHost } from './interleave.js';
import { type ElemType, transposeLinear } from '../graph/ops.js';
import { interpolatePosEmbed } from './pos-embed.js';
import { ropePositions, ropeTables } from './rope.js';

export type { WeightReader } from './blocks.js';
export type { BufferLimits } from './chunks.js';

/** LayerNorm eps of DINOv2 (1e-6) and of the aggregator's own blocks (PyTorch default 1e-5). */
export const DINO_EPS = 1e-6;
export const AGGREGATOR_EPS = 1e-5;
/** RoPE frequency base of VGGT. */
export const ROPE_BASE = 100;

/**
 * What distinguishes one model's trunk from another's (VGGT's aggregator, π³'s encoder + decoder): where the
 * weights are, the blocks' LayerNorm eps, the RoPE base and the special tokens that lead each frame.
 */
export interface TrunkLayout {
  /** Prefix of the DINOv2 encoder's weights (its patch_embed, cls_token, pos_embed, register_tokens, blocks, norm). */
  readonly encoder: string;
  /** Prefix of pair `i`'s frame block and global block. */
  frameBlock(i: number): string;
  globalBlock(i: number): string;
  /** LayerNorm eps of the alternating blocks' norm1/norm2, and of their per-head q/k norms. */
  readonly eps: number;
  readonly qkEps: number;
  readonly ropeBase: number;
  /** Read the special tokens once; the function returned lays them out for S frames as `[S, patchStartIdx, C]`. */
  specialTokens(reader: WeightReader, config: TrunkConfig): Promise<(S: number) => Float32Array>;
}

/**
 * VGGT's layout under `prefix` (default 'aggregator.'): `frame_blocks.i` / `global_blocks.i`, eps 1e-5, and per
 * frame a camera token + registers from slot 0 (the first frame) or slot 1 (every other frame).
 */
export function vggtLayout(prefix = 'aggregator.'): TrunkLayout {
  return {
    encoder: `${prefix}patch_embed`,
    frameBlock: (i) => `${prefix}frame_blocks.${i}`,
    globalBlock: (i) => `${prefix}global_blocks.${i}`,
    eps: AGGREGATOR_EPS,
    qkEps: AGGREGATOR_EPS,
    ropeBase: ROPE_BASE,
    async specialTokens(reader, c) {
      const C = c.embedDim;
      const R = c.patchStartIdx - 1;
      const camera = await reader.read(`${prefix}camera_token`);
      const registers = await reader.read(`${prefix}register_token`);
      check(camera.length === 2 * C, `${prefix}camera_token must be [1, 2, 1, ${C}]`);
      check(registers.length === 2 * R * C, `${prefix}register_token must be [1, 2, ${R}, ${C}]`);
      const K = c.patchStartIdx;
      return (S) => {
        const special = new Float32Array(S * K * C);
        for (let s = 0; s < S; s++) {
          const slot = s === 0 ? 0 : 1; // frame 0 uses slot 0, every other frame slot 1
          special.set(camera.subarray(slot * C, (slot + 1) * C), s * K * C);
          special.set(registers.subarray(slot * R * C, (slot + 1) * R * C), s * K * C + C);
        }
        return special;
      };
    },
  };
}

export interface AggregatorOptions {
  /** Where the segments run: `{ ep: 'wasm' }` or `{ ep: 'webgpu', gpu }`. */
  target: ExecutionTarget;
  /** Checkpoint key prefix of VGGT's layout (default 'aggregator.'); ignored when `layout` is given. */
  prefix?: string;
  /** The model's layout (default: VGGT's, {@link vggtLayout} under `prefix`). */
  layout?: TrunkLayout;
  /** Global-attention implementation (default: dense ONNX attention on the same target). */
  attention?: AttentionCore;
  /**
   * 'per-type' (default): one session per segment type, each block's weights fed as inputs (GPU-resident on
   * WebGPU): 7 sessions whatever the depth, fast to create. 'per-block': one session per block with its weights
   * as initializers: slower to create (≈ 3 s per block at VGGT-1B width on the wasm EP) but ORT can pre-pack
   * and fold them, which made runs faster in our measurements.
   */
  sessions?: 'per-type' | 'per-block';
  /**
   * DINO and frame-block attention. 'wgsl' (the default on WebGPU): pre-segment → our flash kernel with a frame
   * axis (all frames in one dispatch) → post-segment, so no `[S, H, T, T]` score tensor exists. 'onnx' (the only
   * choice on the wasm EP): each block as one ONNX session (MatMul → Softmax → MatMul), run over frame chunks whose
   * `[f, H, T, T]` scores fit min(tensor limit, `LOCAL_SCORE_BYTES`).
   */
  localAttention?: 'wgsl' | 'onnx';
  /**
   * Lower the buffer limits that chunk sizes come from (default: the WebGPU device's `maxStorageBufferBindingSize`
   * and `maxBufferSize`; on the wasm EP `WASM_TENSOR_BYTES`, which this replaces). Tests force chunking with a
   * tiny value. A run whose attention tensors (`[S·P, C]` float32: the cores take them whole) cannot fit one
   * buffer is refused with LIMIT_TOO_SMALL naming the largest S that fits (on WebGPU; on wasm when `limits` is set).
   */
  limits?: Partial<BufferLimits>;
  /**
   * Compute precision (default 'fp32'). 'fp16' (WebGPU with shader-f16 only): weights uploaded as float16 (F16/BF16
   * tensors without widening, F32 narrowed once), activations between segments float16, LayerNorm and Softmax in
   * float32, the WGSL attention cores on their f16-storage variant. The embed and bridge norm stay float32. Layers
   * returned on the host are float32; with `layersOn: 'gpu'` they are float16 GPU tensors (for float16 heads).
   */
  dtype?: 'fp32' | 'fp16';
  /** onnxruntime-web module (default: {@link loadOrt}). */
  ort?: Ort;
  signal?: AbortSignal;
}

export { checkComputeType } from '../graph/half-weights.js';

/**
 * What {@link Aggregator.run} returns. `L` is how the layers come: host arrays (the default), or, with
 * `layersOn: 'gpu'` on WebGPU, GPU tensors in the compute type ({@link HeadInput}) that the caller disposes.
 */
export interface AggregatorOutput<L extends HeadInput = Float32Array> {
  /** Requested layer index → `[S, P, 2·C]` (frame-block output, then global-block output, per token). */
  readonly layers: Map<number, L>;
  /** Index of the first patch token in each frame (the special tokens before it: VGGT 1 camera + 4 registers, π³ 5 registers). */
  readonly patchStart: number;
  readonly S: number;
  readonly P: number;
  /** 2·C. */
  readonly width: number;
  /**
   * Session runs per block of each kind: token chunks of the pre/post segments (global blocks; DINO and frame
   * blocks on the WGSL local path) or frame chunks of the whole-block ONNX local sessions. 1 = unchunked.
   */
  readonly chunks: { readonly dino: number; readonly frame: number; readonly global: number };
}

/** Layers the VGGT heads read (DPT: 4, 11, 17, 23; camera: the last). */
export const HEAD_LAYERS: readonly number[] = [4, 11, 17, 23];

/** Options of {@link Aggregator.run}. */
export interface AggregatorRunOptions {
  layers?: readonly number[];
  signal?: AbortSignal;
  /**
   * Called for every run block `i` with copies of its frame-block input `x` and frame-block output `xf` (the
   * global block's input), each `[S, P, C]`: what a backward pass (HeSS calibration) needs to recompute it.
   */
  keep?: (block: number, x: Float32Array, xf: Float32Array) => void;
  /** Which blocks `keep` is called for (default all): the others are not read back or copied. */
  keepBlock?: (block: number) => boolean;
  /**
   * Where the layers are returned (default 'host': Float32Array). 'gpu': on WebGPU each layer stays on the device
   * as a `[S, P, 2·C]` tensor in the compute type (float32, or float16 under dtype 'fp16': what heads of the same
   * dtype take), interleaved by a copy kernel, no readback, that the caller must dispose; a layer over the
   * one-buffer limit, and every layer on the wasm EP, still comes back as a Float32Array.
   */
  layersOn?: 'host' | 'gpu';
}

/** Dispose the GPU tensors among an {@link AggregatorOutput}'s layers (host arrays need nothing). */
export function disposeLayers(layers: ReadonlyMap<number, HeadInput>): void {
  for (const l of layers.values()) if (!(l instanceof Float32Array)) l.dispose();
}

type Feeds = Record<string, Tensor>;
/** Sessions of one segment type (1 shared, or 1 per block) and each block's weight feeds ({} when baked). */
interface Segment {
  sessions: InferenceSession[];
  feeds: Feeds[];
}
/**
 * Segment types: whole local blocks ('dino', 'frame': ONNX local path), split local blocks ('dpre'/'dpost',
 * 'fpre'/'fpost': WGSL local path) and the global blocks' pre/post segments.
 */
const KINDS = ['dino', 'frame', 'dpre', 'dpost', 'fpre', 'fpost', 'gpre', 'gpost'] as const;
type Kind = (typeof KINDS)[number];

/** Run block `i` of a segment type. */
async function runSeg(seg: Segment, i: number, feeds: Feeds): Promise<InferenceSession.ReturnType> {
  const s = seg.sessions.length === 1 ? seg.sessions[0] : seg.sessions[i];
  return s.run({ ...feeds, ...seg.feeds[i] });
}

/**
 * The aggregator forward pass.
 *
 * @example
 * const st = await openSafetensors(bytesSource(bytes));
 * const cfg = inferVggtConfig(st.tensors);
 * const agg = await Aggregator.create(st, cfg, { target: { ep: 'wasm' } });
 * const { layers } = await agg.run(images, { S: 3, H: 70, W: 98 }, { layers: [4, 11, 17, 23] });
 * await agg.dispose();
 */
export class Aggregator {
  private disposed = false;
  private readonly posCache = new Map<string, Float32Array>();

  private constructor(
    private readonly ort: Ort,
    readonly config: TrunkConfig,
    private readonly target: ExecutionTarget,
    private readonly segs: { embed: InferenceSession; bridge: InferenceSession } & Record<Kind, Segment>,
    private readonly allSessions: InferenceSession[],
    private readonly attention: AttentionCore,
    private readonly ownsAttention: boolean,
    private readonly consts: {
      posEmbed: Float32Array;
      cls: Float32Array;
      dinoRegs: Float32Array;
      special: (S: number) => Float32Array;
    },
    private readonly layout: TrunkLayout,
    private readonly gpuBuffers: GPUBuffer[],
    /** The WGSL local-attention core, or null on the ONNX local path. */
    private readonly local: WgslLocalAttention | null,
    /** Bytes one tensor may take ({@link tensorByteLimit}), and whether the caller set the limits. */
    private readonly limit: { bytes: number; given: boolean },
    /** Element type of the segments' activations and weights. */
    readonly type: ElemType,
  ) {}

  /** Build the sessions and load every weight of the trunk (where `opts.layout` says: VGGT's by default) from `reader`. */
  static async create(reader: WeightReader, config: TrunkConfig, opts: AggregatorOptions): Promise<Aggregator> {
    const ort = opts.ort ?? (await loadOrt());
    const layout = opts.layout ?? vggtLayout(opts.prefix);
    const { target, signal } = opts;
    const c = config;
    check(c.dino.dim === c.embedDim, `DINO width ${c.dino.dim} differs from the aggregator width ${c.embedDim}`);
    const localMode = opts.localAttention ?? (target.ep === 'webgpu' ? 'wgsl' : 'onnx');
    check(
      localMode === 'wgsl' || localMode === 'onnx',
      `unknown localAttention '${String(localMode)}'`,
      "use 'wgsl' or 'onnx'",
    );
    if (localMode === 'wgsl' && target.ep !== 'webgpu') {
      throw new HessError(
        'INVALID_ARGUMENT',
        "localAttention 'wgsl' needs the WebGPU EP",
        "use localAttention 'onnx' on the wasm EP",
      );
    }
    const type = checkComputeType(opts.dtype, target);
    const limit = { bytes: tensorByteLimit(target, opts.limits), given: opts.limits !== undefined };
    const agg: BlockDims = { ...trunkDims(c, layout), dtype: type };
    const dino: BlockDims = { ...encoderDims(c), dtype: type };
    const pe = layout.encoder;

    const gpuBuffers: GPUBuffer[] = [];
    const toTensor = (data: Float32Array | Uint16Array, dims: number[]): Tensor => {
      if (target.ep === 'wasm') return new ort.Tensor('float32', data as Float32Array, dims);
      const buf = createStorageBuffer(target.gpu.device, data, 'aggregator weight');
      gpuBuffers.push(buf);
      return ort.Tensor.fromGpuBuffer(buf, { dataType: data instanceof Uint16Array ? 'float16' : 'float32', dims });
    };
    const gpuOut = target.ep === 'webgpu' ? { preferredOutputLocation: 'gpu-buffer' as const } : {};
    const make = (bytes: Uint8Array) => createSession(ort, bytes, target, gpuOut);
    const perBlock = opts.sessions === 'per-block';
    const created: InferenceSession[] = [];
    const track = async (bytes: Uint8Array) => {
      const sess = await make(bytes);
      created.push(sess);
      return sess;
    };
    // Per type, sessions are shared by graph: frame and global blocks have the same pre/post graphs.
    const byGraph = new Map<string, InferenceSession>();
    const segs = Object.fromEntries(
      KINDS.map((k) => [k, { sessions: [] as InferenceSession[], feeds: [] as Feeds[] }]),
    ) as Record<Kind, Segment>;
    // Per type: one session whose weights are inputs (fed per block). Per block: weights baked as initializers.
    const addBlock = async (
      kind: Kind,
      graph: string,
      prefix: string,
      specs: ParamSpec[],
      build: (baked?: BlockWeights) => Uint8Array,
    ) => {
      await abortCheckpoint(signal);
      // On WebGPU, raw bytes converted and transposed on the device when the reader allows (bit-identical to
      // loadBlockWeights + upload, without a JS loop over the values).
      const onDevice =
        !perBlock && target.ep === 'webgpu'
          ? await loadBlockWeightsOnDevice(reader, prefix, specs, type, target.gpu.device)
          : null;
      const w = onDevice ? null : await loadBlockWeights(reader, prefix, specs, type);
      if (perBlock) {
        segs[kind].sessions.push(await track(build(w!)));
        segs[kind].feeds.push({});
      } else {
        if (segs[kind].sessions.length === 0) {
          let sess = byGraph.get(graph);
          if (!sess) byGraph.set(graph, (sess = await track(build())));
          segs[kind].sessions.push(sess);
        }
        const feeds: Feeds = {};
        for (const s of specs) {
          if (!onDevice) {
            feeds[s.input] = toTensor(w!.get(s.input)!, s.shape);
            continue;
          }
          const buf = onDevice.get(s.input)!;
          gpuBuffers.push(buf);
          feeds[s.input] = ort.Tensor.fromGpuBuffer(buf, { dataType: type, dims: s.shape });
        }
        segs[kind].feeds.push(feeds);
      }
    };

    try {
      const [dinoPre, dinoPost, aggPre, aggPost] = [preParams(dino), postParams(dino), preParams(agg), postParams(agg)];
      for (let i = 0; i < c.dino.depth; i++) {
        const at = `${pe}.blocks.${i}`;
        if (localMode === 'onnx') {
          await addBlock('dino', 'dino-block', at, [...dinoPre, ...dinoPost], (w) =>
            buildLocalBlockGraph(dino, `dino_block_${i}`, w),
          );
        } else {
          await addBlock('dpre', 'dino-pre', at, dinoPre, (w) => buildPreGraph(dino, w, `dino_pre_${i}`));
          await addBlock('dpost', 'dino-post', at, dinoPost, (w) => buildPostGraph(dino, w, `dino_post_${i}`));
        }
      }
      for (let i = 0; i < c.depth; i++) {
        const at = layout.frameBlock(i);
        if (localMode === 'onnx') {
          await addBlock('frame', 'frame-block', at, [...aggPre, ...aggPost], (w) =>
            buildLocalBlockGraph(agg, `frame_block_${i}`, w),
          );
        } else {
          await addBlock('fpre', 'agg-pre', at, aggPre, (w) => buildPreGraph(agg, w, `frame_pre_${i}`));
          await addBlock('fpost', 'agg-post', at, aggPost, (w) => buildPostGraph(agg, w, `frame_post_${i}`));
        }
        await addBlock('gpre', 'agg-pre', layout.globalBlock(i), aggPre, (w) =>
          buildPreGraph(agg, w, `global_pre_${i}`),
        );
        await addBlock('gpost', 'agg-post', layout.globalBlock(i), aggPost, (w) =>
          buildPostGraph(agg, w, `global_post_${i}`),
        );
      }
      const consts = {
        posEmbed: await reader.read(`${pe}.pos_embed`),
        cls: await reader.read(`${pe}.cls_token`),
        dinoRegs: c.dino.numRegisters ? await reader.read(`${pe}.register_tokens`) : new Float32Array(0),
        special: await layout.specialTokens(reader, c),
      };

      await abortCheckpoint(signal);
      const embed = await track(
        buildEmbedGraph(
          await reader.read(`${pe}.patch_embed.proj.weight`),
          await reader.read(`${pe}.patch_embed.proj.bias`),
          c.dino.dim,
          c.patchSize,
          type,
        ),
      );
      const bridge = await track(
        buildBridgeGraph(
          await reader.read(`${pe}.norm.weight`),
          await reader.read(`${pe}.norm.bias`),
          c.dino.dim,
          1 + c.dino.numRegisters,
          DINO_EPS,
          type,
        ),
      );
      const attention = opts.attention ?? (await DenseOnnxAttention.create(ort, target, agg.H, agg.d, type));
      const local = localMode === 'wgsl' && target.ep === 'webgpu' ? new WgslLocalAttention(ort, target.gpu) : null;
      return new Aggregator(
        ort,
        c,
        target,
        { embed, bridge, ...segs },
        created,
        attention,
        !opts.attention,
        consts,
        layout,
        gpuBuffers,
        local,
        limit,
        type,
      );
    } catch (e) {
      for (const sess of created) await sess.release().catch(() => undefined);
      for (const b of gpuBuffers) b.destroy();
      throw e;
    }
  }

  /**
   * Run on `images` (`[S, 3, H, W]` float32 in [0, 1], H and W multiples of the patch size). Returns only the
   * requested layers (default {@link HEAD_LAYERS}), each `[S, P, 2·C]`; blocks after the last requested layer
   * are not run.
   */
  async run(
    images: Float32Array,
    shape: { S: number; H: number; W: number },
    opts: AggregatorRunOptions & { layersOn: 'gpu' },
  ): Promise<AggregatorOutput<HeadInput>>;
  async run(
    images: Float32Array,
    shape: { S: number; H: number; W: number },
    opts?: AggregatorRunOptions & { layersOn?: 'host' },
  ): Promise<AggregatorOutput>;
  async run(
    images: Float32Array,
    shape: { S: number; H: number; W: number },
    opts: AggregatorRunOptions = {},
  ): Promise<AggregatorOutput<HeadInput>> {
    if (this.disposed) throw new HessError('DISPOSED', 'Aggregator used after dispose()', 'create a new Aggregator');
    const { S, H, W } = shape;
    const c = this.config;
    const p = c.patchSize;
    const C = c.embedDim;
    check(Number.isInteger(S) && S > 0, `S must be a positive integer, got ${S}`);
    if (H % p !== 0 || W % p !== 0 || H <= 0 || W <= 0) {
      throw new HessError(
        'SHAPE_MISMATCH',
        `image size ${H}×${W} is not a positive multiple of the patch size ${p}`,
        'preprocess the images (preprocessImages) so both sides are multiples of 14',
      );
    }
    if (images.length !== S * 3 * H * W) {
      throw new HessError(
        'SHAPE_MISMATCH',
        `images has ${images.length} values, expected ${S}·3·${H}·${W}`,
        'pass [S, 3, H, W] float32 data',
      );
    }
    const wanted = new Set(opts.layers ?? HEAD_LAYERS.filter((l) => l < c.depth));
    for (const l of wanted)
      check(Number.isInteger(l) && l >= 0 && l < c.depth, `layer ${l} is outside 0..${c.depth - 1}`);
    check(wanted.size > 0, 'no layers requested', 'pass e.g. { layers: [4, 11, 17, 23] }');
    // Blocks after the last requested layer cannot change the outputs: skip them.
    const last = Math.max(...wanted);
    const signal = opts.signal;
    const ort = this.ort;
    const gh = H / p;
    const gw = W / p;
    const K = c.patchStartIdx;
    const P = K + gh * gw;
    const N = S * P;
    const d = c.headDim;
    const R1 = 1 + c.dino.numRegisters;
    const T = R1 + gh * gw; // DINO tokens per frame

    // The attention cores take whole [S·T, H·d] tensors (one storage binding each on WebGPU): refuse what cannot fit.
    if (this.target.ep === 'webgpu' || this.limit.given) {
      const perFrame = Math.max(P, T) * C * 4;
      if (S * perFrame > this.limit.bytes) {
        const fit = Math.floor(this.limit.bytes / perFrame);
        throw new HessError(
          'LIMIT_TOO_SMALL',
          `${S} frames at ${H}×${W} need attention tensors [${S}·${Math.max(P, T)}, ${C}] of ${S * perFrame} bytes, over the ${this.limit.bytes}-byte limit of one buffer (maxStorageBufferBindingSize / maxBufferSize)`,
          fit > 0 ? `use at most ${fit} frames at this image size (or smaller images)` : 'use smaller images',
        );
      }
    }
    const plan = planChunks(
      S,
      P,
      T,
      this.limit.bytes,
      { C, H: c.numHeads, M: c.mlpHiddenDim },
      { C: c.dino.dim, H: c.dino.heads, M: c.dino.mlpHiddenDim },
    );
    const gChunks = rowChunks(N, plan.tokenRows);
    const dChunks = rowChunks(S * T, plan.dinoTokenRows);
    const rows = new RowTensors(ort, this.target, this.type);

    // Constant inputs for this shape, built in TS in float64.
    const posKey = `${gh}x${gw}`;
    let pos = this.posCache.get(posKey);
    if (!pos) this.posCache.set(posKey, (pos = interpolatePosEmbed(this.consts.posEmbed, c.dino.posGrid, C, gh, gw)));
    const prefix = new Float32Array(S * R1 * C);
    for (let s = 0; s < S; s++) {
      for (let k = 0; k < C; k++) prefix[s * R1 * C + k] = this.consts.cls[k] + pos[k];
      prefix.set(this.consts.dinoRegs, s * R1 * C + C);
    }
    const special = this.consts.special(S);
    const positions = ropePositions(gh, gw, K);
    const ropeF = ropeTables(positions, d, this.layout.ropeBase, 1);
    const ropeG = ropeTables(positions, d, this.layout.ropeBase, S);
    const t = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
    const half = this.type === 'float16';
    /** A host tensor in the segments' element type. */
    const seg = (data: Float32Array, dims: number[]) =>
      half ? new ort.Tensor('float16', toF16(data), dims) : t(data, dims);
    // The RoPE tables feed every block: on WebGPU upload them once per run instead of once per block.
    const runBuffers: GPUBuffer[] = [];
    const resident = (data: Float32Array, dims: number[]): Tensor => {
      if (this.target.ep === 'wasm') return t(data, dims);
      const buf = createStorageBuffer(this.target.gpu.device, half ? toF16(data) : data, 'rope table');
      runBuffers.push(buf);
      return ort.Tensor.fromGpuBuffer(buf, { dataType: this.type, dims });
    };
    // Frame blocks on the ONNX local path take one frame's table; split blocks (global, and frame blocks on the
    // WGSL local path) take the table over all N tokens (the frame table tiled S times), cut like their chunks.
    const frameRope: Feeds = this.local
      ? {}
      : { rope_cos: resident(ropeF.cos, [P, 1, d]), rope_sin: resident(ropeF.sinSigned, [P, 1, d]) };
    const tokenRope: Feeds[] = gChunks.map(([a, b]) => ({
      rope_cos: resident(ropeG.cos.subarray(a * d, b * d), [b - a, 1, d]),
      rope_sin: resident(ropeG.sinSigned.subarray(a * d, b * d), [b - a, 1, d]),
    }));

    const live = new Set<Tensor>();
    const own = (x: Tensor) => (live.add(x), x);
    const drop = (x: Tensor) => {
      if (live.delete(x)) x.dispose();
    };

    /**
     * A block split at its attention: pre-segment → `attend` over all rows → post-segment. With one chunk the
     * segments take `x` whole; otherwise each runs on row chunks of `x` (`[1, n, C]`), their outputs written into
     * whole q, k, v and y tensors, so no segment tensor (the MLP hidden included) passes the limit.
     */
    const split = async (
      kinds: [Kind, Kind],
      i: number,
      x: Tensor,
      b: { C: number; H: number; d: number },
      chunks: Array<[number, number]>,
      ropes: Feeds[] | undefined,
      attend: (q: Tensor, k: Tensor, v: Tensor) => Promise<Tensor>,
    ): Promise<Tensor> => {
      const [pre, post] = [this.segs[kinds[0]], this.segs[kinds[1]]];
      if (chunks.length === 1) {
        const r = await runSeg(pre, i, { x, ...ropes?.[0] });
        const [q, k, v] = [own(r.q), own(r.k), own(r.v)];
        const o = own(await attend(q, k, v));
        drop(q);
        drop(k);
        drop(v);
        const y = own((await runSeg(post, i, { x, o })).y);
        drop(o);
        return y;
      }
      const n = chunks[chunks.length - 1][1];
      const width = b.C;
      const qkv = [0, 1, 2].map(() => own(rows.alloc(n, width, [n, b.H, b.d])));
      for (const [ci, [a, e]] of chunks.entries()) {
        if (ci > 0) await abortCheckpoint(signal);
        const xc = own(rows.slice(x, a, e, width, [1, e - a, width]));
        const r = await runSeg(pre, i, { x: xc, ...ropes?.[ci] });
        drop(xc);
        for (const [j, part] of [r.q, r.k, r.v].entries()) {
          rows.write(qkv[j], a, own(part), width);
          drop(part);
        }
      }
      const o = own(await attend(qkv[0], qkv[1], qkv[2]));
      for (const u of qkv) drop(u);
      const y = own(rows.alloc(n, width, [...x.dims]));
      for (const [a, e] of chunks) {
        await abortCheckpoint(signal);
        const xc = own(rows.slice(x, a, e, width, [1, e - a, width]));
        const oc = own(rows.slice(o, a, e, width, [e - a, b.H, b.d]));
        const part = own((await runSeg(post, i, { x: xc, o: oc })).y);
        drop(xc);
        drop(oc);
        rows.write(y, a, part, width);
        drop(part);
      }
      drop(o);
      return y;
    };

    /** A whole local block as one ONNX session (ONNX local path), over chunks of `perChunk` frames of `Tn` tokens. */
    const whole = async (
      kind: Kind,
      i: number,
      x: Tensor,
      Tn: number,
      perChunk: number,
      rope: Feeds,
    ): Promise<Tensor> => {
      if (perChunk >= S) return own((await runSeg(this.segs[kind], i, { x, ...rope })).y);
      const y = own(rows.alloc(S * Tn, C, [S, Tn, C]));
      for (const [ci, [a, e]] of rowChunks(S * Tn, perChunk * Tn, Tn).entries()) {
        if (ci > 0) await abortCheckpoint(signal);
        const xc = own(rows.slice(x, a, e, C, [(e - a) / Tn, Tn, C]));
        const part = own((await runSeg(this.segs[kind], i, { x: xc, ...rope })).y);
        drop(xc);
        rows.write(y, a, part, C);
        drop(part);
      }
      return y;
    };

    const dinoDims = { C: c.dino.dim, H: c.dino.heads, d: c.dino.headDim };
    const aggDims = { C, H: c.numHeads, d };
    const local = this.local;
    const layers = new Map<number, HeadInput>();
    // A layer stays on the GPU, in the compute type, when asked and its [N, 2C] fits one buffer (float16 rows are
    // interleaved as 32-bit words, two values each: C is even).
    const z = this.type === 'float16' ? 2 : 4;
    const gpuLayers =
      opts.layersOn === 'gpu' &&
      this.target.ep === 'webgpu' &&
      2 * N * C * z <= this.limit.bytes &&
      (z === 4 || C % 2 === 0);
    const handOff = async (xf: Tensor, xg: Tensor): Promise<HeadInput> => {
      if (!gpuLayers || xf.location !== 'gpu-buffer' || xg.location !== 'gpu-buffer') {
        return interleaveHost(await this.read(xf), await this.read(xg), N, C);
      }
      const { device } = (this.target as Extract<ExecutionTarget, { ep: 'webgpu' }>).gpu;
      const buf = interleaveGpu(device, xf.gpuBuffer as GPUBuffer, xg.gpuBuffer as GPUBuffer, N, (C * z) / 4);
      const download =
        z === 4
          ? () => readF32(device, buf, 2 * N * C)
          : async () => new Uint16Array(await readBuffer(device, buf, 2 * N * C * 2)); // float16 bit patterns, as ORT holds them
      return ort.Tensor.fromGpuBuffer(buf, {
        dataType: this.type,
        dims: [S, P, 2 * C],
        download,
        dispose: () => buf.destroy(),
      } as Parameters<typeof ort.Tensor.fromGpuBuffer>[1]) as Tensor;
    };
    let done = false;
    try {
      let x = own(
        (
          await this.segs.embed.run({
            images: t(images, [S, 3, H, W]),
            pos: t(pos.subarray(C), [gh * gw, C]),
            prefix: t(prefix, [S, R1, C]),
          })
        ).tokens,
      );
      for (let i = 0; i < c.dino.depth; i++) {
        await abortCheckpoint(signal); // yields: on the wasm EP an abort is otherwise seen only after the run
        const y = local
          ? await split(['dpre', 'dpost'], i, x, dinoDims, dChunks, undefined, (q, k, v) =>
              local.run(q, k, v, S, T, dinoDims.H, dinoDims.d),
            )
          : await whole('dino', i, x, T, plan.dinoFrames, {});
        drop(x);
        x = y;
      }
      const tokens = own((await this.segs.bridge.run({ x, special: seg(special, [S, K, C]) })).y);
      drop(x);
      x = tokens;
      for (let i = 0; i <= last; i++) {
        await abortCheckpoint(signal);
        const xf = local
          ? await split(['fpre', 'fpost'], i, x, aggDims, gChunks, tokenRope, (q, k, v) =>
              local.run(q, k, v, S, P, aggDims.H, d),
            )
          : await whole('frame', i, x, P, plan.frames, frameRope);
        if (opts.keep && (opts.keepBlock?.(i) ?? true))
          opts.keep(i, Float32Array.from(await this.read(x)), Float32Array.from(await this.read(xf)));
        drop(x);
        const xg = await split(['gpre', 'gpost'], i, xf, aggDims, gChunks, tokenRope, (q, k, v) =>
          this.attention.run(q, k, v, N, c.numHeads, d, { block: i, S, P }),
        );
        if (wanted.has(i)) layers.set(i, await handOff(xf, xg));
        drop(xf);
        x = xg;
      }
      drop(x);
      done = true;
    } finally {
      if (!done) disposeLayers(layers);
      for (const x of live) x.dispose();
      for (const b of runBuffers) b.destroy(); // queued work that reads them still completes (WebGPU semantics)
    }
    const localRuns = (frames: number, tokenChunks: number) =>
      local ? tokenChunks : Math.ceil(S / Math.min(frames, S));
    return {
      layers,
      patchStart: K,
      S,
      P,
      width: 2 * C,
      chunks: {
        dino: localRuns(plan.dinoFrames, dChunks.length),
        frame: localRuns(plan.frames, gChunks.length),
        global: gChunks.length,
      },
    };
  }

  /**
   * Replace one block weight in place (default 'per-type' sessions only): `kind` 'frame' or 'global', `key` as in
   * the checkpoint after the block prefix (e.g. 'attn.qkv.weight'), `data` in PyTorch layout. Lets calibration
   * perturb or plant weights without rebuilding the sessions.
   *
   * @example
   * agg.setBlockWeight('global', 3, 'attn.qkv.weight', perturbedQkv);
   */
  setBlockWeight(kind: 'frame' | 'global', block: number, key: string, data: Float32Array): void {
    if (this.disposed) throw new HessError('DISPOSED', 'Aggregator used after dispose()', 'create a new Aggregator');
    const c = this.config;
    check(Number.isInteger(block) && block >= 0 && block < c.depth, `block ${block} is outside 0..${c.depth - 1}`);
    const b = trunkDims(c, this.layout);
    const segKinds: Kind[] = kind === 'global' ? ['gpre', 'gpost'] : this.local ? ['fpre', 'fpost'] : ['frame'];
    for (const sk of segKinds) {
      const specs =
        sk === 'frame' ? [...preParams(b), ...postParams(b)] : sk.endsWith('pre') ? preParams(b) : postParams(b);
      const spec = specs.find((s) => s.key === key);
      if (!spec) continue;
      const feeds = this.segs[sk].feeds[block]!;
      if (!(spec.input in feeds)) {
        throw new HessError(
          'INVALID_ARGUMENT',
          'setBlockWeight needs per-type sessions (weights as inputs)',
          "create the Aggregator with sessions: 'per-type'",
        );
      }
      const n = spec.shape.reduce((a, x) => a * x, 1);
      check(data.length === n, `${key} needs ${n} values, got ${data.length}`);
      let v: Float32Array | Uint16Array = spec.linear
        ? transposeLinear(data, spec.linear[0], spec.linear[1])
        : Float32Array.from(data);
      if (this.type === 'float16') v = toF16(v);
      if (this.target.ep === 'wasm') {
        feeds[spec.input] = new this.ort.Tensor('float32', v as Float32Array, spec.shape);
      } else {
        const buf = createStorageBuffer(this.target.gpu.device, v, 'aggregator weight');
        this.gpuBuffers.push(buf);
        feeds[spec.input] = this.ort.Tensor.fromGpuBuffer(buf, { dataType: this.type, dims: spec.shape });
      }
      return;
    }
    throw new HessError(
      'INVALID_ARGUMENT',
      `no ${kind}-block weight '${key}'`,
      "use a key such as 'attn.qkv.weight' or 'attn.proj.weight'",
    );
  }

  /**
   * A segment output's values as float32, read without `Tensor.getData()`: that moves an ORT tensor to the CPU,
   * so a layer read back for the heads would be uploaded again as the next block's input.
   */
  private async read(t: Tensor): Promise<Float32Array> {
    if (t.location !== 'gpu-buffer' || this.target.ep !== 'webgpu') {
      if (t.location !== 'cpu') await t.getData();
      return hostF32(t);
    }
    const half = t.type === 'float16';
    const raw = await readBuffer(this.target.gpu.device, t.gpuBuffer as GPUBuffer, t.size * (half ? 2 : 4));
    return half ? fromF16(new Uint16Array(raw)) : new Float32Array(raw);
  }

  /** Release sessions and GPU weight buffers. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.allSessions) await s.release();
    if (this.ownsAttention) await this.attention.dispose();
    for (const b of this.gpuBuffers) b.destroy();
  }

  /** Where the segments run. */
  get ep(): 'wasm' | 'webgpu' {
    return this.target.ep;
  }
}

/** A host float32 or float16 tensor's values as float32 (float16 as bit patterns, or a Float16Array where one exists). */
function hostF32(t: Tensor): Float32Array {
  const data = t.data;
  if (t.type !== 'float16') return data as Float32Array;
  return data instanceof Uint16Array ? fromF16(data) : Float32Array.from(data as ArrayLike<number>);
}

/** The DINOv2 encoder blocks' dims (no q/k norm, no RoPE). */
export function encoderDims(c: TrunkConfig): BlockDims {
  const e = c.dino;
  return { C: e.dim, H: e.heads, d: e.headDim, M: e.mlpHiddenDim, eps: DINO_EPS, qkNorm: false, rope: false };
}

/** The alternating blocks' dims (q/k norm and RoPE: the aggregator form) under `layout`'s norm eps. */
export function trunkDims(c: TrunkConfig, layout: Pick<TrunkLayout, 'eps' | 'qkEps'>): BlockDims {
  return {
    C: c.embedDim,
    H: c.numHeads,
    d: c.headDim,
    M: c.mlpHiddenDim,
    eps: layout.eps,
    qkEps: layout.qkEps,
    qkNorm: true,
    rope: true,
  };
}
