/**
 * ONNX graph builders for the transformer blocks of the VGGT aggregator (and DINOv2 inside it).
 *
 * One graph per block *type*, with the block's weights as graph inputs, so that a 24+24-block model needs a
 * handful of sessions instead of one per block (each run feeds that block's weights; on WebGPU they are
 * GPU-resident tensors uploaded once). A block can be split into a pre-segment (norm1 → qkv → q/k norm →
 * RoPE → Q, K, V `[N, H, d]`), an attention core, and a post-segment (proj → LayerScale → residual →
 * norm2/MLP → LayerScale → residual), so the attention core can be a WGSL kernel (global: over all N tokens;
 * local: batched per frame) and the per-token segments can run on row chunks. {@link localBlockGraph} keeps a
 * local block whole (ONNX attention, `[B, H, T, T]` scores).
 */
import { check } from '../../errors.js';
import { Graph, tensorInit } from '../../onnx/builder.js';
import { readHalf, transposeHalf, type WeightReader } from '../graph/half-weights.js';
import { cast, type ElemType, gelu, layerNorm, linear, reshape, transposeLinear, VGGT_OPSET } from '../graph/ops.js';

/** Widths of one block. */
export interface BlockDims {
  /** Token width. */
  readonly C: number;
  readonly H: number;
  /** Head width (C / H). */
  readonly d: number;
  /** MLP hidden width. */
  readonly M: number;
  /** LayerNorm eps of norm1/norm2: 1e-5 in VGGT's aggregator, 1e-6 in DINO and π³'s decoder. */
  readonly eps: number;
  /** LayerNorm eps of the per-head q/k norms (default `eps`): PyTorch's default 1e-5 in VGGT and π³ alike. */
  readonly qkEps?: number;
  /** Per-head LayerNorm on q and k (aggregator: yes; DINO: no). */
  readonly qkNorm: boolean;
  /** 2D RoPE on q and k (aggregator: yes; DINO: no). */
  readonly rope: boolean;
  /**
   * Element type of activations, weights and RoPE tables (default 'float32'). 'float16' keeps LayerNorm and
   * Softmax in float32 (see {@link layerNorm}). The whole-block graphs for calibration are float32 only.
   */
  readonly dtype?: ElemType;
}

/** Block weights in graph layout by input name: float32, or float16 bit patterns for a 'float16' block. */
export type BlockWeights = Map<string, Float32Array | Uint16Array>;

/** One weight of a block: checkpoint key (after the block prefix), graph input name, graph shape. */
export interface ParamSpec {
  readonly key: string;
  readonly input: string;
  /** Shape as fed to the graph (Linear weights transposed to [in, out]). */
  readonly shape: number[];
  /** PyTorch [out, in] for Linear weights (transposed when loaded). */
  readonly linear?: [number, number];
}

const spec = (key: string, shape: number[], linear?: [number, number]): ParamSpec => ({
  key,
  input: key.replace(/\./g, '_'),
  shape,
  linear,
});

/** Weights the pre-attention part reads (norm1, qkv, q/k norm). */
export function preParams(b: BlockDims): ParamSpec[] {
  const { C, d } = b;
  const out = [
    spec('norm1.weight', [C]),
    spec('norm1.bias', [C]),
    spec('attn.qkv.weight', [C, 3 * C], [3 * C, C]),
    spec('attn.qkv.bias', [3 * C]),
  ];
  if (b.qkNorm) {
    out.push(
      spec('attn.q_norm.weight', [d]),
      spec('attn.q_norm.bias', [d]),
      spec('attn.k_norm.weight', [d]),
      spec('attn.k_norm.bias', [d]),
    );
  }
  return out;
}

/** Weights the post-attention part reads (proj, LayerScales, norm2, MLP). */
export function postParams(b: BlockDims): ParamSpec[] {
  const { C, M } = b;
  return [
    spec('attn.proj.weight', [C, C], [C, C]),
    spec('attn.proj.bias', [C]),
    spec('ls1.gamma', [C]),
    spec('norm2.weight', [C]),
    spec('norm2.bias', [C]),
    spec('mlp.fc1.weight', [C, M], [M, C]),
    spec('mlp.fc1.bias', [M]),
    spec('mlp.fc2.weight', [M, C], [C, M]),
    spec('mlp.fc2.bias', [C]),
    spec('ls2.gamma', [C]),
  ];
}

/**
 * A source of named float32 tensors (a {@link import('../safetensors').Safetensors} works). A reader that also has
 * `tensors` (with dtypes) and `readRaw`, as a Safetensors does, gives F16 and BF16 tensors to a float16 model
 * without widening ({@link readHalf}).
 */
export type { WeightReader } from '../graph/half-weights.js';

/**
 * Read one block's weights (`${prefix}.${key}`) in graph layout: a map from graph input name to data.
 *
 * @example
 * const w = await loadBlockWeights(st, 'aggregator.frame_blocks.0', [...preParams(b), ...postParams(b)]);
 */
export async function loadBlockWeights(
  reader: WeightReader,
  prefix: string,
  specs: ParamSpec[],
): Promise<Map<string, Float32Array>>;
/** `type` 'float16': the weights as float16 bit patterns (F16/BF16 read without widening, F32 narrowed once). */
export async function loadBlockWeights(
  reader: WeightReader,
  prefix: string,
  specs: ParamSpec[],
  type: ElemType,
): Promise<BlockWeights>;
export async function loadBlockWeights(
  reader: WeightReader,
  prefix: string,
  specs: ParamSpec[],
  type: ElemType = 'float32',
): Promise<BlockWeights> {
  const out: BlockWeights = new Map();
  for (const s of specs) {
    const name = `${prefix}.${s.key}`;
    let data: Float32Array | Uint16Array = type === 'float16' ? await readHalf(reader, name) : await reader.read(name);
    const n = s.shape.reduce((a, c) => a * c, 1);
    check(
      data.length === n,
      `${name} has ${data.length} values, expected ${n} (${JSON.stringify(s.linear ?? s.shape)})`,
      'the checkpoint does not match the architecture read from it; re-run inferVggtConfig on this file',
    );
    if (s.linear)
      data =
        data instanceof Uint16Array
          ? transposeHalf(data, s.linear[0], s.linear[1])
          : transposeLinear(data, s.linear[0], s.linear[1]);
    out.set(s.input, data);
  }
  return out;
}

/** Weights become graph inputs, or initializers when `baked` (a {@link loadBlockWeights} map) is given. */
function declare(
  g: Graph,
  specs: ParamSpec[],
  baked?: BlockWeights,
  type: ElemType = 'float32',
): Record<string, string> {
  const p: Record<string, string> = {};
  for (const s of specs) {
    const data = baked?.get(s.input);
    if (data) check(data instanceof Uint16Array === (type === 'float16'), `baked weight ${s.input} is not ${type}`);
    p[s.key] = data ? g.constant(tensorInit(data, s.shape), s.input) : g.input(s.input, type, s.shape);
  }
  return p;
}

/** x [B, T, C] → q, k, v [B, T, H, d] (q/k normed and rotated when the block says so). */
function qkvHeads(
  g: Graph,
  x: string,
  p: Record<string, string>,
  b: BlockDims,
  rope?: { cos: string; sin: string },
): { q: string; k: string; v: string } {
  const h = layerNorm(g, x, p['norm1.weight'], p['norm1.bias'], b.eps, b.dtype);
  const qkv = linear(g, h, p['attn.qkv.weight'], p['attn.qkv.bias']);
  // The 3C axis is [q | k | v], each head-major (H × d).
  const [q0, k0, v0] = g.op('Split', [qkv], { axis: -1 }, { outputs: 3 });
  const heads = (t: string) => reshape(g, t, [0, 0, b.H, b.d]);
  return {
    q: normRope(g, heads(q0), p, b, 'q_norm', rope),
    k: normRope(g, heads(k0), p, b, 'k_norm', rope),
    v: heads(v0),
  };
}

/** q or k heads `[B, T, H, d]` → its LayerNorm (when the block has q/k norm), then RoPE (when given). */
function normRope(
  g: Graph,
  t: string,
  p: Record<string, string>,
  b: BlockDims,
  norm: 'q_norm' | 'k_norm',
  rope?: { cos: string; sin: string },
): string {
  if (b.qkNorm) t = layerNorm(g, t, p[`attn.${norm}.weight`], p[`attn.${norm}.bias`], b.qkEps ?? b.eps, b.dtype);
  return rope ? applyRope(g, t, rope.cos, rope.sin, b.d) : t;
}

/**
 * 2D RoPE on q or k heads `[B, T, H, d]`: `t·cos + t[perm]·sinSigned` over the last axis (perm: rotate_half, one
 * constant per graph); cos/sin are [T, 1, d] and broadcast over B and H.
 */
export function applyRope(g: Graph, t: string, cos: string, sin: string, d: number): string {
  const perm = ropePermConst(g, d);
  const rot = g.op('Gather', [t, perm], { axis: 3 })[0];
  return g.op('Add', [g.op('Mul', [t, cos])[0], g.op('Mul', [rot, sin])[0]])[0];
}

const permNames = new WeakMap<Graph, string>();
function ropePermConst(g: Graph, d: number): string {
  let name = permNames.get(g);
  if (!name) {
    const h = d / 2;
    const q = h / 2;
    const perm = new BigInt64Array(d);
    for (let o = 0; o < d; o += h)
      for (let i = 0; i < q; i++) {
        perm[o + i] = BigInt(o + i + q);
        perm[o + q + i] = BigInt(o + i);
      }
    name = g.constant(tensorInit(perm, [d]), 'rope_perm');
    permNames.set(g, name);
  }
  return name;
}

/**
 * Dense softmax attention within each batch item: q, k, v [B, T, H, d] → o [B, T, H, d]. With `type` 'float16'
 * the inputs are cast to float32 and the output back: scores and Softmax never round to fp16.
 */
export function denseAttention(
  g: Graph,
  q: string,
  k: string,
  v: string,
  d: number,
  type: ElemType = 'float32',
): string {
  if (type !== 'float32') {
    const [q32, k32, v32] = [q, k, v].map((t) => cast(g, t, type, 'float32'));
    return cast(g, denseAttention(g, q32, k32, v32, d), 'float32', type);
  }
  const scale = g.floats([1 / Math.sqrt(d)], [1]);
  const qh = g.op('Transpose', [g.op('Mul', [q, scale])[0]], { perm: [0, 2, 1, 3] })[0]; // [B,H,T,d]
  const kt = g.op('Transpose', [k], { perm: [0, 2, 3, 1] })[0]; // [B,H,d,T]
  const vh = g.op('Transpose', [v], { perm: [0, 2, 1, 3] })[0];
  const probs = g.op('Softmax', [g.op('MatMul', [qh, kt])[0]], { axis: -1 })[0];
  return g.op('Transpose', [g.op('MatMul', [probs, vh])[0]], { perm: [0, 2, 1, 3] })[0];
}

/** x + ls1·proj(o); then + ls2·MLP(norm2(·)). `o` already has x's shape. */
function postAttention(g: Graph, x: string, o: string, p: Record<string, string>, b: BlockDims): string {
  const a = linear(g, o, p['attn.proj.weight'], p['attn.proj.bias']);
  const x1 = g.op('Add', [x, g.op('Mul', [a, p['ls1.gamma']])[0]])[0];
  const h = layerNorm(g, x1, p['norm2.weight'], p['norm2.bias'], b.eps, b.dtype);
  const m = linear(
    g,
    gelu(g, linear(g, h, p['mlp.fc1.weight'], p['mlp.fc1.bias']), b.dtype),
    p['mlp.fc2.weight'],
    p['mlp.fc2.bias'],
  );
  return g.op('Add', [x1, g.op('Mul', [m, p['ls2.gamma']])[0]])[0];
}

/**
 * A whole block with attention inside each batch item: inputs `x [B, T, C]`, (`rope_cos`, `rope_sin` `[T, 1, d]`
 * when `b.rope`), the weights of {@link preParams} + {@link postParams} (inputs, or initializers when `baked` is
 * given: one session per block); output `y [B, T, C]`. Used for the DINO
 * blocks (B = frames, T = 1 + registers + patches) and the aggregator's frame blocks (T = P).
 *
 * @example
 * const bytes = buildLocalBlockGraph({ C: 64, H: 4, d: 16, M: 256, eps: 1e-5, qkNorm: true, rope: true });
 */
export function buildLocalBlockGraph(b: BlockDims, name = 'block', baked?: BlockWeights): Uint8Array {
  return localBlockGraph(b, name, baked).toModel({ opset: VGGT_OPSET }).model;
}

/** {@link buildLocalBlockGraph} as a {@link Graph} (e.g. to differentiate it with buildGradientGraph). */
export function localBlockGraph(b: BlockDims, name = 'block', baked?: BlockWeights): Graph {
  const g = new Graph(name);
  const type = b.dtype ?? 'float32';
  const x = g.input('x', type, ['B', 'T', b.C]);
  const rope = b.rope
    ? { cos: g.input('rope_cos', type, ['T', 1, b.d]), sin: g.input('rope_sin', type, ['T', 1, b.d]) }
    : undefined;
  const p = declare(g, [...preParams(b), ...postParams(b)], baked, type);
  const { q, k, v } = qkvHeads(g, x, p, b, rope);
  const o = reshape(g, denseAttention(g, q, k, v, b.d, type), [0, 0, b.C]);
  g.output(postAttention(g, x, o, p, b), type, ['B', 'T', b.C], 'y');
  return g;
}

/**
 * A whole global block as ONE graph (pre-segment → dense attention over all S·P tokens → post-segment): inputs
 * `x [S, P, C]`, `rope_cos`/`rope_sin` `[N, 1, d]` and the {@link preParams} + {@link postParams} weights as inputs;
 * output `y [S, P, C]`. Same math as global pre + {@link denseAttention} + global post; used to differentiate a
 * global block (HeSS calibration), where one graph per block keeps the saved activations to the block input.
 *
 * @example
 * const vjp = buildGradientGraph(globalBlockGraph(dims), { loss, wrt: ['x', 'attn_qkv_weight'], dims: { S: 3, P: 40, N: 120 } });
 */
export function globalBlockGraph(b: BlockDims): Graph {
  check((b.dtype ?? 'float32') === 'float32', 'the calibration graphs are float32 only');
  check(b.rope && b.qkNorm, 'the global block is the aggregator form (q/k norm + RoPE)');
  const g = new Graph('global_block');
  const x = g.input('x', 'float32', ['S', 'P', b.C]);
  const rope = {
    cos: g.input('rope_cos', 'float32', ['N', 1, b.d]),
    sin: g.input('rope_sin', 'float32', ['N', 1, b.d]),
  };
  const p = declare(g, [...preParams(b), ...postParams(b)]);
  const x1 = reshape(g, x, [1, -1, b.C]);
  const { q, k, v } = qkvHeads(g, x1, p, b, rope);
  const o = reshape(g, denseAttention(g, q, k, v, b.d), [0, 0, b.C]);
  const y = postAttention(g, x1, o, p, b);
  g.output(g.op('Reshape', [y, g.op('Shape', [x])[0]])[0], 'float32', ['S', 'P', b.C], 'y');
  return g;
}

/**
 * One of q / k / v (`part` 0 / 1 / 2) of `h = norm1(x)` `[1, T, C]` as heads `[1, T, H, d]`: only that third of the
 * qkv projection is computed (its columns of the [C, 3C] weight), then q/k norm and RoPE as in the full block.
 */
function headsOf(
  g: Graph,
  h: string,
  p: Record<string, string>,
  b: BlockDims,
  part: 0 | 1 | 2,
  rope: { cos: string; sin: string },
): string {
  const slice = (t: string, axis: number) =>
    g.op('Slice', [t, g.ints([part * b.C]), g.ints([(part + 1) * b.C]), g.ints([axis])])[0];
  const t = reshape(g, linear(g, h, slice(p['attn.qkv.weight'], 1), slice(p['attn.qkv.bias'], 0)), [0, 0, b.H, b.d]);
  return part === 2 ? t : normRope(g, t, p, b, part === 0 ? 'q_norm' : 'k_norm', rope);
}

/**
 * Keys and values of a global block for all N = S·P tokens: `x [S, P, C]`, `rope_cos`/`rope_sin` `[N, 1, d]` and
 * the {@link preParams} weights → `k`, `v` `[1, N, H, d]`. With {@link globalQueryChunkGraph} it splits a global
 * block by query chunks, so that a backward pass never holds the [H, N, N] attention probabilities (calibration).
 */
export function globalKeyValueGraph(b: BlockDims): Graph {
  check((b.dtype ?? 'float32') === 'float32', 'the calibration graphs are float32 only');
  check(b.rope && b.qkNorm, 'the global block is the aggregator form (q/k norm + RoPE)');
  const g = new Graph('global_key_value');
  const x = g.input('x', 'float32', ['S', 'P', b.C]);
  const rope = {
    cos: g.input('rope_cos', 'float32', ['N', 1, b.d]),
    sin: g.input('rope_sin', 'float32', ['N', 1, b.d]),
  };
  const p = declare(g, preParams(b));
  const h = layerNorm(g, reshape(g, x, [1, -1, b.C]), p['norm1.weight'], p['norm1.bias'], b.eps);
  g.output(headsOf(g, h, p, b, 1, rope), 'float32', [1, 'N', b.H, b.d], 'k');
  g.output(headsOf(g, h, p, b, 2, rope), 'float32', [1, 'N', b.H, b.d], 'v');
  return g;
}

/**
 * A global block for a chunk of n query tokens: `x [1, n, C]` (the chunk's block input), the whole sequence's `k`,
 * `v` `[1, N, H, d]` ({@link globalKeyValueGraph}), the chunk's `rope_cos`/`rope_sin` `[n, 1, d]` and the pre + post
 * weights → the chunk's `y [1, n, C]`, with attention probabilities `[H, n, N]` instead of `[H, N, N]`.
 *
 * @example
 * const g = globalQueryChunkGraph(dims); // the rows a…a+n of globalBlockGraph's y, given K and V of all tokens
 */
export function globalQueryChunkGraph(b: BlockDims): Graph {
  check((b.dtype ?? 'float32') === 'float32', 'the calibration graphs are float32 only');
  check(b.rope && b.qkNorm, 'the global block is the aggregator form (q/k norm + RoPE)');
  const g = new Graph('global_query_chunk');
  const x = g.input('x', 'float32', [1, 'n', b.C]);
  const k = g.input('k', 'float32', [1, 'N', b.H, b.d]);
  const v = g.input('v', 'float32', [1, 'N', b.H, b.d]);
  const rope = {
    cos: g.input('rope_cos', 'float32', ['n', 1, b.d]),
    sin: g.input('rope_sin', 'float32', ['n', 1, b.d]),
  };
  const p = declare(g, [...preParams(b), ...postParams(b)]);
  const q = headsOf(g, layerNorm(g, x, p['norm1.weight'], p['norm1.bias'], b.eps), p, b, 0, rope);
  const o = reshape(g, denseAttention(g, q, k, v, b.d), [0, 0, b.C]);
  g.output(postAttention(g, x, o, p, b), 'float32', [1, 'n', b.C], 'y');
  return g;
}

/**
 * Pre-segment of any block (everything before attention), per token: `x [S, P, C]` (any two leading dims: a chunk
 * of n tokens goes in as `[1, n, C]`), `rope_cos`/`rope_sin` `[N, 1, d]` (N = S·P; only when `b.rope`) and the
 * {@link preParams} weights (inputs, or initializers when `baked`) → `q`, `k`, `v` `[N, H, d]` (token-major, what
 * the attention cores take). No token looks at another, so the segment can run on any row chunk.
 *
 * @example
 * const bytes = buildPreGraph(dinoDims, undefined, 'dino_pre'); // DINO: no q/k norm, no RoPE inputs
 */
export function buildPreGraph(b: BlockDims, baked?: BlockWeights, name = 'pre'): Uint8Array {
  const g = new Graph(name);
  const type = b.dtype ?? 'float32';
  const x = g.input('x', type, ['S', 'P', b.C]);
  const rope = b.rope
    ? { cos: g.input('rope_cos', type, ['N', 1, b.d]), sin: g.input('rope_sin', type, ['N', 1, b.d]) }
    : undefined;
  const p = declare(g, preParams(b), baked, type);
  // All rows form one sequence: [S, P, C] → [1, S·P, C] is a free, contiguous reshape.
  const { q, k, v } = qkvHeads(g, reshape(g, x, [1, -1, b.C]), p, b, rope);
  for (const [t, n] of [
    [q, 'q'],
    [k, 'k'],
    [v, 'v'],
  ] as const)
    g.output(reshape(g, t, [-1, b.H, b.d]), type, ['N', b.H, b.d], n);
  return g.toModel({ opset: VGGT_OPSET }).model;
}

/**
 * Post-segment of any block (everything after attention), per token: `x [S, P, C]` (block input, any two leading
 * dims), `o [N, H, d]` (attention output) and the {@link postParams} weights (inputs, or initializers when
 * `baked`) → `y`, shaped like `x`.
 *
 * @example
 * const bytes = buildPostGraph(dims);
 */
export function buildPostGraph(b: BlockDims, baked?: BlockWeights, name = 'post'): Uint8Array {
  const g = new Graph(name);
  const type = b.dtype ?? 'float32';
  const x = g.input('x', type, ['S', 'P', b.C]);
  const o = g.input('o', type, ['N', b.H, b.d]);
  const p = declare(g, postParams(b), baked, type);
  const o3 = g.op('Reshape', [o, g.op('Shape', [x])[0]])[0];
  g.output(postAttention(g, x, o3, p, b), type, ['S', 'P', b.C], 'y');
  return g.toModel({ opset: VGGT_OPSET }).model;
}

/**
 * Global-block pre-segment ({@link buildPreGraph} in the aggregator form): `x [S, P, C]`, `rope_cos`/`rope_sin`
 * `[N, 1, d]` (N = S·P) and the {@link preParams} weights → `q`, `k`, `v` `[N, H, d]`.
 *
 * @example
 * const bytes = buildGlobalPreGraph(dims);
 */
export function buildGlobalPreGraph(b: BlockDims, baked?: BlockWeights): Uint8Array {
  check(b.rope && b.qkNorm, 'the global pre-segment is the aggregator form (q/k norm + RoPE)');
  return buildPreGraph(b, baked, 'global_pre');
}

/**
 * Global-block post-segment ({@link buildPostGraph}): `x [S, P, C]` (block input), `o [N, H, d]` (attention
 * output) and the {@link postParams} weights → `y [S, P, C]`.
 *
 * @example
 * const bytes = buildGlobalPostGraph(dims);
 */
export function buildGlobalPostGraph(b: BlockDims, baked?: BlockWeights): Uint8Array {
  return buildPostGraph(b, baked, 'global_post');
}

/**
 * DINO token assembly: `images [S, 3, Hi, Wi]` in [0, 1] → ImageNet normalisation → patch Conv → + `pos`
 * (`[h·w, C]`, the interpolated patch pos-embed) → prepend `prefix` (`[S, 1 + R, C]`: cls + its pos-embed, then
 * DINO's registers, which get no pos-embed) → `tokens [S, 1 + R + h·w, C]`. Computed in float32; `out` 'float16'
 * casts the tokens for a float16 model.
 */
export function buildEmbedGraph(
  convW: Float32Array,
  convB: Float32Array,
  C: number,
  patch: number,
  out: ElemType = 'float32',
): Uint8Array {
  const g = new Graph('embed');
  const img = g.input('images', 'float32', ['S', 3, 'Hi', 'Wi']);
  const pos = g.input('pos', 'float32', ['L', C]);
  const prefix = g.input('prefix', 'float32', ['S', 'R1', C]);
  const mean = g.floats([0.485, 0.456, 0.406], [1, 3, 1, 1]);
  const std = g.floats([0.229, 0.224, 0.225], [1, 3, 1, 1]);
  const x = g.op('Div', [g.op('Sub', [img, mean])[0], std])[0];
  const w = g.constant(tensorInit(convW, [C, 3, patch, patch]), 'patch_w');
  const bias = g.constant(tensorInit(convB, [C]), 'patch_b');
  const conv = g.op('Conv', [x, w, bias], { kernel_shape: [patch, patch], strides: [patch, patch] })[0]; // [S,C,h,w]
  const tokens = g.op('Transpose', [reshape(g, conv, [0, 0, -1])], { perm: [0, 2, 1] })[0]; // [S, h·w, C]
  const withPos = g.op('Add', [tokens, pos])[0];
  g.output(cast(g, g.op('Concat', [prefix, withPos], { axis: 1 })[0], 'float32', out), out, ['S', 'T', C], 'tokens');
  return g.toModel({ opset: VGGT_OPSET }).model;
}

/**
 * DINO's final norm, drop DINO's cls + registers, prepend VGGT's special tokens: `x [S, 1 + R + h·w, C]`,
 * `special [S, K, C]` → `y [S, K + h·w, C]`. `type` is the element type of x, special and y (the norm is fp32).
 */
export function buildBridgeGraph(
  normW: Float32Array,
  normB: Float32Array,
  C: number,
  dinoPrefix: number,
  eps: number,
  type: ElemType = 'float32',
): Uint8Array {
  const g = new Graph('bridge');
  const x = g.input('x', type, ['S', 'T', C]);
  const special = g.input('special', type, ['S', 'K', C]);
  const n = layerNorm(
    g,
    cast(g, x, type, 'float32'),
    g.constant(tensorInit(normW, [C]), 'norm_w'),
    g.constant(tensorInit(normB, [C]), 'norm_b'),
    eps,
  );
  const patches = g.op('Slice', [
    cast(g, n, 'float32', type),
    g.ints([dinoPrefix]),
    g.ints([2 ** 31 - 1]),
    g.ints([1]),
  ])[0];
  g.output(g.op('Concat', [special, patches], { axis: 1 })[0], type, ['S', 'P', C], 'y');
  return g.toModel({ opset: VGGT_OPSET }).model;
}
