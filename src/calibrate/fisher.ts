import { check, HessError } from '../errors.js';
import { accumulateHeadSquares } from '../wasm/fisher.js';
import type { PlannerWasm } from '../wasm/planner-module.js';
import { combineHess, HESS_FORMAT_VERSION, type HessFile } from '../hess/hess-file.js';

/** The two HeSS error terms: camera-pose error and point-cloud error. */
export type FisherTerm = 'camera' | 'pointCloud';

/** Serialisable running sums of a {@link FisherAccumulator} (see `toState`/`fromState`). */
export interface FisherState {
  version: 1;
  shape: Required<FisherShape>;
  /** Scenes folded in. */
  scenes: number;
  /** Σ over scenes of the per-scene traces, layer-major `[layers·heads]`. */
  camera: number[];
  pointCloud: number[];
}

/** Shape of the model being calibrated (VGGT-1B: 24 global layers, 16 heads, head dim 64, dim 1024). */
export interface FisherShape {
  layers: number;
  heads: number;
  headDim: number;
  /** Model width (columns of qkv.weight). Default heads·headDim. */
  dim?: number;
}

/**
 * Streaming Fisher-trace accumulation for HeSS: per (term, global layer, head) Σ g² over that head's query-weight
 * rows, summed in float64 (Wasm), one calibration scene at a time; scene-averaged on output. Gradients are folded
 * in and dropped, never stored.
 *
 * @example
 * const acc = new FisherAccumulator(await PlannerWasm.load(), { layers: 24, heads: 16, headDim: 64 });
 * for (const scene of scenes) {
 *   acc.beginScene();
 *   for (let l = 0; l < 24; l++) acc.add('camera', l, camGrads[l]);      // grad of global_blocks.l.attn.qkv.weight
 *   for (let l = 0; l < 24; l++) acc.add('pointCloud', l, pcGrads[l]);
 *   acc.endScene();
 * }
 * const file = acc.toHessFile({ modelId: 'facebook/VGGT-1B', description: 'CO3D 20 scenes' });
 */
export class FisherAccumulator {
  readonly shape: Required<FisherShape>;
  private readonly wasm: PlannerWasm;
  private readonly total: Record<FisherTerm, Float64Array>;
  private readonly scene: Record<FisherTerm, Float64Array>;
  private open = false;
  private scenes = 0;

  constructor(wasm: PlannerWasm, shape: FisherShape) {
    const dim = shape.dim ?? shape.heads * shape.headDim;
    for (const [k, v] of [
      ['layers', shape.layers],
      ['heads', shape.heads],
      ['headDim', shape.headDim],
      ['dim', dim],
    ] as const) {
      check(Number.isInteger(v) && v > 0, `FisherAccumulator: ${k} must be a positive integer, got ${v}`);
    }
    this.shape = { ...shape, dim };
    this.wasm = wasm;
    const n = shape.layers * shape.heads;
    this.total = { camera: new Float64Array(n), pointCloud: new Float64Array(n) };
    this.scene = { camera: new Float64Array(n), pointCloud: new Float64Array(n) };
  }

  /** Start a calibration scene. */
  beginScene(): void {
    check(!this.open, 'beginScene() called twice without endScene()');
    this.scene.camera.fill(0);
    this.scene.pointCloud.fill(0);
    this.open = true;
  }

  /**
   * Fold in one gradient of layer `layer`'s attention weights for `term`: either the full `qkv.weight` gradient
   * [3·dim, dim] (its first heads·headDim rows are W_Q) or only W_Q's gradient [heads·headDim, dim]. Several calls
   * for the same (term, layer) in a scene add up (e.g. gradient accumulation over frames).
   */
  add(term: FisherTerm, layer: number, grad: Float32Array): void {
    check(this.open, 'add() outside a scene', 'call beginScene() first');
    check(term === 'camera' || term === 'pointCloud', `unknown term '${String(term)}'`, "use 'camera' or 'pointCloud'");
    const { layers, heads, headDim, dim } = this.shape;
    check(Number.isInteger(layer) && layer >= 0 && layer < layers, `layer must be in [0, ${layers}), got ${layer}`);
    const q = heads * headDim * dim;
    if (grad.length !== q && grad.length !== 3 * q) {
      throw new HessError(
        'SHAPE_MISMATCH',
        `gradient has ${grad.length} values; expected W_Q [${heads * headDim}, ${dim}] = ${q} or qkv [${3 * heads * headDim}, ${dim}] = ${3 * q}`,
        'pass the gradient of global_blocks.{l}.attn.qkv.weight (or its first heads·headDim rows)',
      );
    }
    const out = this.scene[term].subarray(layer * heads, (layer + 1) * heads);
    accumulateHeadSquares(this.wasm, grad.subarray(0, q), heads, headDim, out);
  }

  /** Close the scene: its traces join the running sums. */
  endScene(): void {
    check(this.open, 'endScene() without beginScene()');
    for (const t of ['camera', 'pointCloud'] as const)
      for (let i = 0; i < this.total[t].length; i++) this.total[t][i] += this.scene[t][i];
    this.scenes++;
    this.open = false;
  }

  /**
   * A JSON-serialisable snapshot of the running sums (between scenes), to persist calibration progress and resume
   * with {@link FisherAccumulator.fromState}.
   *
   * @example
   * await writeFile('progress.json', JSON.stringify(acc.toState()));
   */
  toState(): FisherState {
    check(!this.open, 'toState() inside a scene', 'call endScene() first');
    return {
      version: 1,
      shape: { ...this.shape },
      scenes: this.scenes,
      camera: Array.from(this.total.camera),
      pointCloud: Array.from(this.total.pointCloud),
    };
  }

  /**
   * Rebuild an accumulator from {@link FisherAccumulator.toState}'s snapshot.
   *
   * @example
   * const acc = FisherAccumulator.fromState(wasm, JSON.parse(await readFile('progress.json', 'utf8')));
   */
  static fromState(wasm: PlannerWasm, state: FisherState): FisherAccumulator {
    if (typeof state !== 'object' || state === null || state.version !== 1) {
      throw new HessError(
        'INVALID_ARGUMENT',
        'not a FisherAccumulator state (version 1)',
        'pass what toState() returned',
      );
    }
    const sh = state.shape as Partial<FisherShape> | null | undefined;
    if (typeof sh !== 'object' || sh === null || Array.isArray(sh)) {
      throw new HessError(
        'INVALID_ARGUMENT',
        'FisherAccumulator state: shape is missing',
        'pass what toState() returned',
      );
    }
    const acc = new FisherAccumulator(wasm, state.shape);
    const n = acc.shape.layers * acc.shape.heads;
    for (const t of ['camera', 'pointCloud'] as const) {
      const v = state[t];
      if (!Array.isArray(v) || v.length !== n || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || x < 0)) {
        throw new HessError(
          'INVALID_ARGUMENT',
          `FisherAccumulator state: ${t} must hold ${n} finite numbers ≥ 0`,
          'pass what toState() returned',
        );
      }
      acc.total[t].set(v);
    }
    check(
      Number.isInteger(state.scenes) && state.scenes >= 0,
      `FisherAccumulator state: scenes must be an integer ≥ 0, got ${state.scenes}`,
    );
    acc.scenes = state.scenes;
    return acc;
  }

  /** Scenes folded in so far. */
  get sceneCount(): number {
    return this.scenes;
  }

  /** Scene-averaged raw traces of a term, [layer][head]. */
  traces(term: FisherTerm): number[][] {
    check(this.scenes > 0, 'no scene accumulated yet', 'call beginScene()/add()/endScene() first');
    const { layers, heads } = this.shape;
    return Array.from({ length: layers }, (_, l) =>
      Array.from(this.total[term].subarray(l * heads, (l + 1) * heads), (x) => x / this.scenes),
    );
  }

  /**
   * The HeSS file: raw scene-averaged traces, per-layer-normalised combined scores (λ default 0.5; use 0 for
   * Pi3-like models without a camera term).
   */
  toHessFile(o: { modelId: string; description: string; lambda?: number; model?: 'vggt' | 'pi3' }): HessFile {
    const lambda = o.lambda ?? 0.5;
    check(lambda >= 0 && lambda <= 1, `lambda must be in [0, 1], got ${lambda}`);
    const camera = this.traces('camera'),
      pointCloud = this.traces('pointCloud');
    return {
      format: 'hess-scores',
      version: HESS_FORMAT_VERSION,
      modelId: o.modelId,
      ...(o.model && { model: o.model }),
      layers: this.shape.layers,
      heads: this.shape.heads,
      lambda,
      terms: { camera, pointCloud },
      scores: combineHess(camera, pointCloud, lambda),
      calibration: { description: o.description, scenes: this.scenes },
    };
  }
}
