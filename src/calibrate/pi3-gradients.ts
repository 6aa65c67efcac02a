/**
 * Gradients of the HeSS error terms w.r.t. the query weights of π³'s 18 global layers (the odd decoder blocks),
 * through the whole π³ model on onnxruntime-web: the twin of {@link VggtGradients}.
 *
 * π³'s part: its heads. The three head decoders, the pixel-shuffle point head and the camera head's network part
 * are one graph ({@link pi3HeadsGraph}, built for one image size so every shape is static; weights are feeds), whose
 * VJP w.r.t. the trunk's last layer comes from our autodiff ({@link vjpModel}). The host maps after it, in float64,
 * are chained by hand: world points = pose · (local points, 1) ({@link worldPointsVjp}) and the SVD
 * orthogonalisation of the rotation ({@link posesFromRawVjp}). The conf head gets no gradient (no error term reads
 * it). Below the heads the shared trunk's reverse mode runs (`TrunkGradients`, π³'s layout).
 */
import type { Tensor } from 'onnxruntime-web';
import { check, HessError } from '../errors.js';
import { posesFromRaw, posesFromRawVjp, worldPoints, worldPointsVjp } from '../model/pi3/camera-pose.js';
import type { Pi3Config } from '../model/pi3/config.js';
import { type Pi3HeadsGraphSpec, pi3HeadsGraph, pi3HeadsInputsGraph } from '../model/pi3/heads-graph.js';
import { pi3Layout } from '../model/pi3/trunk.js';
import { type HeadFeeds, loadHeadFeeds, releaseFeeds } from '../model/heads/head-params.js';
import type { HeadWeights } from '../model/heads/heads-common.js';
import { VGGT_OPSET } from '../model/graph/ops.js';
import { type ModelGradientsOptions, openTrunkGradients } from './model-gradients.js';
import { type TrunkGradients, type TrunkState, vjpModel } from './trunk-gradients.js';

/** What one π³ forward pass keeps for the backward pass: the trunk's activations and the heads' outputs. */
export interface Pi3ForwardState extends TrunkState {
  /** `[S, 4, 4]` camera-to-world poses (float64, as the host computed them). */
  readonly cameraPoses: Float64Array;
  /** `[S, H, W, 3]` world points. */
  readonly points: Float32Array;
  /** `[S, H, W, 3]` camera-frame points. */
  readonly localPoints: Float32Array;
  /** `[S, 12]` camera head output before the SVD (translation, then the 9-number rotation). */
  readonly poseRaw: Float32Array;
}

/** Upstream gradients of one error term w.r.t. π³'s outputs. */
export interface Pi3OutputGradients {
  /** ∂e/∂cameraPoses, `[S, 4, 4]` (the constant last row is ignored). */
  cameraPoses?: ArrayLike<number>;
  /** ∂e/∂points (world), `[S, H, W, 3]`. */
  points?: ArrayLike<number>;
}

/** π³'s gradients take the options every model's gradients take (nothing of its own). */
export interface Pi3GradientsOptions extends ModelGradientsOptions {}

/**
 * π³ forward pass that keeps what the backward pass needs, and reverse-mode gradients of any scalar function of
 * (cameraPoses, points) w.r.t. every global layer's W_Q, on the wasm EP or WebGPU (`target`).
 *
 * @example
 * const pg = await Pi3Gradients.create(st, inferPi3Config(st.tensors, cfgJson));
 * const fwd = await pg.forward(images, { S: 3, H: 70, W: 98 });
 * await pg.backward(fwd, { cameraPoses: dE_dPoses }, (layer, gWq) => acc.add('camera', layer, gWq));
 * await pg.dispose();
 */
export class Pi3Gradients {
  readonly kind = 'pi3' as const;
  private disposed = false;

  private constructor(
    private readonly trunk: TrunkGradients,
    readonly config: Pi3Config,
    /** The checkpoint's tensor table (the heads graph is built from shapes: its weights are inputs). */
    private readonly shapes: HeadWeights['tensors'],
    private readonly spec: Pi3HeadsGraphSpec,
    /** Every head weight as a feed (GPU-resident on WebGPU). */
    private readonly headW: HeadFeeds,
  ) {}

  /** Load the model (on `opts.target`, default the wasm EP) and every weight the backward pass needs. */
  static async create(weights: HeadWeights, config: Pi3Config, opts: Pi3GradientsOptions = {}): Promise<Pi3Gradients> {
    const spec: Pi3HeadsGraphSpec = {
      heads: config.headHeads,
      registers: config.numRegisterTokens,
      patchSize: config.patchSize,
      ropeFreq: config.ropeBase,
    };
    const params = pi3HeadsInputsGraph(weights.tensors, spec).params; // also checks the heads' shapes before any load
    const { ort, reader, target, trunk } = await openTrunkGradients(weights, config, pi3Layout(config), opts);
    const feeds: HeadFeeds = { feeds: {}, buffers: [], bytes: 0 };
    try {
      let bytes = 0;
      for (const { prefix, params: p } of params) {
        const f = await loadHeadFeeds(reader, prefix, p, ort, target, opts.signal);
        Object.assign(feeds.feeds, f.feeds);
        feeds.buffers.push(...f.buffers);
        bytes += f.bytes;
      }
      return new Pi3Gradients(trunk, config, reader.tensors, spec, { ...feeds, bytes });
    } catch (e) {
      releaseFeeds(feeds);
      await trunk.dispose().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Forward pass on preprocessed images `[S, 3, H, W]` in [0, 1]: camera poses, world and local points (what
   * `Pi3.run` returns, conf aside), and the block activations the backward pass needs.
   */
  async forward(
    images: Float32Array,
    shape: { S: number; H: number; W: number },
    opts: { signal?: AbortSignal } = {},
  ): Promise<Pi3ForwardState> {
    this.alive();
    const { S, H, W } = shape;
    const last = this.config.depth - 1;
    const state = await this.trunk.forward(images, shape, [last], opts);
    const sess = await this.trunk.session(
      `pi3-heads:${H}x${W}`,
      () =>
        pi3HeadsGraph({ shapes: this.shapes }, this.shapes, this.spec, { size: { H, W } }).graph.toModel({
          opset: VGGT_OPSET,
        }).model,
    );
    const out = await sess.run(this.feeds(sess.inputNames, { hidden: this.hidden(state) }));
    const localPoints = new Float32Array(out.local_points!.data as Float32Array);
    const poseRaw = new Float32Array(out.pose_raw!.data as Float32Array);
    for (const v of Object.values(out)) v.dispose();
    const cameraPoses = posesFromRaw(poseRaw, S);
    return { ...state, cameraPoses, points: worldPoints(localPoints, cameraPoses, S), localPoints, poseRaw };
  }

  /**
   * Backpropagate `seeds` (∂e/∂outputs of one error term) to every global layer's query weights. `onLayer` gets,
   * from the last layer down to layer 0, ∂e/∂W_Q `[heads·headDim, dim]` in PyTorch layout (rows h·d … h·d+d−1
   * of `decoder.{2ℓ+1}.attn.qkv.weight` are head h); the array is reused after the call returns.
   */
  async backward(
    state: Pi3ForwardState,
    seeds: Pi3OutputGradients,
    onLayer: (layer: number, gradWq: Float32Array) => void,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.alive();
    const { S, H, W } = state;
    if (!seeds.cameraPoses && !seeds.points) {
      throw new HessError(
        'INVALID_ARGUMENT',
        'backward() got no seed gradient',
        'pass { cameraPoses } and/or { points }',
      );
    }
    const gPoses = new Float64Array(S * 16);
    if (seeds.cameraPoses) {
      check(
        seeds.cameraPoses.length === S * 16,
        `cameraPoses gradient has ${seeds.cameraPoses.length} values, expected ${S * 16}`,
      );
      gPoses.set(Array.from(seeds.cameraPoses));
    }
    let gLocal = new Float32Array(S * H * W * 3);
    if (seeds.points) {
      check(
        seeds.points.length === S * H * W * 3,
        `points gradient has ${seeds.points.length} values, expected ${S * H * W * 3}`,
      );
      const g = worldPointsVjp(state.localPoints, state.cameraPoses, S, seeds.points);
      gLocal = Float32Array.from(g.gLocal);
      for (let i = 0; i < gPoses.length; i++) gPoses[i] += g.gPoses[i]!;
    }
    const gRaw = Float32Array.from(posesFromRawVjp(state.poseRaw, S, gPoses));
    const t = this.trunk.tensor;
    const sess = await this.trunk.session(`pi3-heads-vjp:${S}x${H}x${W}`, () =>
      vjpModel(
        pi3HeadsGraph({ shapes: this.shapes }, this.shapes, this.spec, { size: { H, W } }).graph,
        ['local_points', 'pose_raw'],
        ['hidden'],
        { N: S },
      ),
    );
    const out = await sess.run(
      this.feeds(sess.inputNames, {
        hidden: this.hidden(state),
        g_local_points: t(gLocal, [S, H, W, 3]),
        g_pose_raw: t(gRaw, [S, 12]),
      }),
    );
    const gHidden = new Float32Array(out.grad_hidden!.data as Float32Array);
    for (const v of Object.values(out)) v.dispose();
    await this.trunk.backward(state, new Map([[this.config.depth - 1, gHidden]]), onLayer, opts);
  }

  /** Replace one frame/global block weight of pair `block` (`key` after the block prefix, PyTorch layout). */
  setBlockWeight(kind: 'frame' | 'global', block: number, key: string, data: Float32Array): void {
    this.alive();
    this.trunk.setBlockWeight(kind, block, key, data);
  }

  /** Release every session and the head weights. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.trunk.dispose();
    releaseFeeds(this.headW);
  }

  /** The heads' input: the trunk's last layer `[S, T, 2C]`. */
  private hidden(state: TrunkState): Tensor {
    const C2 = 2 * this.config.embedDim;
    return this.trunk.tensor(state.layers.get(this.config.depth - 1)!, [state.S, state.P, C2]);
  }

  /** The head weights and `extra`, restricted to what a session declares. */
  private feeds(names: readonly string[], extra: Record<string, Tensor>): Record<string, Tensor> {
    const all = { ...this.headW.feeds, ...extra };
    return Object.fromEntries(names.map((n) => [n, all[n]!]));
  }

  private alive(): void {
    if (this.disposed)
      throw new HessError('DISPOSED', 'Pi3Gradients used after dispose()', 'create a new Pi3Gradients');
  }
}
