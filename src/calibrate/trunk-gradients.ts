/**
 * Reverse mode through the shared trunk (VGGT's aggregator, π³'s decoder): the alternating frame/global blocks,
 * from gradients w.r.t. the aggregated layers down to every global layer's query weights W_Q. What is
 * model-specific (the heads and their outputs) lives in `gradients.ts` (VGGT) and `pi3-gradients.ts` (π³); both
 * hand this class a map layer → ∂e/∂layer and get ∂e/∂W_Q per global layer back.
 *
 * Design: vector–Jacobian products segment by segment. For each segment type one VJP graph is built (once per
 * shape) with {@link buildGradientGraph}: the segment's forward graph + an input `g_<out>` per output (the upstream
 * gradient), loss = Σ out ⊙ g_out, differentiated w.r.t. the segment's activation inputs (and, for a global block,
 * its `attn.qkv.weight`). Segments: the frame block and the whole global block (pre-segment → dense attention →
 * post-segment as one graph).
 *
 * Forward: {@link Aggregator.run} with `keep` stores block activations for the backward pass: each block's frame input
 * `x` and frame output `xf` (the global block's input) cost 2·S·P·C float32 (VGGT-1B, S = 8, 518×518: 2·24·8·1374·
 * 1024·4 ≈ 2.2 GB for all 24 blocks). With `checkpointEvery: k > 1` only every k-th block input is kept and the
 * k blocks of a chunk are recomputed (frame + global block forward) just before their VJPs: memory
 * (⌈depth/k⌉ + 2k)·S·P·C floats — with k = ⌈√depth⌉ (the `'auto'` choice above 256 MB) about a third of the full
 * store for depth 24 — for one more forward of the trunk blocks per backward pass. Each VJP graph recomputes
 * its segment's forward internally, so the backward costs ≈ 2–3 forwards per error term. A global block's VJP
 * holds its [H, N, N] attention probabilities; above 256 MB (`attentionChunk: 'auto'`) the block is split into a
 * key/value pass and query chunks ({@link globalQueryChunkGraph}), so only [H, chunk, N] is live at a time.
 *
 * Weights: the backward pass keeps its own float32 copy of every frame/global block weight (graph layout) in JS
 * memory, fed per run. On the wasm EP the 4 GB heap rules out VGGT-1B (≈ 4 GB of fp32 weights); on WebGPU only
 * one block's weights are in flight per run.
 *
 * Backward: trunk layer ℓ = concat(frame_out_ℓ, global_out_ℓ) over the channel axis, so its gradient splits:
 * the first half joins the frame-block-ℓ output path, the second the global-block-ℓ output path (which is also
 * the input of frame block ℓ+1). The sweep goes from the highest layer with a gradient down to global block 0
 * (frame block 0, the encoder and the embedding need no gradient).
 */
import type { InferenceSession, Tensor } from 'onnxruntime-web';
import { check, HessError, throwIfAborted } from '../errors.js';
import { buildGradientGraph, inferShapes } from '../onnx/autodiff.js';
import type { Graph } from '../onnx/builder.js';
import { createSession, type ExecutionTarget, type Ort } from '../runtime/ort.js';
import type { TrunkConfig } from '../model/config.js';
import { Aggregator, type TrunkLayout, trunkDims } from '../model/trunk/aggregator.js';
import {
  type BlockDims,
  globalBlockGraph,
  globalKeyValueGraph,
  globalQueryChunkGraph,
  loadBlockWeights,
  localBlockGraph,
  postParams,
  preParams,
  type WeightReader,
} from '../model/trunk/blocks.js';
import { transposeLinear, VGGT_OPSET } from '../model/graph/ops.js';
import { ropePositions, ropeTables } from '../model/trunk/rope.js';

/** What one trunk forward pass keeps for the backward pass. */
export interface TrunkState {
  readonly S: number;
  readonly H: number;
  readonly W: number;
  /** Tokens per frame. */
  readonly P: number;
  /** Trunk layers the heads read, each `[S, P, 2C]`. */
  readonly layers: Map<number, Float32Array>;
  /**
   * Per block: frame-block input and output, each `[S, P, C]`. With checkpointing (`checkpointEvery` k > 1) only
   * `x[i]` for i ≡ 0 (mod k) is kept (the rest are holes, recomputed by the backward pass).
   */
  readonly x: Float32Array[];
  readonly xf: Float32Array[];
  /** Activation checkpoint interval k used by this forward pass (1: everything kept). */
  readonly checkpointEvery: number;
}

/** How the trunk's backward pass runs and keeps its activations (shared by VGGT's and π³'s gradients). */
export interface TrunkGradientOptions {
  /** Where every session runs (default the wasm EP). */
  target?: ExecutionTarget;
  /**
   * Keep every k-th block input only and recompute the rest in the backward pass (see the module doc). 'auto'
   * (default): 1 while the full store is under 256 MB for the forward's shape, else ⌈√depth⌉.
   */
  checkpointEvery?: number | 'auto';
  /**
   * Query tokens per chunk in a global block's backward pass: the block is split into a key/value pass and query
   * chunks, so its attention probabilities are `[H, chunk, N]` instead of `[H, N, N]`. 'auto' (default): no split
   * while `H·N²` floats fit 256 MB, else the largest chunk that does.
   */
  attentionChunk?: number | 'auto';
}

type Feeds = Record<string, Tensor>;

/** `loss = Σ_k Σ out_k ⊙ g_out_k` appended to `g`; the VJP model w.r.t. `wrt` (outputs `grad_<name>`). */
export function vjpModel(g: Graph, outs: string[], wrt: string[], dims: Record<string, number>): Uint8Array {
  const info = inferShapes(g, dims);
  let loss: string | undefined;
  for (const o of outs) {
    const d = info.get(o)?.dims;
    if (!d) throw new HessError('INVALID_ARGUMENT', `internal: no shape for output ${o} of ${g.name}`);
    const gin = g.input(`g_${o}`, 'float32', d);
    const term = g.op('ReduceSum', [g.op('Mul', [o, gin])[0]], { keepdims: 0 })[0];
    loss = loss ? g.op('Add', [loss, term])[0] : term;
  }
  return buildGradientGraph(g, { loss: loss!, wrt, dims }).toModel({ opset: VGGT_OPSET }).model;
}

/**
 * The trunk's forward pass that keeps activations, and its reverse mode from layer gradients to every global
 * layer's W_Q, for any {@link TrunkLayout} (VGGT's or π³'s). Also a cache of ONNX sessions the heads' VJPs share.
 *
 * @example
 * const tg = await TrunkGradients.create(st, config, pi3Layout(config), { ort, target: { ep: 'wasm' } });
 * const state = await tg.forward(images, { S, H, W }, [config.depth - 1]);
 * await tg.backward(state, new Map([[config.depth - 1, gLast]]), (l, gWq) => acc.add('camera', l, gWq));
 */
export class TrunkGradients {
  private readonly sessions = new Map<string, Promise<InferenceSession>>();
  private disposed = false;
  readonly dims: BlockDims;
  /** A float32 CPU tensor (ORT uploads it where the session runs). */
  readonly tensor = (data: Float32Array, dims: number[]): Tensor => new this.ort.Tensor('float32', data, dims);

  private constructor(
    readonly ort: Ort,
    readonly config: TrunkConfig,
    private readonly layout: TrunkLayout,
    private readonly aggregator: Aggregator,
    private readonly blockW: { frame: Map<string, Float32Array>[]; global: Map<string, Float32Array>[] },
    readonly target: ExecutionTarget,
    private readonly checkpointEvery: number | 'auto',
    private readonly attentionChunk: number | 'auto',
  ) {
    this.dims = trunkDims(config, layout);
  }

  /** The trunk's sessions (on `opts.target`, default the wasm EP) and every block weight the backward pass needs. */
  static async create(
    reader: WeightReader,
    config: TrunkConfig,
    layout: TrunkLayout,
    opts: TrunkGradientOptions & { ort: Ort; signal?: AbortSignal },
  ): Promise<TrunkGradients> {
    const target: ExecutionTarget = opts.target ?? { ep: 'wasm' };
    const every = opts.checkpointEvery ?? 'auto';
    check(
      every === 'auto' || (Number.isInteger(every) && every >= 1),
      `checkpointEvery must be 'auto' or an integer ≥ 1, got ${every}`,
    );
    const chunk = opts.attentionChunk ?? 'auto';
    check(
      chunk === 'auto' || (Number.isInteger(chunk) && chunk >= 1),
      `attentionChunk must be 'auto' or an integer ≥ 1, got ${chunk}`,
    );
    const aggregator = await Aggregator.create(reader, config, { target, ort: opts.ort, signal: opts.signal, layout });
    try {
      const specs = [...preParams(trunkDims(config, layout)), ...postParams(trunkDims(config, layout))];
      const frame: Map<string, Float32Array>[] = [];
      const global: Map<string, Float32Array>[] = [];
      for (let i = 0; i < config.depth; i++) {
        throwIfAborted(opts.signal);
        frame.push(await loadBlockWeights(reader, layout.frameBlock(i), specs));
        global.push(await loadBlockWeights(reader, layout.globalBlock(i), specs));
      }
      return new TrunkGradients(opts.ort, config, layout, aggregator, { frame, global }, target, every, chunk);
    } catch (e) {
      await aggregator.dispose().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Trunk forward pass on preprocessed images `[S, 3, H, W]` in [0, 1], returning `layers` and the block
   * activations the backward pass needs (see the module doc for the memory bound).
   */
  async forward(
    images: Float32Array,
    shape: { S: number; H: number; W: number },
    layers: readonly number[],
    opts: { signal?: AbortSignal } = {},
  ): Promise<TrunkState> {
    this.alive();
    const { S, H, W } = shape;
    const c = this.config;
    const x: Float32Array[] = [];
    const xf: Float32Array[] = [];
    const P = c.patchStartIdx + (H / c.patchSize) * (W / c.patchSize);
    const fullBytes = 2 * c.depth * S * P * c.embedDim * 4;
    const k =
      this.checkpointEvery === 'auto'
        ? fullBytes < 256 * 2 ** 20
          ? 1
          : Math.ceil(Math.sqrt(c.depth))
        : this.checkpointEvery;
    const agg = await this.aggregator.run(images, shape, {
      layers: [...new Set(layers)],
      signal: opts.signal,
      keepBlock: (i) => i % k === 0,
      keep: (i, xi, xfi) => {
        x[i] = xi;
        if (k === 1) xf[i] = xfi;
      },
    });
    return { S, H, W, P: agg.P, layers: agg.layers, x, xf, checkpointEvery: k };
  }

  /**
   * Backpropagate `G` (layer → ∂e/∂layer `[S, P, 2C]`, consumed) to every global layer's query weights. `onLayer`
   * gets, from the highest layer in `G` down to layer 0, ∂e/∂W_Q `[heads·headDim, dim]` in PyTorch layout (rows
   * h·d … h·d+d−1 of the global block's `attn.qkv.weight` are head h); the array is reused after the call returns.
   */
  async backward(
    state: TrunkState,
    G: Map<number, Float32Array>,
    onLayer: (layer: number, gradWq: Float32Array) => void,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.alive();
    const { S, H, W, P } = state;
    const c = this.config;
    const C = c.embedDim;
    const C2 = 2 * C;
    const N = S * P;
    const t = this.tensor;
    const gh = H / c.patchSize;
    const gw = W / c.patchSize;
    const pos = ropePositions(gh, gw, c.patchStartIdx);
    const rf = ropeTables(pos, c.headDim, this.layout.ropeBase, 1);
    const rg = ropeTables(pos, c.headDim, this.layout.ropeBase, S);
    const frameRope = { rope_cos: t(rf.cos, [P, 1, c.headDim]), rope_sin: t(rf.sinSigned, [P, 1, c.headDim]) };
    const globalRope = { rope_cos: t(rg.cos, [N, 1, c.headDim]), rope_sin: t(rg.sinSigned, [N, 1, c.headDim]) };
    const budget = 256 * 2 ** 20;
    const qChunk =
      this.attentionChunk === 'auto'
        ? c.numHeads * N * N * 4 <= budget
          ? N
          : Math.max(16, Math.floor(budget / (c.numHeads * N * 4)))
        : Math.min(this.attentionChunk, N);
    const globalSess =
      qChunk < N
        ? null
        : await this.session(`global:${S}x${P}`, () =>
            vjpModel(globalBlockGraph(this.dims), ['y'], ['x', 'attn_qkv_weight'], { S, P, N }),
          );
    const frameSess = await this.session(`frame:${S}x${P}`, () =>
      vjpModel(localBlockGraph(this.dims, 'frame_block'), ['y'], ['x'], { B: S, T: P }),
    );
    const specs = [...preParams(this.dims), ...postParams(this.dims)];
    const weightFeeds = (w: Map<string, Float32Array>): Feeds =>
      Object.fromEntries(specs.map((s) => [s.input, t(w.get(s.input)!, s.shape)]));
    const k = state.checkpointEvery;
    // Block activations: kept by the forward pass (k = 1), or recomputed one chunk [j, j + k) at a time from the
    // checkpoint x[j] (the sweep goes down, so each chunk is recomputed once and the previous one is dropped).
    let chunk: { start: number; x: Float32Array[]; xf: Float32Array[] } | null = null;
    const activations = async (l: number): Promise<{ x: Float32Array; xf: Float32Array }> => {
      if (k === 1) return { x: state.x[l]!, xf: state.xf[l]! };
      const start = l - (l % k);
      if (chunk?.start !== start) {
        const [frameFwd, globalFwd] = await Promise.all([
          this.session(
            `frame-fwd:${S}x${P}`,
            () => localBlockGraph(this.dims, 'frame_block').toModel({ opset: VGGT_OPSET }).model,
          ),
          this.session(`global-fwd:${S}x${P}`, () => globalBlockGraph(this.dims).toModel({ opset: VGGT_OPSET }).model),
        ]);
        chunk = null; // drop the chunk above before recomputing this one
        const xs: Float32Array[] = [];
        const xfs: Float32Array[] = [];
        let xi = state.x[start]!;
        for (let i = start; i <= l; i++) {
          throwIfAborted(opts.signal);
          xs.push(xi);
          const f = await frameFwd.run({ x: t(xi, [S, P, C]), ...frameRope, ...weightFeeds(this.blockW.frame[i]!) });
          xfs.push(new Float32Array(f.y!.data as Float32Array));
          f.y!.dispose();
          if (i === l) break;
          const g = await globalFwd.run({
            x: t(xfs[xfs.length - 1]!, [S, P, C]),
            ...globalRope,
            ...weightFeeds(this.blockW.global[i]!),
          });
          xi = new Float32Array(g.y!.data as Float32Array);
          g.y!.dispose();
        }
        chunk = { start, x: xs, xf: xfs };
      }
      return { x: chunk.x[l - start]!, xf: chunk.xf[l - start]! };
    };

    const top = Math.max(...G.keys());
    let carry: Float32Array | null = null; // ∂e/∂(global-block output of the current layer) from the layers above
    const gWq = new Float32Array(C * C);
    for (let l = top; l >= 0; l--) {
      throwIfAborted(opts.signal);
      const gl = G.get(l);
      const gXg = carry ?? new Float32Array(N * C);
      const gXf = new Float32Array(N * C);
      if (gl) {
        for (let n = 0; n < N; n++) {
          for (let k = 0; k < C; k++) {
            gXf[n * C + k] += gl[n * C2 + k]!;
            gXg[n * C + k] += gl[n * C2 + C + k]!;
          }
        }
      }
      const act = await activations(l);
      if (globalSess) {
        const go = await globalSess.run({
          x: t(act.xf, [S, P, C]),
          ...globalRope,
          ...weightFeeds(this.blockW.global[l]!),
          g_y: t(gXg, [S, P, C]),
        });
        const gx = go.grad_x!.data as Float32Array;
        for (let i = 0; i < gXf.length; i++) gXf[i] += gx[i]!;
        // grad of the [C, 3C] (in, out) weight → W_Q rows in PyTorch's [out, in] layout
        const gq = go.grad_attn_qkv_weight!.data as Float32Array;
        for (let r = 0; r < C; r++) for (let i = 0; i < C; i++) gWq[r * C + i] = gq[i * 3 * C + r]!;
        for (const v of Object.values(go)) v.dispose();
      } else {
        await this.globalVjpChunked({
          S,
          P,
          qChunk,
          xf: act.xf,
          gY: gXg,
          rope: rg,
          ropeFeeds: globalRope,
          weightFeeds: weightFeeds(this.blockW.global[l]!),
          gX: gXf,
          gWq,
          signal: opts.signal,
        });
      }
      onLayer(l, gWq);
      if (l === 0) break;
      const fo = await frameSess.run({
        x: t(act.x, [S, P, C]),
        ...frameRope,
        ...weightFeeds(this.blockW.frame[l]!),
        g_y: t(gXf, [S, P, C]),
      });
      carry = new Float32Array(fo.grad_x!.data as Float32Array);
      for (const v of Object.values(fo)) v.dispose();
    }
  }

  /**
   * A global block's VJP by query chunks: K and V of all tokens (one pass), then per chunk of `qChunk` query tokens
   * the block's VJP given K and V (∂/∂x of the chunk's rows, ∂/∂K and ∂/∂V summed over chunks, ∂/∂W_Q summed), then
   * the K/V pass's VJP adds the gradient through the keys and values. Adds ∂e/∂x into `gX`; writes ∂e/∂W_Q
   * (PyTorch layout) into `gWq`. Peak attention memory: `[H, qChunk, N]` per tensor instead of `[H, N, N]`.
   */
  private async globalVjpChunked(a: {
    S: number;
    P: number;
    qChunk: number;
    xf: Float32Array;
    gY: Float32Array;
    /** Raw RoPE tables (sliced per chunk) and their whole-sequence feeds. */
    rope: { cos: Float32Array; sinSigned: Float32Array };
    ropeFeeds: Feeds;
    /** The block's weights as feeds (pre + post; each graph takes the ones it declares). */
    weightFeeds: Feeds;
    gX: Float32Array;
    gWq: Float32Array;
    signal?: AbortSignal;
  }): Promise<void> {
    const { S, P, qChunk } = a;
    const { C, H, d } = this.dims;
    const N = S * P;
    const t = this.tensor;
    const feedsFor = (sess: InferenceSession, feeds: Feeds): Feeds => {
      const all: Feeds = { ...a.weightFeeds, ...feeds };
      return Object.fromEntries(sess.inputNames.map((n) => [n, all[n]!]));
    };
    const rope = a.ropeFeeds;
    const kvFwd = await this.session(
      `global-kv:${S}x${P}`,
      () => globalKeyValueGraph(this.dims).toModel({ opset: VGGT_OPSET }).model,
    );
    const kv = await kvFwd.run(feedsFor(kvFwd, { x: t(a.xf, [S, P, C]), ...rope }));
    const K = kv.k!.data as Float32Array;
    const V = kv.v!.data as Float32Array;
    const gK = new Float32Array(N * C);
    const gV = new Float32Array(N * C);
    a.gWq.fill(0);
    for (let s0 = 0; s0 < N; s0 += qChunk) {
      throwIfAborted(a.signal);
      const n = Math.min(qChunk, N - s0);
      const sess = await this.session(`global-chunk:${n}x${N}`, () =>
        vjpModel(globalQueryChunkGraph(this.dims), ['y'], ['x', 'k', 'v', 'attn_qkv_weight'], { n, N }),
      );
      const rows = (src: Float32Array, w: number) => src.slice(s0 * w, (s0 + n) * w);
      const out = await sess.run(
        feedsFor(sess, {
          x: t(rows(a.xf, C), [1, n, C]),
          k: t(K, [1, N, H, d]),
          v: t(V, [1, N, H, d]),
          rope_cos: t(rows(a.rope.cos, d), [n, 1, d]),
          rope_sin: t(rows(a.rope.sinSigned, d), [n, 1, d]),
          g_y: t(rows(a.gY, C), [1, n, C]),
        }),
      );
      const gx = out.grad_x!.data as Float32Array;
      for (let i = 0; i < n * C; i++) a.gX[s0 * C + i] += gx[i]!;
      const gk = out.grad_k!.data as Float32Array;
      const gv = out.grad_v!.data as Float32Array;
      for (let i = 0; i < N * C; i++) {
        gK[i] += gk[i]!;
        gV[i] += gv[i]!;
      }
      const gq = out.grad_attn_qkv_weight!.data as Float32Array; // [C, 3C], only the q columns are non-zero
      for (let r = 0; r < C; r++) for (let i = 0; i < C; i++) a.gWq[r * C + i] += gq[i * 3 * C + r]!;
      for (const v of Object.values(out)) v.dispose();
    }
    kv.k!.dispose();
    kv.v!.dispose();
    const kvVjp = await this.session(`global-kv-vjp:${S}x${P}`, () =>
      vjpModel(globalKeyValueGraph(this.dims), ['k', 'v'], ['x'], { S, P, N }),
    );
    const back = await kvVjp.run(
      feedsFor(kvVjp, { x: t(a.xf, [S, P, C]), ...rope, g_k: t(gK, [1, N, H, d]), g_v: t(gV, [1, N, H, d]) }),
    );
    const gx = back.grad_x!.data as Float32Array;
    for (let i = 0; i < N * C; i++) a.gX[i] += gx[i]!;
    back.grad_x!.dispose();
  }

  /**
   * Replace one frame/global block weight (`key` after the block prefix, PyTorch layout) in both the forward and the
   * backward pass, without rebuilding sessions (e.g. finite-difference checks, planted-sensitivity experiments).
   */
  setBlockWeight(kind: 'frame' | 'global', block: number, key: string, data: Float32Array): void {
    this.alive();
    this.aggregator.setBlockWeight(kind, block, key, data); // validates kind, block, key and length
    const spec = [...preParams(this.dims), ...postParams(this.dims)].find((s) => s.key === key)!;
    const v = spec.linear ? transposeLinear(data, spec.linear[0], spec.linear[1]) : Float32Array.from(data);
    this.blockW[kind][block]!.set(spec.input, v);
  }

  /** A session built once per key on this target (the heads' VJPs share the cache). */
  session(key: string, build: () => Uint8Array): Promise<InferenceSession> {
    this.alive();
    let s = this.sessions.get(key);
    if (!s) {
      s = createSession(this.ort, build(), this.target);
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Release every session. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.aggregator.dispose();
    for (const s of this.sessions.values()) await (await s.catch(() => null))?.release();
    this.sessions.clear();
  }

  private alive(): void {
    if (this.disposed)
      throw new HessError('DISPOSED', 'gradients used after dispose()', 'create the gradients object again');
  }
}
