/**
 * The π³ heads as one ONNX graph over a chunk of frames (every head is per frame): the point, conf and camera
 * transformer decoders (yyfz/Pi3 `layers/transformer_head.py`: `projects` → pre-norm RoPE blocks without
 * LayerScale or q/k norm, LayerNorm eps 1e-6 → `linear_out`), the linear pixel-shuffle point and conf heads and the
 * camera head's network part (`layers/camera_head.py` up to `fc_t`/`fc_rot`; its SVD runs on the host,
 * `camera-pose.ts`).
 *
 * Inputs: `hidden [N, T, inDim]` (T = registers + patches, see `heads.ts`), `rope_cos`/`rope_sin` `[T, 1, d]` and
 * `grid` (int64 `[gh, gw]`), so one graph serves every image size (or, built for one size, constants instead); weights are graph inputs (runtime) or baked
 * initializers (through {@link HeadParams}). Outputs: `local_points [N, H, W, 3]`, `conf [N, H, W]`,
 * `pose_raw [N, 12]` (translation, then the 9-number rotation), float32 in either element type.
 *
 * In float16 (`type: 'float16'`) the weights, `hidden` and the RoPE tables are float16 inputs; the LayerNorms and
 * the attention's Softmax compute in float32, and so do the parts in {@link PI3_FP32_PARTS}.
 */
import { HessError, check } from '../../errors.js';
import { Graph } from '../../onnx/builder.js';
import { applyRope, denseAttention } from '../trunk/blocks.js';
import { type HeadParam, HeadParams, type HeadParamSource } from '../heads/head-params.js';
import { type HeadWeights, type LoadedTensor, loadPrefixed, sliceAxis } from '../heads/heads-common.js';
import { ropePositions, ropeTables } from '../trunk/rope.js';
import { cast, consts, type ElemType, gelu, layerNorm, linear, reshape } from '../graph/ops.js';

/** The three transformer decoders, by weight prefix. */
export const PI3_DECODERS = ['point_decoder', 'conf_decoder', 'camera_decoder'] as const;
export type Pi3Decoder = (typeof PI3_DECODERS)[number];

const LN_EPS = 1e-6; // norm_layer=partial(nn.LayerNorm, eps=1e-6)

/**
 * Parts of float16 π³ heads that can compute in float32 (the LayerNorms and the Softmax always do): 'attention'
 * (the decoders' q·kᵀ and probs·v), 'output' (the point and conf heads' Linear before the pixel shuffle),
 * 'activation' (the point head's exp(z) and xy·exp(z): exp overflows float16 past 11.09), 'camera' (the camera
 * head's residual MLPs, its mean over the patches and the MLPs after it).
 */
export type Pi3Fp32Part = 'attention' | 'output' | 'activation' | 'camera';

/**
 * What float16 π³ heads keep in float32 beyond the LayerNorms and Softmax by default: the point head's activation
 * (a guard: exp overflows float16 past 11.09; 3 channels at image size cost next to nothing) and the camera head
 * (its pose goes through an SVD; it lowered camera_poses' error 1.5× on the fixture and 3× on fixture-like inputs
 * at that size, and it is a few small MLPs). 'attention' and 'output' lowered nothing beyond rounding noise.
 * Measured by bench/pi3-fp16.bench.ts → bench/results/pi3-fp16.md.
 */
export const PI3_FP32_PARTS: readonly Pi3Fp32Part[] = ['activation', 'camera'];

/** Widths and depth of one head decoder, read from its weight shapes. */
export interface Pi3DecoderDims {
  /** Input width: 2 × the main decoder's width (the last two outputs concatenated). */
  readonly inDim: number;
  /** Width of its blocks. */
  readonly dim: number;
  readonly depth: number;
  /** MLP hidden width. */
  readonly mlp: number;
  /** `linear_out` width. */
  readonly outDim: number;
}

type Shapes = ReadonlyMap<string, { readonly shape: readonly number[] }>;

/** The dims of decoder `prefix` from a checkpoint's tensor table (no data read). */
export function pi3DecoderDims(shapes: Shapes, prefix: Pi3Decoder): Pi3DecoderDims {
  const shape = (k: string) => {
    const s = shapes.get(`${prefix}.${k}`)?.shape;
    if (s?.length !== 2) {
      throw new HessError(
        'BAD_CHECKPOINT',
        `missing or malformed tensor ${prefix}.${k}`,
        'load an unmodified π³ checkpoint (yyfz233/Pi3)',
      );
    }
    return s;
  };
  const [dim, inDim] = shape('projects.weight') as [number, number];
  let depth = 0;
  while (shapes.has(`${prefix}.blocks.${depth}.norm1.weight`)) depth++;
  if (depth === 0)
    throw new HessError('BAD_CHECKPOINT', `${prefix} has no blocks`, 'load an unmodified π³ checkpoint (yyfz233/Pi3)');
  const mlp = shape('blocks.0.mlp.fc1.weight')[0]!;
  const outDim = shape('linear_out.weight')[0]!;
  return { inDim, dim, depth, mlp, outDim };
}

/** What the graph needs beyond the weights. */
export interface Pi3HeadsGraphSpec {
  /** Attention heads of each decoder. */
  readonly heads: number;
  /** Register tokens before the patches. */
  readonly registers: number;
  readonly patchSize: number;
  /** RoPE base frequency (100). */
  readonly ropeFreq: number;
}

/**
 * Build options. `size`: a graph for images of H×W only, with the grid and RoPE tables as constants (no `grid`,
 * `rope_cos`, `rope_sin` inputs), so every shape is static: what reverse-mode differentiation needs.
 */
export interface Pi3HeadsGraphOptions {
  readonly size?: { readonly H: number; readonly W: number };
  /** Element type of the weights, `hidden` and the RoPE tables (default 'float32'; baked weights are float32 only). */
  readonly type?: ElemType;
  /** Which parts of a float16 graph compute in float32 (default {@link PI3_FP32_PARTS}; for measurements). */
  readonly fp32Parts?: readonly Pi3Fp32Part[];
}

/** The per-head widths the graph was built with (for byte budgets). */
export interface Pi3HeadsGraphDims {
  readonly decoders: Readonly<Record<Pi3Decoder, Pi3DecoderDims>>;
  /** Camera head width (= camera decoder's `linear_out`). */
  readonly cameraDim: number;
  /** Head width of the decoders' attention (dim / heads). */
  readonly headDim: number;
}

/** A built heads graph: the weights it takes as inputs (by checkpoint prefix; empty when baked) and its dims. */
export interface Pi3HeadsGraph {
  readonly graph: Graph;
  readonly params: readonly { readonly prefix: string; readonly params: readonly HeadParam[] }[];
  readonly dims: Pi3HeadsGraphDims;
}

/** The graph with every weight an input (`${prefix}.${key}`), from the tensor table alone: what `Pi3Heads` runs. */
export function pi3HeadsInputsGraph(
  shapes: Shapes,
  spec: Pi3HeadsGraphSpec,
  opts: Pi3HeadsGraphOptions = {},
): Pi3HeadsGraph {
  return pi3HeadsGraph({ shapes }, shapes, spec, opts);
}

/**
 * The graph with the weights baked as initializers, for images of H×W (static shapes), e.g. to differentiate it
 * with `buildGradientGraph` (π³ calibration). Reads every head weight into memory.
 *
 * @example
 * const { graph } = await pi3HeadsBakedGraph(st, config, { H: 350, W: 518 });
 */
export async function pi3HeadsBakedGraph(
  weights: HeadWeights,
  spec: Pi3HeadsGraphSpec,
  size: { H: number; W: number },
): Promise<Pi3HeadsGraph> {
  const baked = new Map<string, ReadonlyMap<string, LoadedTensor>>();
  for (const prefix of [...PI3_DECODERS, 'point_head', 'conf_head', 'camera_head'])
    baked.set(prefix, await loadPrefixed(weights, prefix));
  return pi3HeadsGraph((prefix) => ({ baked: baked.get(prefix)! }), weights.tensors, spec, { size });
}

/**
 * Build the heads graph. `src` binds the weights (inputs or baked); `shapes` gives the dims. Each prefix
 * (`point_decoder`, `point_head`, …) gets its own {@link HeadParams}, so input names are the checkpoint's.
 */
export function pi3HeadsGraph(
  src: HeadParamSource | ((prefix: string) => HeadParamSource),
  shapes: Shapes,
  spec: Pi3HeadsGraphSpec,
  opts: Pi3HeadsGraphOptions = {},
): Pi3HeadsGraph {
  const g = new Graph('pi3_heads');
  const t = opts.type ?? 'float32';
  const fp32 = new Set(t === 'float16' ? (opts.fp32Parts ?? PI3_FP32_PARTS) : []);
  const all: HeadParams[] = [];
  const paramsOf = (prefix: string) => {
    const p = new HeadParams(g, prefix, typeof src === 'function' ? src(prefix) : src, t);
    all.push(p);
    return p;
  };
  const dec = Object.fromEntries(PI3_DECODERS.map((k) => [k, pi3DecoderDims(shapes, k)])) as Record<
    Pi3Decoder,
    Pi3DecoderDims
  >;
  const inDim = dec.point_decoder.inDim;
  const dim = dec.point_decoder.dim;
  for (const k of PI3_DECODERS) {
    check(
      dec[k].inDim === inDim && dec[k].dim === dim,
      `${k} is ${dec[k].inDim}→${dec[k].dim}, the point decoder ${inDim}→${dim}`,
      'load an unmodified π³ checkpoint: the three head decoders share their widths',
    );
  }
  check(
    Number.isInteger(spec.heads) && spec.heads >= 1 && dim % spec.heads === 0 && (dim / spec.heads) % 4 === 0,
    `head decoder width ${dim} does not split into ${spec.heads} heads of a width divisible by 4 (2D RoPE)`,
    'pass the head count of the checkpoint (16 for yyfz233/Pi3)',
  );
  const d = dim / spec.heads;
  const R = spec.registers;
  const r = spec.patchSize;

  const size = opts.size;
  let rope: { cos: string; sin: string };
  let grid: string;
  let imageHW: string;
  let T: number | 'T' = 'T';
  if (size) {
    check(
      Number.isInteger(size.H / r) && Number.isInteger(size.W / r) && size.H > 0 && size.W > 0,
      `image size ${size.H}×${size.W} is not a positive multiple of the patch size ${r}`,
    );
    const [gh, gw] = [size.H / r, size.W / r];
    const tab = ropeTables(ropePositions(gh, gw, R), d, spec.ropeFreq);
    T = tab.T;
    rope = { cos: consts(g, tab.cos, [tab.T, 1, d], t), sin: consts(g, tab.sinSigned, [tab.T, 1, d], t) };
    grid = g.ints([gh, gw]);
    imageHW = g.ints([size.H, size.W]); // constants all the way, so that shape inference can fold every Reshape
  } else {
    rope = { cos: g.input('rope_cos', t, ['T', 1, d]), sin: g.input('rope_sin', t, ['T', 1, d]) };
    grid = g.input('grid', 'int64', [2]);
    imageHW = g.op('Mul', [grid, g.ints([r, r])])[0];
  }
  const hidden = g.input('hidden', t, ['N', T, inDim]);

  const decode = (prefix: Pi3Decoder): string => {
    const p = paramsOf(prefix);
    const dd = dec[prefix];
    const proj = p.linear('projects', dd.dim, dd.inDim);
    let x = linear(g, hidden, proj.w, proj.b);
    for (let i = 0; i < dd.depth; i++) x = block(g, x, p, `blocks.${i}`, dd, spec.heads, rope, t, fp32);
    const out = p.linear('linear_out', dd.outDim, dd.dim);
    return sliceAxis(g, linear(g, x, out.w, out.b), 1, R, 2 ** 31 - 1); // patches only
  };

  // [N, gh·gw, C·r²] → pixel shuffle → [N, gh·r, gw·r, C] (torch: view [N, C·r², gh, gw], pixel_shuffle, NHWC)
  const nOf = sliceAxis(g, g.op('Shape', [hidden])[0], 0, 0, 1);
  const shuffle = (feat: string, C: number): string => {
    const six = g.op('Concat', [nOf, grid, g.ints([C, r, r])], { axis: 0 })[0];
    const t = g.op('Transpose', [g.op('Reshape', [feat, six])[0]], { perm: [0, 1, 4, 2, 5, 3] })[0]; // [N, gh, r, gw, r, C]
    return g.op('Reshape', [t, g.op('Concat', [nOf, imageHW, g.ints([C])], { axis: 0 })[0]])[0];
  };

  // The point and conf heads' Linear in `ot` ('output'), the point activation in `at` ('activation').
  const ot: ElemType = fp32.has('output') ? 'float32' : t;
  const at: ElemType = fp32.has('activation') ? 'float32' : t;
  const project = (feat: string, w: { w: string; b?: string }) =>
    linear(g, cast(g, feat, t, ot), cast(g, w.w, t, ot), cast(g, w.b!, t, ot));
  // point: xy·exp(z), exp(z)
  {
    const p = paramsOf('point_head');
    const od = dec.point_decoder.outDim;
    const lin = p.linear('proj', 3 * r * r, od);
    const pts = cast(g, shuffle(project(decode('point_decoder'), lin), 3), ot, at);
    const z = g.op('Exp', [sliceAxis(g, pts, 3, 2, 3)])[0];
    const xy = g.op('Mul', [sliceAxis(g, pts, 3, 0, 2), z])[0];
    g.output(
      cast(g, g.op('Concat', [xy, z], { axis: 3 })[0], at, 'float32'),
      'float32',
      ['N', size?.H ?? 'H', size?.W ?? 'W', 3],
      'local_points',
    );
  }
  // conf: raw logits
  {
    const p = paramsOf('conf_head');
    const lin = p.linear('proj', r * r, dec.conf_decoder.outDim);
    const c = shuffle(project(decode('conf_decoder'), lin), 1);
    g.output(
      cast(g, g.op('Squeeze', [c, g.ints([3])])[0], ot, 'float32'),
      'float32',
      ['N', size?.H ?? 'H', size?.W ?? 'W'],
      'conf',
    );
  }
  // camera: 2 residual MLP blocks → mean over patches → 2 Linear+ReLU → [t (3), rot (9)]
  const cameraDim = dec.camera_decoder.outDim;
  {
    const p = paramsOf('camera_head');
    const C = cameraDim;
    const ct: ElemType = fp32.has('camera') ? 'float32' : t;
    const relu = (x: string) => g.op('Relu', [x])[0];
    const lin = (x: string, key: string, out = C) => {
      const l = p.linear(key, out, C);
      return linear(g, x, cast(g, l.w, t, ct), cast(g, l.b!, t, ct));
    };
    let feat = cast(g, decode('camera_decoder'), t, ct);
    for (let i = 0; i < 2; i++) {
      const k = `res_conv.${i}`;
      const y = relu(lin(relu(lin(relu(lin(feat, `${k}.res_conv1`)), `${k}.res_conv2`)), `${k}.res_conv3`));
      feat = g.op('Add', [feat, y])[0]; // head_skip is Identity (in = out channels)
    }
    const pooled = g.op('ReduceMean', [feat], { axes: [1], keepdims: 0 })[0]; // AdaptiveAvgPool2d(1) over the patch grid
    const m = relu(lin(relu(lin(pooled, 'more_mlps.0')), 'more_mlps.2'));
    const tr = lin(m, 'fc_t', 3);
    const rot = lin(m, 'fc_rot', 9);
    g.output(cast(g, g.op('Concat', [tr, rot], { axis: 1 })[0], ct, 'float32'), 'float32', ['N', 12], 'pose_raw');
  }
  const params = all.map((p) => ({ prefix: p.prefix, params: p.inputs }));
  return { graph: g, params, dims: { decoders: dec, cameraDim, headDim: d } };
}

/** One BlockRope of a head decoder: `x + proj(attn(norm1 x))`, then `+ mlp(norm2 ·)`; RoPE on q and k. */
function block(
  g: Graph,
  x: string,
  p: HeadParams,
  b: string,
  dd: Pi3DecoderDims,
  heads: number,
  rope: { cos: string; sin: string },
  t: ElemType,
  fp32: ReadonlySet<Pi3Fp32Part>,
): string {
  const C = dd.dim;
  const d = C / heads;
  const vec = (k: string) => p.tensor(`${b}.${k}`, [C]);
  const qkvW = p.linear(`${b}.attn.qkv`, 3 * C, C);
  const projW = p.linear(`${b}.attn.proj`, C, C);
  const fc1 = p.linear(`${b}.mlp.fc1`, dd.mlp, C);
  const fc2 = p.linear(`${b}.mlp.fc2`, C, dd.mlp);
  const h = layerNorm(g, x, vec('norm1.weight'), vec('norm1.bias'), LN_EPS, t);
  // the 3C axis is [q | k | v], each head-major (H × d)
  const [q0, k0, v0] = g.op('Split', [linear(g, h, qkvW.w, qkvW.b)], { axis: -1 }, { outputs: 3 });
  const split = (t: string) => reshape(g, t, [0, 0, heads, d]);
  const rot = (t: string) => applyRope(g, t, rope.cos, rope.sin, d);
  const o = reshape(g, attention(g, rot(split(q0!)), rot(split(k0!)), split(v0!), d, t, fp32), [0, 0, C]);
  const x1 = g.op('Add', [x, linear(g, o, projW.w, projW.b)])[0];
  const h2 = layerNorm(g, x1, vec('norm2.weight'), vec('norm2.bias'), LN_EPS, t);
  return g.op('Add', [x1, linear(g, gelu(g, linear(g, h2, fc1.w, fc1.b), t), fc2.w, fc2.b)])[0];
}

/**
 * Dense attention over `[N, T, heads, d]` q, k, v. In float16 the two products run in float16 and the Softmax in
 * float32, unless the 'attention' part asks for all of it in float32 (the trunk's way, {@link denseAttention}).
 */
function attention(
  g: Graph,
  q: string,
  k: string,
  v: string,
  d: number,
  t: ElemType,
  fp32: ReadonlySet<Pi3Fp32Part>,
): string {
  if (t === 'float32' || fp32.has('attention')) return denseAttention(g, q, k, v, d, t);
  const qh = g.op('Transpose', [g.op('Mul', [q, consts(g, [1 / Math.sqrt(d)], [1], t)])[0]], { perm: [0, 2, 1, 3] })[0];
  const kt = g.op('Transpose', [k], { perm: [0, 2, 3, 1] })[0];
  const vh = g.op('Transpose', [v], { perm: [0, 2, 1, 3] })[0];
  const scores = cast(g, g.op('MatMul', [qh, kt])[0], t, 'float32');
  const probs = cast(g, g.op('Softmax', [scores], { axis: -1 })[0], 'float32', t);
  return g.op('Transpose', [g.op('MatMul', [probs, vh])[0]], { perm: [0, 2, 1, 3] })[0];
}
