/**
 * HeSS calibration: calibration scenes → per-(global layer, head) Fisher traces of the two error terms → HeSS file.
 *
 * Per scene: forward pass (keeping block activations), GT normalisation and one similarity H (prediction →
 * normalised GT; a constant, no gradient through it), e_cam and e_pc with their gradients w.r.t. the camera
 * centres / world points ({@link hessErrors}), chained to the pose encoding and the point map, then one backward
 * pass per term ({@link VggtGradients.backward}) streamed into a {@link FisherAccumulator} layer by layer
 * (Σ over the rows of W_Q^h of g²; scene-averaged).
 */
import { openCheckpointPath } from '../model/source/checkpoint.js';
import { check, HessError, throwIfAborted } from '../errors.js';
import { inferVggtConfig, type VggtConfigOverride } from '../model/config.js';
import { decodeImageFile } from '../model/image/image-decode.js';
import { detectModelKind } from '../model/load-model.js';
import { inferPi3Config, type Pi3ConfigOverride } from '../model/pi3/config.js';
import { preprocessImages, type PreprocessMode } from '../model/image/preprocess.js';
import { bytesSource, openSafetensors } from '../model/source/safetensors.js';
import { poseEncodingToExtriIntri, quatToMat } from '../model/vggt/pose.js';
import { PlannerWasm } from '../wasm/planner-module.js';
import { depthMapToPoints, type CalibrationScene } from './dataset/format.js';
import { FisherAccumulator, type FisherState, type FisherTerm } from './fisher.js';
import { cameraCenters, type SceneNormalization, type Similarity } from './geometry/index.js';
import { type ForwardState, VggtGradients, type VggtGradientsOptions } from './gradients.js';
import { Pi3Gradients } from './pi3-gradients.js';
import { centreErrors, pi3SceneErrors, type SceneErrorOptions, type SceneGroundTruth } from './scene-errors.js';
import type { HessFile } from '../hess/hess-file.js';

/** A scene already in memory: preprocessed images and ground truth. */
export interface SceneInput {
  name: string;
  /** `[S, 3, H, W]` in [0, 1] (see preprocessImages). */
  images: { data: Float32Array; S: number; H: number; W: number };
  /** GT camera-from-world `[S, 3, 4]` (OpenCV), same frame order as the images. */
  extrinsics: ArrayLike<number>;
  /** GT point cloud, flat xyz in the same world frame as `extrinsics`. */
  points: ArrayLike<number>;
}

/**
 * Decode and preprocess a scene read by `readCalibrationScenes` (images with decodeImageFile + preprocessImages,
 * crop mode by default). The GT cloud is `points.bin`/`points.ply`, else the union of the unprojected depth maps.
 *
 * @example
 * const [scene] = await readCalibrationScenes('./calib', { maxScenes: 1 });
 * const input = await loadCalibrationScene(scene);
 */
export async function loadCalibrationScene(
  scene: CalibrationScene,
  opts: { mode?: PreprocessMode; targetSize?: number } = {},
): Promise<SceneInput> {
  check(scene.views.length > 0, `scene ${scene.name} has no views`);
  const imgs = [];
  // Dataset cameras are in stored-pixel coordinates (as PIL loads them): no EXIF rotation.
  for (const v of scene.views) imgs.push(await decodeImageFile(v.imagePath, { exifOrientation: false }));
  const pre = preprocessImages(imgs, { mode: opts.mode ?? 'crop', targetSize: opts.targetSize });
  const extrinsics = new Float64Array(12 * scene.views.length);
  scene.views.forEach((v, i) => extrinsics.set(v.extrinsic, 12 * i));
  let points: ArrayLike<number> | undefined = scene.points;
  if (!points) {
    const parts = scene.views.filter((v) => v.depth).map((v) => depthMapToPoints(v.depth!, v.intrinsic, v.extrinsic));
    if (parts.length === 0) {
      throw new HessError(
        'BAD_DATASET',
        `scene ${scene.name} has neither a point cloud nor depth maps`,
        'add points.bin / points.ply or depth/<view>.bin to the scene folder',
      );
    }
    const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    points = all;
  }
  return {
    name: scene.name,
    images: { data: pre.data, S: pre.frames, H: pre.height, W: pre.width },
    extrinsics,
    points,
  };
}

/**
 * ∂e/∂pose_enc `[S, 9]` from ∂e/∂cᵢ (camera centres `cᵢ = −R(qᵢ)ᵀ tᵢ`): translation analytically (`−R g`),
 * quaternion by float64 central differences of `quatToMat` (step 1e-6·‖q‖: truncation ~1e-12, rounding ~1e-10
 * relative — far below the float32 noise of the network), FoV 0 (centres do not depend on it).
 *
 * @example
 * const gPose = centerGradToPoseEncGrad(poseEnc, S, camera.grad);
 */
export function centerGradToPoseEncGrad(
  poseEnc: ArrayLike<number>,
  S: number,
  gradCenters: ArrayLike<number>,
): Float64Array {
  check(
    poseEnc.length === 9 * S && gradCenters.length === 3 * S,
    `need [S, 9] pose encodings and [S, 3] gradients for S = ${S}`,
  );
  const out = new Float64Array(9 * S);
  const R = new Float64Array(9);
  // centre coordinate k for the rotation currently in R: c = −Rᵀ t
  const center = (t: number[], k: number) => -(R[k]! * t[0]! + R[3 + k]! * t[1]! + R[6 + k]! * t[2]!);
  for (let s = 0; s < S; s++) {
    const t = [poseEnc[9 * s]!, poseEnc[9 * s + 1]!, poseEnc[9 * s + 2]!];
    const q = [poseEnc[9 * s + 3]!, poseEnc[9 * s + 4]!, poseEnc[9 * s + 5]!, poseEnc[9 * s + 6]!];
    const g = [gradCenters[3 * s]!, gradCenters[3 * s + 1]!, gradCenters[3 * s + 2]!];
    quatToMat(q, R);
    for (let j = 0; j < 3; j++) out[9 * s + j] = -(R[3 * j]! * g[0]! + R[3 * j + 1]! * g[1]! + R[3 * j + 2]! * g[2]!);
    const h = 1e-6 * Math.hypot(...q);
    for (let m = 0; m < 4; m++) {
      let acc = 0;
      for (const sign of [1, -1]) {
        const qq = q.slice();
        qq[m]! += sign * h;
        quatToMat(qq, R);
        for (let k = 0; k < 3; k++) acc += sign * g[k]! * center(t, k);
      }
      out[9 * s + 3 + m] = acc / (2 * h);
    }
  }
  return out;
}

/** The two error terms of one scene, their gradients w.r.t. the model outputs, and the frozen loss they are exact for. */
export interface SceneErrors {
  /** Prediction → normalised GT similarity (held fixed). */
  transform: Similarity;
  normalization: SceneNormalization;
  camera: { error: number; gradPoseEnc: Float64Array };
  pointCloud: { error: number; gradWorldPoints: Float64Array; inlierCount: number };
  /**
   * The same two errors for another prediction with H, the inlier set and the nearest-GT assignment frozen at this
   * prediction: the function whose gradient the terms are (use it for finite-difference checks).
   */
  frozen(poseEnc: ArrayLike<number>, worldPoints: ArrayLike<number>): { camera: number; pointCloud: number };
}

/**
 * e_cam, e_pc and ∂e/∂(pose_enc, world_points) of one prediction against ground truth.
 *
 * @example
 * const errs = sceneErrors(fwd, { extrinsics: gtE, points: gtCloud }, { epsilon: 0.05 });
 * await vg.backward(fwd, { poseEnc: errs.camera.gradPoseEnc }, onLayer);
 */
export function sceneErrors(
  pred: Pick<ForwardState, 'S' | 'H' | 'W' | 'poseEnc' | 'worldPoints'>,
  gt: SceneGroundTruth,
  opts: SceneErrorOptions = {},
): SceneErrors {
  const { S, H, W } = pred;
  const centersOf = (pe: ArrayLike<number>) => cameraCenters(poseEncodingToExtriIntri(pe, S, H, W).extrinsics);
  const e = centreErrors(S, pred.poseEnc, pred.worldPoints, gt, centersOf, opts);
  return {
    transform: e.transform,
    normalization: e.normalization,
    camera: { error: e.camera.error, gradPoseEnc: centerGradToPoseEncGrad(pred.poseEnc, S, e.camera.gradCenters) },
    pointCloud: e.pointCloud,
    frozen: e.frozen,
  };
}

/** Progress of {@link calibrate}. */
export interface CalibrateProgress {
  stage: 'load' | 'forward' | 'backward' | 'scene-done' | 'skip';
  scene: string;
  /** 0-based index in the scene list, and the list's length when known. */
  index: number;
  total?: number;
}

/** What {@link calibrate} reports after each scene. */
export interface SceneReport {
  scene: string;
  errors: { camera: number; pointCloud: number; inliers: number };
  /** Milliseconds: forward pass, both backward passes. */
  timings: { forward: number; backward: number };
}

/** Resumable calibration progress (JSON-serialisable). */
export interface CalibrationState {
  version: 2;
  fisher: FisherState;
  /** Names of the scenes already folded in (skipped on resume). */
  done: string[];
  /** Dataset identity: per folded scene (in `done` order), a hash of its GT cameras (checked when it is skipped). */
  cameras: string[];
  /** Model identity: a hash of the model's architecture (VggtConfig). */
  model: string;
}

const RESTART = 'delete the progress file (or pass --restart to the CLI) to start afresh';

/** FNV-1a (64-bit, as two 32-bit halves) of float64 values: a stable hex identity of cameras or a config. */
function fnv64(values: ArrayLike<number> | string): string {
  let h1 = 0x811c9dc5,
    h2 = 0xcbf29ce4;
  const eat = (byte: number) => {
    h1 = Math.imul(h1 ^ byte, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ byte ^ (h1 >>> 7), 0x01000193) >>> 0;
  };
  if (typeof values === 'string') {
    for (const b of new TextEncoder().encode(values)) eat(b);
  } else {
    const bytes = new Uint8Array(Float64Array.from(values).buffer);
    for (const b of bytes) eat(b);
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** Identity of a scene's ground-truth cameras (camera-from-world [S, 3, 4], in view order). */
function camerasHash(item: CalibrationScene | SceneInput): string {
  if ('images' in item) return fnv64(item.extrinsics);
  const all = new Float64Array(12 * item.views.length);
  item.views.forEach((v, i) => all.set(v.extrinsic, 12 * i));
  return fnv64(all);
}

/** Identity of a model's architecture. */
function modelHash(config: CalibrationGradients['config']): string {
  const { assumed: _a, ...arch } = config;
  return fnv64(JSON.stringify(arch));
}

/**
 * Check a resume state before using it: well-formed, made for this model, and self-consistent (every scene in
 * `done` folded into the Fisher sums exactly once). INVALID_ARGUMENT otherwise, never a TypeError.
 */
function checkResumeState(state: unknown, model: string): CalibrationState {
  const bad = (why: string) => new HessError('INVALID_ARGUMENT', `calibration progress: ${why}`, RESTART);
  if (typeof state !== 'object' || state === null || Array.isArray(state))
    throw bad(`expected a state object, got ${state === null ? 'null' : typeof state}`);
  const st = state as Partial<CalibrationState> & { version?: unknown };
  if (st.version !== 2) throw bad(`unsupported version ${JSON.stringify(st.version)} (this version writes 2)`);
  if (typeof st.fisher !== 'object' || st.fisher === null) throw bad('no Fisher sums (fisher)');
  if (!Array.isArray(st.done) || st.done.some((n) => typeof n !== 'string'))
    throw bad('done must be a list of scene names');
  if (new Set(st.done).size !== st.done.length) throw bad('a scene is listed as done twice');
  if (
    !Array.isArray(st.cameras) ||
    st.cameras.length !== st.done.length ||
    st.cameras.some((h) => typeof h !== 'string')
  ) {
    throw bad('cameras must hold one hash per done scene');
  }
  if (st.fisher.scenes !== st.done.length) {
    throw bad(`${st.done.length} scene(s) listed as done but ${String(st.fisher.scenes)} folded into the Fisher sums`);
  }
  if (st.model !== model) throw bad('it was made for another model (architecture differs)');
  return st as CalibrationState;
}

export interface CalibrateOptions {
  /** Weight of the camera term in the combined score (default 0.5). */
  lambda?: number;
  /** Inlier radius of e_pc in normalised scene units (default 0.05). */
  epsilon?: number;
  /** Optional ICP refinement of H (normalised units). */
  icp?: { iterations: number; inlierDist?: number };
  /** Preprocessing of dataset scenes (default 'crop', 518 wide). */
  mode?: PreprocessMode;
  targetSize?: number;
  onProgress?: (e: CalibrateProgress) => void;
  /** Called after each scene with the resumable state (persist it to resume an interrupted run). */
  onSceneDone?: (state: CalibrationState, report: SceneReport) => void | Promise<void>;
  /** Continue from a state given to onSceneDone: scenes listed in `done` are skipped. */
  resumeFrom?: CalibrationState;
  modelId?: string;
  description?: string;
  signal?: AbortSignal;
}

/** A checkpoint to open: a path (file or a directory with model.safetensors + config.json) or its bytes. */
export interface CheckpointSource {
  checkpoint: string | Uint8Array;
  /** What the shapes cannot say (e.g. `{ camera_heads: 16 }`); read from config.json next to a path. */
  config?: VggtConfigOverride & Pi3ConfigOverride;
  /** Where the gradients run and how activations are kept (default: wasm EP, checkpointing 'auto'). */
  gradients?: Pick<VggtGradientsOptions, 'target' | 'checkpointEvery'>;
}

/** The gradients of either model: VGGT's or π³'s (what {@link calibrate} runs). */
export type CalibrationGradients = VggtGradients | Pi3Gradients;

async function openCheckpoint(src: CheckpointSource, signal?: AbortSignal): Promise<CalibrationGradients> {
  const { st, override } =
    typeof src.checkpoint === 'string'
      ? await openCheckpointPath(src.checkpoint, { signal })
      : { st: await openSafetensors(bytesSource(src.checkpoint), { signal }), override: {} };
  // The gradients read every weight they need at creation: the file handle is closed right after, or on failure.
  try {
    const cfg = { ...override, ...src.config };
    if (detectModelKind(st.tensors, cfg as { model?: unknown }) === 'pi3') {
      return await Pi3Gradients.create(st, inferPi3Config(st.tensors, cfg), { ...src.gradients, signal });
    }
    const config = inferVggtConfig(st.tensors, cfg);
    return await VggtGradients.create(st, config, { ...src.gradients, signal });
  } finally {
    await st.close();
  }
}

/**
 * Calibrate HeSS scores: for every scene, ∂e_cam/∂W_Q^h and ∂e_pc/∂W_Q^h of every global layer and head (wasm EP,
 * or WebGPU with `gradients: { target }`), folded into Fisher traces; returns the HeSS file. Scenes are processed
 * one at a time (streaming).
 *
 * @example
 * const scenes = await readCalibrationScenes('./calib');
 * const hess = await calibrate({ checkpoint: './vggt-1b' }, scenes, {
 *   onSceneDone: (state) => writeFile('progress.json', JSON.stringify(state)),
 * });
 * await writeFile('vggt-1b.hess.json', JSON.stringify(hess));
 */
export async function calibrate(
  model: CalibrationGradients | CheckpointSource,
  scenes: Iterable<CalibrationScene | SceneInput> | AsyncIterable<CalibrationScene | SceneInput>,
  opts: CalibrateOptions = {},
): Promise<HessFile> {
  const { signal } = opts;
  const lambda = opts.lambda ?? 0.5;
  check(lambda >= 0 && lambda <= 1, `lambda must be in [0, 1], got ${lambda}`);
  const epsilon = opts.epsilon ?? 0.05;
  check(epsilon > 0, `epsilon must be > 0, got ${epsilon}`);
  const given = model instanceof VggtGradients || model instanceof Pi3Gradients;
  const vg = given ? model : await openCheckpoint(model, signal);
  try {
    const c = vg.config;
    const wasm = await PlannerWasm.load();
    const shape = { layers: c.depth, heads: c.numHeads, headDim: c.headDim, dim: c.embedDim };
    let acc: FisherAccumulator;
    const done: string[] = [];
    const cameras: string[] = [];
    const model = modelHash(c);
    /** Done scenes from the resume state not met again in this dataset (checked at the end). */
    const unseen = new Set<string>();
    if (opts.resumeFrom !== undefined) {
      const state = checkResumeState(opts.resumeFrom, model);
      try {
        acc = FisherAccumulator.fromState(wasm, state.fisher);
      } catch (e) {
        throw new HessError('INVALID_ARGUMENT', `calibration progress: ${(e as Error).message}`, RESTART, { cause: e });
      }
      const s = acc.shape;
      if (s.layers !== shape.layers || s.heads !== shape.heads || s.headDim !== shape.headDim || s.dim !== shape.dim) {
        throw new HessError('INVALID_ARGUMENT', 'resumeFrom was made for another model shape', RESTART);
      }
      done.push(...state.done);
      cameras.push(...state.cameras);
      for (const n of done) unseen.add(n);
      if (Array.isArray(scenes)) {
        // a list: find a foreign done scene before any work
        const names = new Set((scenes as Array<{ name: string }>).map((x) => x.name));
        const missing = done.filter((n) => !names.has(n));
        if (missing.length) {
          throw new HessError(
            'BAD_DATASET',
            `the progress state folded in scene(s) not in this dataset: ${missing.slice(0, 5).join(', ')}`,
            RESTART,
          );
        }
      }
    } else {
      acc = new FisherAccumulator(wasm, shape);
    }
    const total = Array.isArray(scenes) ? scenes.length : undefined;
    let index = -1;
    const progress = (stage: CalibrateProgress['stage'], scene: string) =>
      opts.onProgress?.({ stage, scene, index, total });
    for await (const item of scenes as AsyncIterable<CalibrationScene | SceneInput>) {
      index++;
      throwIfAborted(signal);
      const at = done.indexOf(item.name);
      if (at >= 0) {
        if (!unseen.delete(item.name)) {
          throw new HessError(
            'BAD_DATASET',
            `scene "${item.name}" appears twice in the dataset`,
            'give every scene a unique name',
          );
        }
        if (camerasHash(item) !== cameras[at]) {
          throw new HessError(
            'BAD_DATASET',
            `scene "${item.name}" has other cameras than the one the progress state folded in (another dataset's state?)`,
            RESTART,
          );
        }
        progress('skip', item.name);
        continue;
      }
      progress('load', item.name);
      const scene =
        'images' in item ? item : await loadCalibrationScene(item, { mode: opts.mode, targetSize: opts.targetSize });
      const { S, H, W, data } = scene.images;
      progress('forward', scene.name);
      const t0 = performance.now();
      const fold = (term: FisherTerm) => (l: number, g: Float32Array) => acc.add(term, l, g);
      let errors: SceneReport['errors'];
      let t1: number;
      acc.beginScene();
      // gradients are folded in per layer and dropped (the 3C·C qkv gradient is never stored for all layers)
      if (vg instanceof Pi3Gradients) {
        const fwd = await vg.forward(data, { S, H, W }, { signal });
        const errs = pi3SceneErrors(fwd, scene, { epsilon, icp: opts.icp });
        t1 = performance.now();
        progress('backward', scene.name);
        await vg.backward(fwd, { cameraPoses: errs.camera.gradCameraPoses }, fold('camera'), { signal });
        if (errs.pointCloud.inlierCount > 0)
          await vg.backward(fwd, { points: errs.pointCloud.gradPoints }, fold('pointCloud'), { signal });
        errors = { camera: errs.camera.error, pointCloud: errs.pointCloud.error, inliers: errs.pointCloud.inlierCount };
      } else {
        const fwd = await vg.forward(data, { S, H, W }, { signal });
        const errs = sceneErrors(fwd, scene, { epsilon, icp: opts.icp });
        t1 = performance.now();
        progress('backward', scene.name);
        await vg.backward(fwd, { poseEnc: errs.camera.gradPoseEnc }, fold('camera'), { signal });
        if (errs.pointCloud.inlierCount > 0)
          await vg.backward(fwd, { worldPoints: errs.pointCloud.gradWorldPoints }, fold('pointCloud'), { signal });
        errors = { camera: errs.camera.error, pointCloud: errs.pointCloud.error, inliers: errs.pointCloud.inlierCount };
      }
      acc.endScene();
      const t2 = performance.now();
      done.push(scene.name);
      cameras.push(camerasHash(item));
      progress('scene-done', scene.name);
      await opts.onSceneDone?.(
        { version: 2, fisher: acc.toState(), done: [...done], cameras: [...cameras], model },
        {
          scene: scene.name,
          errors,
          timings: { forward: t1 - t0, backward: t2 - t1 },
        },
      );
    }
    if (unseen.size > 0) {
      throw new HessError(
        'BAD_DATASET',
        `the progress state folded in scene(s) not in this dataset: ${[...unseen].slice(0, 5).join(', ')}`,
        RESTART,
      );
    }
    if (acc.sceneCount === 0)
      throw new HessError('INVALID_ARGUMENT', 'calibrate() got no scene', 'pass at least one calibration scene');
    return acc.toHessFile({
      model: vg.kind,
      modelId: opts.modelId ?? vg.kind,
      description: opts.description ?? `HeSS calibration, ${acc.sceneCount} scenes`,
      lambda,
    });
  } finally {
    if (!given) await vg.dispose();
  }
}
