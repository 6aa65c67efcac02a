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
 * `pose_raw [N, 12]` (translation, then the 9-number rotation).
 */
import { HessError, check } from '../../errors.js';
import { Graph, tensorInit } from '../../onnx/builder.js';
import { denseAttention } from '../trunk/blocks.js';
import { type HeadParam, HeadParams, type HeadParamSource } from '../heads/head-params.js';
import { type HeadWeights, type LoadedTensor, loadPrefixed, sliceAxis } from '../heads/heads-common.js';
import { ropePositions, ropeTables } from '../trunk/rope.js';
import { gelu, layerNorm, linear, reshape } from '../graph/ops.js';

/** The three transformer decoders, by weight prefix. */
export const PI3_DECODERS = ['point_decoder', 'conf_decoder', 'camera_decoder'] as const;
export type Pi3Decoder = (typeof PI3_DECODERS)[number];

const LN_EPS = 1e-6; // norm_layer=partial(nn.LayerNorm, eps=1e-6)

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
  const all: HeadParams[] = [];
  const paramsOf = (prefix: string) => {
    const p = new HeadParams(g, prefix, typeof src === 'function' ? src(prefix) : src);
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
    const t = ropeTables(ropePositions(gh, gw, R), d, spec.ropeFreq);
    T = t.T;
    rope = { cos: g.floats(t.cos, [t.T, 1, d]), sin: g.floats(t.sinSigned, [t.T, 1, d]) };
    grid = g.ints([gh, gw]);
    imageHW = g.ints([size.H, size.W]); // constants all the way, so that shape inference can fold every Reshape
  } else {
    rope = { cos: g.input('rope_cos', 'float32', ['T', 1, d]), sin: g.input('rope_sin', 'float32', ['T', 1, d]) };
    grid = g.input('grid', 'int64', [2]);
    imageHW = g.op('Mul', [grid, g.ints([r, r])])[0];
  }
  const hidden = g.input('hidden', 'float32', ['N', T, inDim]);
  const perm = ropePerm(g, d);

  const decode = (prefix: Pi3Decoder): string => {
    const p = paramsOf(prefix);
    const dd = dec[prefix];
    const proj = p.linear('projects', dd.dim, dd.inDim);
    let x = linear(g, hidden, proj.w, proj.b);
    for (let i = 0; i < dd.depth; i++) x = block(g, x, p, `blocks.${i}`, dd, spec.heads, rope, perm);
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

  // point: xy·exp(z), exp(z)
  {
    const p = paramsOf('point_head');
    const od = dec.point_decoder.outDim;
    const lin = p.linear('proj', 3 * r * r, od);
    const pts = shuffle(linear(g, decode('point_decoder'), lin.w, lin.b), 3);
    const z = g.op('Exp', [sliceAxis(g, pts, 3, 2, 3)])[0];
    const xy = g.op('Mul', [sliceAxis(g, pts, 3, 0, 2), z])[0];
    g.output(
      g.op('Concat', [xy, z], { axis: 3 })[0],
      'float32',
      ['N', size?.H ?? 'H', size?.W ?? 'W', 3],
      'local_points',
    );
  }
  // conf: raw logits
  {
    const p = paramsOf('conf_head');
    const lin = p.linear('proj', r * r, dec.conf_decoder.outDim);
    const c = shuffle(linear(g, decode('conf_decoder'), lin.w, lin.b), 1);
    g.output(g.op('Squeeze', [c, g.ints([3])])[0], 'float32', ['N', size?.H ?? 'H', size?.W ?? 'W'], 'conf');
  }
  // camera: 2 residual MLP blocks → mean over patches → 2 Linear+ReLU → [t (3), rot (9)]
  const cameraDim = dec.camera_decoder.outDim;
  {
    const p = paramsOf('camera_head');
    const C = cameraDim;
    const relu = (x: string) => g.op('Relu', [x])[0];
    const lin = (x: string, key: string, out = C) => {
      const l = p.linear(key, out, C);
      return linear(g, x, l.w, l.b);
    };
    let feat = decode('camera_decoder');
    for (let i = 0; i < 2; i++) {
      const k = `res_conv.${i}`;
      const y = relu(lin(relu(lin(relu(lin(feat, `${k}.res_conv1`)), `${k}.res_conv2`)), `${k}.res_conv3`));
      feat = g.op('Add', [feat, y])[0]; // head_skip is Identity (in = out channels)
    }
    const pooled = g.op('ReduceMean', [feat], { axes: [1], keepdims: 0 })[0]; // AdaptiveAvgPool2d(1) over the patch grid
    const m = relu(lin(relu(lin(pooled, 'more_mlps.0')), 'more_mlps.2'));
    const t = lin(m, 'fc_t', 3);
    const rot = lin(m, 'fc_rot', 9);
    g.output(g.op('Concat', [t, rot], { axis: 1 })[0], 'float32', ['N', 12], 'pose_raw');
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
  perm: string,
): string {
  const C = dd.dim;
  const d = C / heads;
  const vec = (k: string) => p.tensor(`${b}.${k}`, [C]);
  const qkvW = p.linear(`${b}.attn.qkv`, 3 * C, C);
  const projW = p.linear(`${b}.attn.proj`, C, C);
  const fc1 = p.linear(`${b}.mlp.fc1`, dd.mlp, C);
  const fc2 = p.linear(`${b}.mlp.fc2`, C, dd.mlp);
  const h = layerNorm(g, x, vec('norm1.weight'), vec('norm1.bias'), LN_EPS);
  // the 3C axis is [q | k | v], each head-major (H × d)
  const [q0, k0, v0] = g.op('Split', [linear(g, h, qkvW.w, qkvW.b)], { axis: -1 }, { outputs: 3 });
  const split = (t: string) => reshape(g, t, [0, 0, heads, d]);
  const rot = (t: string) => {
    const r = g.op('Gather', [t, perm], { axis: 3 })[0];
    return g.op('Add', [g.op('Mul', [t, rope.cos])[0], g.op('Mul', [r, rope.sin])[0]])[0];
  };
  const o = reshape(g, denseAttention(g, rot(split(q0!)), rot(split(k0!)), split(v0!), d), [0, 0, C]);
  const x1 = g.op('Add', [x, linear(g, o, projW.w, projW.b)])[0];
  const h2 = layerNorm(g, x1, vec('norm2.weight'), vec('norm2.bias'), LN_EPS);
  return g.op('Add', [x1, linear(g, gelu(g, linear(g, h2, fc1.w, fc1.b)), fc2.w, fc2.b)])[0];
}

/** The rotate_half gather of 2D RoPE for head width d (see `trunk/rope.ts`: y half, then x half, NeoX style). */
function ropePerm(g: Graph, d: number): string {
  const h = d / 2;
  const q = h / 2;
  const perm = new BigInt64Array(d);
  for (let o = 0; o < d; o += h)
    for (let i = 0; i < q; i++) {
      perm[o + i] = BigInt(o + i + q);
      perm[o + q + i] = BigInt(o + i);
    }
  return g.constant(tensorInit(perm, [d]), 'rope_perm');
}
