/**
 * VGGT camera head as one ONNX graph: token_norm → 4 refinement iterations of (adaLN modulation → trunk Blocks →
 * trunk_norm → pose_branch), accumulating the raw (pre-activation) pose encoding, ReLU on the FoV at the end.
 * The trunk attends across the S camera tokens of one scene (sequence length S, negligible cost).
 *
 * The runtime session takes every weight as a graph input (GPU-resident on WebGPU, uploaded once): VGGT-1B's
 * camera head is 0.87 GB, which as initializers would be serialized into one protobuf and copied into ORT's heap.
 */
import { HessError, check } from '../../errors.js';
import { Graph } from '../../onnx/builder.js';
import { createSession, loadOrt, type ExecutionTarget, type Ort } from '../../runtime/ort.js';
import type { CameraHeadConfig } from '../config.js';
import {
  type HeadParam,
  HeadParams,
  type HeadParamSource,
  type HeadFeeds,
  loadHeadFeeds,
  releaseFeeds,
} from '../heads/head-params.js';
import { type HeadInput, gatherSpans, inputLength } from '../trunk/head-inputs.js';
import { checkComputeType } from '../graph/half-weights.js';
import { type HeadWeights, type LoadedTensor, silu, sliceAxis } from '../heads/heads-common.js';
import {
  VGGT_OPSET,
  cast,
  consts,
  type ElemType,
  gelu,
  layerNorm,
  layerNormNoAffine,
  linear,
  reshape,
} from '../graph/ops.js';

type Session = import('onnxruntime-web').InferenceSession;

/** Camera-head options beyond the architecture. */
export interface CameraHeadOptions {
  /** Refinement iterations (4 in VGGT). */
  iterations?: number;
  /** Weight-name prefix (default 'camera_head'). */
  prefix?: string;
  /** An already loaded onnxruntime-web (default: {@link loadOrt}). */
  ort?: Ort;
  signal?: AbortSignal;
  /**
   * Compute precision (default 'fp32'). 'fp16' (WebGPU with shader-f16): weights uploaded as float16 (no float32
   * copy), the graph in float16 with its LayerNorms and the trunk's Softmax in float32 (and the parts in
   * {@link CAMERA_FP32_PARTS}); a GPU input must then be a float16 tensor. `pose_enc` is float32 either way.
   */
  dtype?: 'fp32' | 'fp16';
  /** Which parts of a float16 head compute in float32 (default {@link CAMERA_FP32_PARTS}; for measurements). */
  fp32Parts?: readonly CameraFp32Part[];
}

/**
 * Parts of a float16 camera head that can compute in float32 (LayerNorms and the Softmax always do): 'attention'
 * (the trunk's q·kᵀ and probs·v), 'pose' (the pose branch's last Linear, the running pose sum and its embedding).
 */
export type CameraFp32Part = 'attention' | 'pose';

/**
 * What a float16 camera head keeps in float32 beyond its LayerNorms and Softmax by default: nothing. Measured on
 * the fixture (bench/fp16.bench.ts → bench/results/fp16.md): neither part lowers pose_enc's error, which stays at
 * the float16 rounding of the tokens and weights (~1e-3).
 */
export const CAMERA_FP32_PARTS: readonly CameraFp32Part[] = [];

const LN_EPS = 1e-5; // nn.LayerNorm default: token_norm, trunk_norm and the trunk Blocks
const ADALN_EPS = 1e-6; // adaln_norm: LayerNorm(elementwise_affine=False, eps=1e-6)

/**
 * The VGGT camera head. Input: the last aggregated layer `[S, P, 2·dim]`; output `pose_enc` `[S, 9]`
 * (`absT_quaR_FoV`: T xyz, quaternion XYZW, FoV h/w in radians; see {@link poseEncodingToExtriIntri}).
 *
 * @example
 * const cfg = inferVggtConfig(st.tensors, { camera_heads: 16 });
 * const head = await CameraHead.create(st, cfg.camera!, { ep: 'wasm' });
 * const poseEnc = await head.run(layer23, S); // Float32Array [S, 9]
 */
export class CameraHead {
  private constructor(
    private readonly ort: Ort,
    private session: Session | null,
    readonly config: CameraHeadConfig,
    private readonly target: ExecutionTarget,
    private readonly weights: HeadFeeds,
    /** Element type the head computes in (its weights and token input). */
    readonly type: ElemType,
  ) {}

  /** Bytes of weights the head holds (4 per value in fp32, 2 in fp16; on the GPU under WebGPU). */
  get weightBytes(): number {
    return this.weights.bytes;
  }

  /** Build the graph (weights as inputs), stream the weights into feeds and create the session on `target`. */
  static async create(
    weights: HeadWeights,
    config: CameraHeadConfig,
    target: ExecutionTarget,
    opts: CameraHeadOptions = {},
  ): Promise<CameraHead> {
    const prefix = opts.prefix ?? 'camera_head';
    const iterations = opts.iterations ?? 4;
    check(Number.isInteger(iterations) && iterations >= 1, `iterations must be a positive integer, got ${iterations}`);
    check(
      config.dim % config.heads === 0,
      `camera head width ${config.dim} is not divisible by ${config.heads} heads`,
      'pass camera_heads from the model config (4 for the tiny fixture, 16 for VGGT-1B)',
    );
    const type = checkComputeType(opts.dtype, target);
    const { graph, params } = cameraHeadInputsGraph(weights.tensors, config, iterations, prefix, {
      type,
      fp32Parts: opts.fp32Parts,
    });
    const ort = opts.ort ?? (await loadOrt());
    const feeds = await loadHeadFeeds(weights, prefix, params, ort, target, opts.signal, type);
    try {
      const session = await createSession(ort, graph.toModel({ opset: VGGT_OPSET }).model, target);
      return new CameraHead(ort, session, config, target, feeds, type);
    } catch (e) {
      releaseFeeds(feeds);
      throw e;
    }
  }

  /**
   * Run on the last aggregated layer `[S, P, 2·dim]` (only token 0 of each frame, the camera token, is read),
   * or on the camera tokens alone `[S, 2·dim]` when `P` is 1. The layer may be a Float32Array or an
   * onnxruntime-web tensor (CPU, or a GPU buffer on this head's WebGPU device of the head's element type: only the
   * S camera tokens are copied).
   */
  async run(lastLayer: HeadInput, S: number): Promise<Float32Array> {
    if (!this.session) throw new HessError('DISPOSED', 'CameraHead.run after dispose()', 'create a new CameraHead');
    check(Number.isInteger(S) && S >= 1, `S must be a positive integer, got ${S}`);
    const C = this.config.dim;
    const len = inputLength(lastLayer, 'lastLayer');
    const P = len / (S * C);
    if (!Number.isInteger(P) || P < 1) {
      throw new HessError(
        'SHAPE_MISMATCH',
        `lastLayer has ${len} elements, not S·P·${C} for S = ${S}`,
        `pass the last aggregated layer as [S, P, ${C}] (camera token first in each frame)`,
      );
    }
    const offsets = Array.from({ length: S }, (_, s) => s * P * C);
    const tokens =
      P === 1
        ? gatherSpans(this.ort, this.target, lastLayer, [0], S * C, [S, C], this.type)
        : gatherSpans(this.ort, this.target, lastLayer, offsets, C, [S, C], this.type);
    try {
      const out = await this.session.run({ ...this.weights.feeds, tokens: tokens.tensor });
      return Float32Array.from(out.pose_enc!.data as Float32Array);
    } finally {
      tokens.dispose();
    }
  }

  /** Release the session and the weights. */
  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (s) releaseFeeds(this.weights);
    await s?.release();
  }
}

/** One trunk Block's weights (bound once; every iteration reuses them). */
interface BlockParams {
  n1w: string;
  n1b: string;
  qkv: { w: string; b?: string };
  proj: { w: string; b?: string };
  ls1: string;
  n2w: string;
  n2b: string;
  fc1: { w: string; b?: string };
  fc2: { w: string; b?: string };
  ls2: string;
}

function blockParams(p: HeadParams, i: number, cfg: CameraHeadConfig): BlockParams {
  const C = cfg.dim;
  const hid = cfg.mlpHiddenDim;
  const b = `trunk.${i}`;
  const vec = (k: string) => p.tensor(`${b}.${k}`, [C]);
  return {
    n1w: vec('norm1.weight'),
    n1b: vec('norm1.bias'),
    qkv: p.linear(`${b}.attn.qkv`, 3 * C, C),
    proj: p.linear(`${b}.attn.proj`, C, C),
    ls1: vec('ls1.gamma'),
    n2w: vec('norm2.weight'),
    n2b: vec('norm2.bias'),
    fc1: p.linear(`${b}.mlp.fc1`, hid, C),
    fc2: p.linear(`${b}.mlp.fc2`, C, hid),
    ls2: vec('ls2.gamma'),
  };
}

/** One trunk Block (pre-norm, LayerScale, plain MHSA over the S tokens; no qk-norm, no RoPE). */
function block(g: Graph, x: string, p: BlockParams, cfg: CameraHeadConfig, pr: Precision): string {
  const C = cfg.dim;
  const H = cfg.heads;
  const hd = C / H;
  const t = pr.type;
  const h1 = layerNorm(g, x, p.n1w, p.n1b, LN_EPS, t);
  const qkv = reshape(g, linear(g, h1, p.qkv.w, p.qkv.b), [-1, 3, H, hd]); // [S, 3, H, hd]: q,k,v each head-major
  // Softmax in float32 always; the two products around it in float32 with the 'attention' part
  const at: ElemType = pr.fp32.has('attention') ? 'float32' : t;
  const qkvT = cast(g, g.op('Transpose', [qkv], { perm: [1, 2, 0, 3] })[0], t, at); // [3, H, S, hd]
  const [q, k, v] = g.op('Split', [qkvT, g.ints([1, 1, 1])], { axis: 0 }, { outputs: 3 }) as unknown as [
    string,
    string,
    string,
  ];
  const qs = g.op('Mul', [q, consts(g, [1 / Math.sqrt(hd)], [1], at)])[0];
  const scores = g.op('MatMul', [qs, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })[0]])[0]; // [1, H, S, S]
  const probs = cast(g, g.op('Softmax', [cast(g, scores, at, 'float32')], { axis: -1 })[0], 'float32', at);
  const attn = cast(g, g.op('MatMul', [probs, v])[0], at, t); // [1, H, S, hd]
  const merged = reshape(g, g.op('Transpose', [attn], { perm: [0, 2, 1, 3] })[0], [-1, C]);
  const a = linear(g, merged, p.proj.w, p.proj.b);
  const x1 = g.op('Add', [x, g.op('Mul', [a, p.ls1])[0]])[0];
  const h2 = layerNorm(g, x1, p.n2w, p.n2b, LN_EPS, t);
  const m = linear(g, gelu(g, linear(g, h2, p.fc1.w, p.fc1.b), t), p.fc2.w, p.fc2.b);
  return g.op('Add', [x1, g.op('Mul', [m, p.ls2])[0]])[0];
}

/** A graph's element type and the parts of a float16 graph kept in float32. */
interface Precision {
  readonly type: ElemType;
  readonly fp32: ReadonlySet<CameraFp32Part>;
}

/** Build the whole camera head with its weights baked (all iterations unrolled; trunk weights shared across them). */
export function buildCameraGraph(
  w: Map<string, LoadedTensor>,
  cfg: CameraHeadConfig,
  iterations: number,
  prefix: string,
): Uint8Array {
  return cameraHeadGraph(w, cfg, iterations, prefix).toModel({ opset: VGGT_OPSET }).model;
}

/**
 * The camera head as a {@link Graph} with its weights baked (input `tokens [S, 2·dim]`, output `pose_enc [S, 9]`),
 * e.g. to differentiate it. `w` comes from `loadPrefixed(weights, prefix)`.
 *
 * @example
 * const g = cameraHeadGraph(await loadPrefixed(st, 'camera_head'), cfg.camera!, 4, 'camera_head');
 */
export function cameraHeadGraph(
  w: Map<string, LoadedTensor>,
  cfg: CameraHeadConfig,
  iterations: number,
  prefix: string,
): Graph {
  return cameraGraph({ baked: w }, cfg, iterations, prefix, { type: 'float32', fp32: new Set() }).graph;
}

/**
 * The camera head with every weight a graph input (named `${prefix}.${key}`; Linear weights `[in, out]`), built
 * from the checkpoint's tensor table alone (no weight data): what {@link CameraHead} runs. `type` 'float16' makes
 * the weights and `tokens` float16 inputs (LayerNorms and `fp32Parts` in float32; `pose_enc` stays float32).
 *
 * @example
 * const { graph, params } = cameraHeadInputsGraph(st.tensors, cfg.camera!, 4, 'camera_head');
 */
export function cameraHeadInputsGraph(
  shapes: ReadonlyMap<string, { readonly shape: readonly number[] }>,
  cfg: CameraHeadConfig,
  iterations: number,
  prefix: string,
  opts: { type?: ElemType; fp32Parts?: readonly CameraFp32Part[] } = {},
): { graph: Graph; params: HeadParam[] } {
  const type = opts.type ?? 'float32';
  return cameraGraph({ shapes }, cfg, iterations, prefix, {
    type,
    fp32: new Set(type === 'float16' ? (opts.fp32Parts ?? CAMERA_FP32_PARTS) : []),
  });
}

function cameraGraph(
  src: HeadParamSource,
  cfg: CameraHeadConfig,
  iterations: number,
  prefix: string,
  pr: Precision,
): { graph: Graph; params: HeadParam[] } {
  const C = cfg.dim;
  const D = cfg.poseDim;
  check(D === 9, `only the absT_quaR_FoV pose encoding (9 values) is supported, the weights have ${D}`);
  const t = pr.type;
  const g = new Graph('vggt_camera_head');
  const p = new HeadParams(g, prefix, src, t);
  const vec = (k: string) => p.tensor(k, [C]);

  const tokens = g.input('tokens', t, ['S', C]);
  const pose = layerNorm(g, tokens, vec('token_norm.weight'), vec('token_norm.bias'), LN_EPS, t);
  const normed = layerNormNoAffine(g, pose, C, ADALN_EPS, t); // the same in every iteration: pose_tokens never changes
  // the running pose sum and what reads or writes it: float32 with the 'pose' part
  const pt: ElemType = pr.fp32.has('pose') ? 'float32' : t;
  const empty = cast(g, p.tensor('empty_pose_tokens', [1, 1, D], [1, D]), t, pt);
  const embed = p.linear('embed_pose', C, D);
  const embedW = cast(g, embed.w, t, pt);
  const embedB = cast(g, embed.b!, t, pt);
  const mod = p.linear('poseLN_modulation.1', 3 * C, C);
  const hb = p.shape('pose_branch.fc1.weight', [-1, C])[0]!;
  const fc1 = p.linear('pose_branch.fc1', hb, C);
  const fc2 = p.linear('pose_branch.fc2', D, hb);
  const fc2W = cast(g, fc2.w, t, pt);
  const fc2B = cast(g, fc2.b!, t, pt);
  const tnW = vec('trunk_norm.weight');
  const tnB = vec('trunk_norm.bias');
  const one = consts(g, [1], [1], t);

  const trunk = Array.from({ length: cfg.trunkDepth }, (_, b) => blockParams(p, b, cfg));

  let raw: string | null = null;
  for (let it = 0; it < iterations; it++) {
    // feed back the raw running sum (pre-ReLU), as upstream does
    const inp = cast(g, linear(g, raw ?? empty, embedW, embedB), pt, t);
    const m = linear(g, silu(g, inp), mod.w, mod.b);
    const [shift, scale, gate] = g.op('Split', [m, g.ints([C, C, C])], { axis: -1 }, { outputs: 3 }) as unknown as [
      string,
      string,
      string,
    ];
    const modulated = g.op('Add', [g.op('Mul', [normed, g.op('Add', [scale, one])[0]])[0], shift])[0];
    let x = g.op('Add', [g.op('Mul', [gate, modulated])[0], pose])[0];
    for (const b of trunk) x = block(g, x, b, cfg, pr);
    const hidden = gelu(g, linear(g, layerNorm(g, x, tnW, tnB, LN_EPS, t), fc1.w, fc1.b), t);
    const delta = linear(g, cast(g, hidden, t, pt), fc2W, fc2B);
    raw = raw === null ? delta : g.op('Add', [raw, delta])[0];
  }
  // translation and quaternion are linear; FoV goes through ReLU (on float32)
  const out = cast(g, raw!, pt, 'float32');
  const tq = sliceAxis(g, out, 1, 0, 7);
  const fov = g.op('Relu', [sliceAxis(g, out, 1, 7, 9)])[0];
  g.output(g.op('Concat', [tq, fov], { axis: 1 })[0], 'float32', ['S', D], 'pose_enc');
  return { graph: g, params: p.inputs };
}
