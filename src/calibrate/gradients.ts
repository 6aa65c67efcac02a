/**
 * Gradients of the HeSS error terms w.r.t. every global layer's query weights W_Q^h, through the whole VGGT model,
 * on onnxruntime-web (wasm or WebGPU EP): no Python, no training runtime.
 *
 * VGGT's part: the heads. Their VJP graphs are built with {@link vjpModel} (forward graph + upstream gradient
 * inputs, differentiated by our autodiff): the camera head (input: the camera tokens of the last layer) and the
 * point DPT head (raw pre-activation output; the inv_log activation is chained by hand: d/dv sign(v)(e^|v|−1) =
 * e^|v| = 1 + |value|). Their gradients w.r.t. the aggregated layers go to the shared trunk's reverse mode
 * (`TrunkGradients`: frame and global blocks, activation checkpointing, query-chunked global blocks).
 *
 * Execution: the wasm EP by default, or `target: { ep: 'webgpu', gpu }` for every forward and VJP session (ORT
 * places any op its WebGPU EP lacks on the CPU by itself). Head weights are feeds (GPU-resident on WebGPU).
 */
import { check, HessError } from '../errors.js';
import type { VggtConfig } from '../model/config.js';
import { HEAD_LAYERS, vggtLayout } from '../model/trunk/aggregator.js';
import { CameraHead, cameraHeadInputsGraph } from '../model/vggt/camera-head.js';
import { DptHead, type DptHeadSpec, dptHeadInputsGraph, dptPosFeeds } from '../model/vggt/dpt-head.js';
import { type HeadFeeds, loadHeadFeeds, releaseFeeds } from '../model/heads/head-params.js';
import type { HeadWeights } from '../model/heads/heads-common.js';
import type { Tensor } from 'onnxruntime-web';
import { type ModelGradientsOptions, openTrunkGradients } from './model-gradients.js';
import { type TrunkGradients, type TrunkState, vjpModel } from './trunk-gradients.js';

/** What one forward pass keeps for the backward pass: the trunk's activations and the heads' outputs. */
export interface ForwardState extends TrunkState {
  /** `[S, 9]` camera-head output. */
  readonly poseEnc: Float32Array;
  /** `[S, H, W, 3]` point-head output (world points, first camera's frame). */
  readonly worldPoints: Float32Array;
}

/** Upstream gradients of one error term w.r.t. the model outputs. */
export interface OutputGradients {
  /** ∂e/∂pose_enc, `[S, 9]`. */
  poseEnc?: ArrayLike<number>;
  /** ∂e/∂world_points, `[S, H, W, 3]`. */
  worldPoints?: ArrayLike<number>;
}

export interface VggtGradientsOptions extends ModelGradientsOptions {
  /** Camera-head refinement iterations (4 in VGGT). */
  iterations?: number;
}

/**
 * VGGT forward pass that keeps what the backward pass needs, and reverse-mode gradients of any scalar function of
 * (pose_enc, world_points) w.r.t. every global layer's W_Q, on the wasm EP or WebGPU (`target`).
 *
 * @example
 * const vg = await VggtGradients.create(st, inferVggtConfig(st.tensors, cfgJson));
 * const fwd = await vg.forward(images, { S: 3, H: 70, W: 98 });
 * await vg.backward(fwd, { poseEnc: dE_dPose }, (layer, gWq) => acc.add('camera', layer, gWq));
 * await vg.dispose();
 */
export class VggtGradients {
  readonly kind = 'vggt' as const;
  private disposed = false;

  private constructor(
    private readonly trunk: TrunkGradients,
    readonly config: VggtConfig,
    private readonly camera: CameraHead,
    private readonly points: DptHead,
    private readonly pointSpec: DptHeadSpec,
    /** The checkpoint's tensor table (the head VJP graphs are built from shapes: their weights are inputs). */
    private readonly shapes: HeadWeights['tensors'],
    /** Head weights as feeds of those graphs (GPU-resident on WebGPU), so no VJP graph bakes them. */
    private readonly headW: { camera: HeadFeeds; point: HeadFeeds },
    private readonly iterations: number,
  ) {}

  /** Load the model (on `opts.target`, default the wasm EP) and every weight the backward pass needs. */
  static async create(
    weights: HeadWeights,
    config: VggtConfig,
    opts: VggtGradientsOptions = {},
  ): Promise<VggtGradients> {
    if (!config.camera || !config.pointHead) {
      throw new HessError(
        'BAD_CHECKPOINT',
        'HeSS calibration needs the camera head and the point head',
        'calibrate a full VGGT checkpoint (camera_head.* and point_head.* tensors)',
      );
    }
    const iterations = opts.iterations ?? 4;
    const { ort, reader, target, trunk } = await openTrunkGradients(weights, config, vggtLayout(), opts);
    const cleanup: Array<{ dispose(): Promise<void> }> = [trunk];
    try {
      const camera = await CameraHead.create(reader, config.camera, target, { ort, iterations });
      cleanup.push(camera);
      const pointSpec: DptHeadSpec = {
        kind: 'point',
        head: config.pointHead,
        dimIn: 2 * config.embedDim,
        patchSize: config.patchSize,
        patchStartIdx: config.patchStartIdx,
      };
      const points = await DptHead.create(reader, pointSpec, target, { ort });
      cleanup.push(points);
      const camParams = cameraHeadInputsGraph(reader.tensors, config.camera, iterations, 'camera_head').params;
      const pointParams = dptHeadInputsGraph(reader.tensors, pointSpec, 'point_head', { raw: true }).params;
      const camFeeds = await loadHeadFeeds(reader, 'camera_head', camParams, ort, target, opts.signal);
      cleanup.push({ dispose: async () => releaseFeeds(camFeeds) });
      const pointFeeds = await loadHeadFeeds(reader, 'point_head', pointParams, ort, target, opts.signal);
      return new VggtGradients(
        trunk,
        config,
        camera,
        points,
        pointSpec,
        reader.tensors,
        { camera: camFeeds, point: pointFeeds },
        iterations,
      );
    } catch (e) {
      for (const x of cleanup) await x.dispose().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Forward pass on preprocessed images `[S, 3, H, W]` in [0, 1]: pose encoding, world points, and the block
   * activations the backward pass needs (see `TrunkGradients` for the memory bound).
   */
  async forward(
    images: Float32Array,
    shape: { S: number; H: number; W: number },
    opts: { signal?: AbortSignal } = {},
  ): Promise<ForwardState> {
    this.alive();
    const c = this.config;
    const last = c.depth - 1;
    const state = await this.trunk.forward(images, shape, [...HEAD_LAYERS.filter((l) => l < c.depth), last], opts);
    const poseEnc = await this.camera.run(state.layers.get(last)!, shape.S);
    const { values } = await this.points.run(state.layers, shape.S, shape.H, shape.W, { signal: opts.signal });
    return { ...state, poseEnc, worldPoints: values };
  }

  /**
   * Backpropagate `seeds` (∂e/∂outputs of one error term) to every global layer's query weights. `onLayer` gets,
   * from the last layer down to layer 0, ∂e/∂W_Q `[heads·headDim, dim]` in PyTorch layout (rows h·d … h·d+d−1
   * of `aggregator.global_blocks.ℓ.attn.qkv.weight` are head h); the array is reused after the call returns.
   */
  async backward(
    state: ForwardState,
    seeds: OutputGradients,
    onLayer: (layer: number, gradWq: Float32Array) => void,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.alive();
    const { S, H, W, P } = state;
    const c = this.config;
    const C2 = 2 * c.embedDim;
    const N = S * P;
    const last = c.depth - 1;
    const t = this.trunk.tensor;
    const G = new Map<number, Float32Array>();
    const gLayer = (l: number) => {
      let a = G.get(l);
      if (!a) G.set(l, (a = new Float32Array(N * C2)));
      return a;
    };

    if (seeds.poseEnc) {
      check(seeds.poseEnc.length === S * 9, `poseEnc gradient has ${seeds.poseEnc.length} values, expected ${S * 9}`);
      const lastL = state.layers.get(last)!;
      const tokens = new Float32Array(S * C2);
      for (let s = 0; s < S; s++) tokens.set(lastL.subarray(s * P * C2, s * P * C2 + C2), s * C2);
      const sess = await this.trunk.session(`camera:${S}`, () => {
        const { graph } = cameraHeadInputsGraph(this.shapes, c.camera!, this.iterations, 'camera_head');
        return vjpModel(graph, ['pose_enc'], ['tokens'], { S });
      });
      const out = await sess.run({
        ...this.headW.camera.feeds,
        tokens: t(tokens, [S, C2]),
        g_pose_enc: t(Float32Array.from(seeds.poseEnc), [S, 9]),
      });
      const gt = out.grad_tokens!.data as Float32Array;
      const gl = gLayer(last);
      for (let s = 0; s < S; s++) for (let k = 0; k < C2; k++) gl[s * P * C2 + k] += gt[s * C2 + k]!;
    }
    if (seeds.worldPoints) {
      const HW = H * W;
      check(
        seeds.worldPoints.length === S * HW * 3,
        `worldPoints gradient has ${seeds.worldPoints.length} values, expected ${S * HW * 3}`,
      );
      // chain the inv_log activation by hand and go NHWC → NCHW: g_raw = g · (1 + |value|)
      const graw = new Float32Array(S * 3 * HW);
      const wp = state.worldPoints;
      for (let s = 0; s < S; s++) {
        for (let p = 0; p < HW; p++) {
          for (let ch = 0; ch < 3; ch++) {
            const i = (s * HW + p) * 3 + ch;
            graw[(s * 3 + ch) * HW + p] = seeds.worldPoints[i]! * (1 + Math.abs(wp[i]!));
          }
        }
      }
      const idx = this.points.layerIdx;
      const point = dptHeadInputsGraph(this.shapes, this.pointSpec, 'point_head', { raw: true });
      const ps = c.patchSize;
      const sess = await this.trunk.session(`point:${S}x${H}x${W}`, () =>
        vjpModel(point.graph, ['raw'], ['l0', 'l1', 'l2', 'l3'], { N: S, P, H, W, gh: H / ps, gw: W / ps }),
      );
      const feeds: Record<string, Tensor> = { ...this.headW.point.feeds, g_raw: t(graw, [S, 3, H, W]) };
      for (const [name, p] of dptPosFeeds(point.pos, ps, H, W)) feeds[name] = t(p.data, p.dims);
      idx.forEach((l, k) => {
        feeds[`l${k}`] = t(state.layers.get(l)!, [S, P, C2]);
      });
      const out = await sess.run(feeds);
      idx.forEach((l, k) => {
        const gk = out[`grad_l${k}`]!.data as Float32Array;
        const gl = gLayer(l);
        for (let i = 0; i < gk.length; i++) gl[i] += gk[i]!;
      });
    }
    if (G.size === 0)
      throw new HessError(
        'INVALID_ARGUMENT',
        'backward() got no seed gradient',
        'pass { poseEnc } and/or { worldPoints }',
      );
    await this.trunk.backward(state, G, onLayer, opts);
  }

  /**
   * Replace one frame/global block weight (`key` after the block prefix, PyTorch layout) in both the forward and the
   * backward pass, without rebuilding sessions (e.g. finite-difference checks, planted-sensitivity experiments).
   *
   * @example
   * vg.setBlockWeight('global', 5, 'attn.qkv.weight', perturbed);
   */
  setBlockWeight(kind: 'frame' | 'global', block: number, key: string, data: Float32Array): void {
    this.alive();
    this.trunk.setBlockWeight(kind, block, key, data);
  }

  /** Release every session. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.trunk.dispose();
    await this.camera.dispose();
    await this.points.dispose();
    releaseFeeds(this.headW.camera);
    releaseFeeds(this.headW.point);
  }

  private alive(): void {
    if (this.disposed)
      throw new HessError('DISPOSED', 'VggtGradients used after dispose()', 'create a new VggtGradients');
  }
}
