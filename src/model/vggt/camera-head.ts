/**
 * VGGT camera head as one ONNX graph: token_norm → 4 refinement iterations of (adaLN modulation → trunk Blocks →
 * trunk_norm → pose_branch), accumulating the raw (pre-activation) pose encoding, ReLU on the FoV at the end.
 * The trunk attends across the S camera tokens of one scene (sequence length S, negligible cost).
 */
import { HessError, check } from '../../errors';
import { Graph } from '../../onnx/builder';
import type { ExecutionTarget, Ort } from '../../runtime/ort';
import type { CameraHeadConfig } from '../config';
import { type HeadWeights, type LoadedTensor, headSession, loadPrefixed, need, silu, sliceAxis } from './heads-common';
import { VGGT_OPSET, addLinear, addWeight, gelu, layerNorm, layerNormNoAffine, linear, reshape } from './ops';

type Session = import('onnxruntime-web').InferenceSession;

/** Camera-head options beyond the architecture. */
export interface CameraHeadOptions {
  /** Refinement iterations (4 in VGGT). */
  iterations?: number;
  /** Weight-name prefix (default 'camera_head'). */
  prefix?: string;
  /** An already loaded onnxruntime-web (default: {@link loadOrt}). */
  ort?: Ort;
}

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
  ) {}

  /** Load the weights, build the graph and create its session on `target`. */
  static async create(
    weights: HeadWeights, config: CameraHeadConfig, target: ExecutionTarget, opts: CameraHeadOptions = {},
  ): Promise<CameraHead> {
    const prefix = opts.prefix ?? 'camera_head';
    const iterations = opts.iterations ?? 4;
    check(Number.isInteger(iterations) && iterations >= 1, `iterations must be a positive integer, got ${iterations}`);
    check(config.dim % config.heads === 0, `camera head width ${config.dim} is not divisible by ${config.heads} heads`,
      'pass camera_heads from the model config (4 for the tiny fixture, 16 for VGGT-1B)');
    const w = await loadPrefixed(weights, prefix);
    const model = buildCameraGraph(w, config, iterations, prefix);
    const { ort, session } = await headSession(opts.ort, model, target);
    return new CameraHead(ort, session, config);
  }

  /**
   * Run on the last aggregated layer `[S, P, 2·dim]` (only token 0 of each frame, the camera token, is read),
   * or on the camera tokens alone `[S, 2·dim]` when `P` is 1.
   */
  async run(lastLayer: Float32Array, S: number): Promise<Float32Array> {
    if (!this.session) throw new HessError('DISPOSED', 'CameraHead.run after dispose()', 'create a new CameraHead');
    check(Number.isInteger(S) && S >= 1, `S must be a positive integer, got ${S}`);
    const C = this.config.dim;
    check(lastLayer instanceof Float32Array, 'lastLayer must be a Float32Array', 'pass the last aggregated layer [S, P, 2·dim]');
    const P = lastLayer.length / (S * C);
    if (!Number.isInteger(P) || P < 1) {
      throw new HessError('SHAPE_MISMATCH', `lastLayer has ${lastLayer.length} elements, not S·P·${C} for S = ${S}`,
        `pass the last aggregated layer as [S, P, ${C}] (camera token first in each frame)`);
    }
    const tokens = new Float32Array(S * C);
    for (let s = 0; s < S; s++) tokens.set(lastLayer.subarray(s * P * C, s * P * C + C), s * C);
    const out = await this.session.run({ tokens: new this.ort.Tensor('float32', tokens, [S, C]) });
    const data = out.pose_enc!.data as Float32Array;
    return new Float32Array(data);
  }

  /** Release the session. */
  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.release();
  }
}

interface BlockParams {
  n1w: string; n1b: string; qkv: { w: string; b?: string }; proj: { w: string; b?: string }; ls1: string;
  n2w: string; n2b: string; fc1: { w: string; b?: string }; fc2: { w: string; b?: string }; ls2: string;
}

/** Add one trunk Block's initializers (once; every iteration reuses them). */
function blockParams(g: Graph, w: Map<string, LoadedTensor>, prefix: string, i: number, cfg: CameraHeadConfig): BlockParams {
  const C = cfg.dim;
  const hid = cfg.mlpHiddenDim;
  const p = `trunk.${i}`;
  const n = (k: string, shape: number[]) => need(w, prefix, `${p}.${k}`, shape);
  const vec = (k: string) => addWeight(g, `${prefix}.${p}.${k}`, n(k, [C]).data, [C]);
  const lin = (k: string, out: number, inDim: number) =>
    addLinear(g, `${prefix}.${p}.${k}`, n(`${k}.weight`, [out, inDim]).data, [out, inDim], n(`${k}.bias`, [out]).data);
  return {
    n1w: vec('norm1.weight'), n1b: vec('norm1.bias'), qkv: lin('attn.qkv', 3 * C, C), proj: lin('attn.proj', C, C),
    ls1: vec('ls1.gamma'), n2w: vec('norm2.weight'), n2b: vec('norm2.bias'), fc1: lin('mlp.fc1', hid, C),
    fc2: lin('mlp.fc2', C, hid), ls2: vec('ls2.gamma'),
  };
}

/** One trunk Block (pre-norm, LayerScale, plain MHSA over the S tokens; no qk-norm, no RoPE). */
function block(g: Graph, x: string, p: BlockParams, cfg: CameraHeadConfig): string {
  const C = cfg.dim;
  const H = cfg.heads;
  const hd = C / H;
  const h1 = layerNorm(g, x, p.n1w, p.n1b, LN_EPS);
  const qkv = reshape(g, linear(g, h1, p.qkv.w, p.qkv.b), [-1, 3, H, hd]); // [S, 3, H, hd]: q,k,v each head-major
  const qkvT = g.op('Transpose', [qkv], { perm: [1, 2, 0, 3] })[0]; // [3, H, S, hd]
  const [q, k, v] = g.op('Split', [qkvT, g.ints([1, 1, 1])], { axis: 0 }, { outputs: 3 }) as unknown as [string, string, string];
  const qs = g.op('Mul', [q, g.floats([1 / Math.sqrt(hd)], [1])])[0];
  const scores = g.op('MatMul', [qs, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })[0]])[0]; // [1, H, S, S]
  const attn = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 })[0], v])[0]; // [1, H, S, hd]
  const merged = reshape(g, g.op('Transpose', [attn], { perm: [0, 2, 1, 3] })[0], [-1, C]);
  const a = linear(g, merged, p.proj.w, p.proj.b);
  const x1 = g.op('Add', [x, g.op('Mul', [a, p.ls1])[0]])[0];
  const h2 = layerNorm(g, x1, p.n2w, p.n2b, LN_EPS);
  const m = linear(g, gelu(g, linear(g, h2, p.fc1.w, p.fc1.b)), p.fc2.w, p.fc2.b);
  return g.op('Add', [x1, g.op('Mul', [m, p.ls2])[0]])[0];
}

/** Build the whole camera head (all iterations unrolled; the trunk's initializers are shared across them). */
export function buildCameraGraph(w: Map<string, LoadedTensor>, cfg: CameraHeadConfig, iterations: number, prefix: string): Uint8Array {
  return cameraHeadGraph(w, cfg, iterations, prefix).toModel({ opset: VGGT_OPSET }).model;
}

/**
 * The camera head as a {@link Graph} (input `tokens [S, 2·dim]`, output `pose_enc [S, 9]`), e.g. to differentiate
 * it. `w` comes from `loadPrefixed(weights, prefix)`.
 *
 * @example
 * const g = cameraHeadGraph(await loadPrefixed(st, 'camera_head'), cfg.camera!, 4, 'camera_head');
 */
export function cameraHeadGraph(w: Map<string, LoadedTensor>, cfg: CameraHeadConfig, iterations: number, prefix: string): Graph {
  const C = cfg.dim;
  const D = cfg.poseDim;
  check(D === 9, `only the absT_quaR_FoV pose encoding (9 values) is supported, the weights have ${D}`);
  const g = new Graph('vggt_camera_head');
  const n = (k: string, shape: number[]) => need(w, prefix, k, shape);
  const vec = (k: string) => addWeight(g, `${prefix}.${k}`, n(k, [C]).data, [C]);
  const lin = (k: string, out: number, inDim: number) =>
    addLinear(g, `${prefix}.${k}`, n(`${k}.weight`, [out, inDim]).data, [out, inDim], n(`${k}.bias`, [out]).data);

  const tokens = g.input('tokens', 'float32', ['S', C]);
  const pose = layerNorm(g, tokens, vec('token_norm.weight'), vec('token_norm.bias'), LN_EPS);
  const normed = layerNormNoAffine(g, pose, C, ADALN_EPS); // the same in every iteration: pose_tokens never changes
  const empty = addWeight(g, `${prefix}.empty_pose_tokens`, n('empty_pose_tokens', [1, 1, D]).data, [1, D]);
  const embed = lin('embed_pose', C, D);
  const mod = addLinear(g, `${prefix}.poseLN_modulation.1`, n('poseLN_modulation.1.weight', [3 * C, C]).data, [3 * C, C],
    n('poseLN_modulation.1.bias', [3 * C]).data);
  const hb = need(w, prefix, 'pose_branch.fc1.weight', [-1, C]).shape[0]!;
  const fc1 = lin('pose_branch.fc1', hb, C);
  const fc2 = lin('pose_branch.fc2', D, hb);
  const tnW = vec('trunk_norm.weight');
  const tnB = vec('trunk_norm.bias');
  const one = g.floats([1], [1]);

  const trunk = Array.from({ length: cfg.trunkDepth }, (_, b) => blockParams(g, w, prefix, b, cfg));

  let raw: string | null = null;
  for (let it = 0; it < iterations; it++) {
    // feed back the raw running sum (pre-ReLU), as upstream does
    const inp = linear(g, raw ?? empty, embed.w, embed.b);
    const m = linear(g, silu(g, inp), mod.w, mod.b);
    const [shift, scale, gate] = g.op('Split', [m, g.ints([C, C, C])], { axis: -1 }, { outputs: 3 }) as unknown as [string, string, string];
    const modulated = g.op('Add', [g.op('Mul', [normed, g.op('Add', [scale, one])[0]])[0], shift])[0];
    let x = g.op('Add', [g.op('Mul', [gate, modulated])[0], pose])[0];
    for (const p of trunk) x = block(g, x, p, cfg);
    const delta = linear(g, gelu(g, linear(g, layerNorm(g, x, tnW, tnB, LN_EPS), fc1.w, fc1.b)), fc2.w, fc2.b);
    raw = raw === null ? delta : g.op('Add', [raw, delta])[0];
  }
  // translation and quaternion are linear; FoV goes through ReLU
  const tq = sliceAxis(g, raw!, 1, 0, 7);
  const fov = g.op('Relu', [sliceAxis(g, raw!, 1, 7, 9)])[0];
  g.output(g.op('Concat', [tq, fov], { axis: 1 })[0], 'float32', ['S', D], 'pose_enc');
  return g;
}
