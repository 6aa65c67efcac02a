/**
 * The evaluation harness of `hess-vggt eval`: run a VGGT or a π³ (its outputs read as VGGT's: `pi3-result.ts`) on every scene of a calibration/eval folder under each
 * (attention policy, sparsity), align the prediction to the ground truth with a similarity, and score cameras
 * (RRA/RTA, AUC@30), the point cloud (accuracy, completeness, Chamfer, F1) and depth (AbsRel), next to the
 * achieved sparsity and the run time.
 *
 * Alignment: Umeyama (with scale) from the predicted camera centres to the GT ones, as in calibrate/geometry; with
 * fewer than 3 non-collinear cameras, the first camera's pose and the centre spread are used instead.
 */
import { HessError, check, throwIfAborted } from '../errors.js';
import { applySimilarity, umeyama, type Similarity } from '../calibrate/geometry/align.js';
import { cameraCenters } from '../calibrate/geometry/errors.js';
import { depthMapToPoints, type CalibrationScene } from '../calibrate/dataset/format.js';
import { combineHess, type HessFile } from '../hess/hess-file.js';
import { maskLayout } from '../mask/layout.js';
import { decodeImageFile } from '../model/image/image-decode.js';
import type { Pi3 } from '../model/pi3/model.js';
import { preprocessImages, type PreprocessMode, type PreprocessResult } from '../model/image/preprocess.js';
import type { Vggt, VggtResult } from '../model/vggt/model.js';
import { asVggtResult } from './pi3-result.js';
import { cameraMetrics, depthMetrics, pointCloudMetrics } from './metrics.js';

/** A global-attention policy to evaluate. */
export type EvalPolicy = 'dense' | 'uniform' | 'hess' | 'reverse';

/** How head budgets are split in a layer: water-filling with caps (the method) or plain proportional (ablation). */
export type EvalAllocation = 'waterfill' | 'proportional';

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Policies (default ['dense']); 'dense' runs once per scene, the others once per sparsity. */
  policies?: readonly EvalPolicy[];
  /** Target sparsities of the sparse policies, each in [0, 1) (default [0.43, 0.73, 0.9], the paper's). */
  sparsities?: readonly number[];
  /** HeSS scores (required for 'hess' and 'reverse'). */
  hess?: HessFile;
  /**
   * Ablation: camera weights λ to re-combine the HeSS file's two terms with (1 = camera only, 0 = point only,
   * 0.5 = combined); 'hess' and 'reverse' run once per λ. Default: the file's own `scores`.
   */
  lambdas?: readonly number[];
  /**
   * Ablation: budget allocations to run the sparse policies with (default ['waterfill']). 'proportional' drops
   * water-filling's redistribution of what the caps cut off. 'uniform' runs once (both give equal budgets).
   */
  allocations?: readonly EvalAllocation[];
  /** Block sizes of the sparse attention (defaults: the runtime's 128 / 64). */
  queryBlock?: number;
  keyBlock?: number;
  /** Mask planner (default the runtime's). */
  planner?: 'wasm' | 'gpu' | 'auto';
  /** Preprocessing (default 'crop', 518). */
  mode?: PreprocessMode;
  targetSize?: number;
  /** Keep predicted points with confidence ≥ minConf (default 0: all finite points). */
  minConf?: number;
  /** F1 distance threshold in GT units; default `thresholdFraction` × the GT cloud's bounding-box diagonal. */
  threshold?: number;
  /** Default 0.01. */
  thresholdFraction?: number;
  /**
   * Points per cloud for the metrics (deterministic stride subsampling; default 20 000). The k-d tree search
   * degrades towards O(n²) when the clouds are far apart (a badly failed prediction), so keep this moderate.
   */
  maxPoints?: number;
  /** Use at most this many views per scene (the first ones; default all). */
  maxFrames?: number;
  onProgress?: (e: { scene: string; policy: EvalPolicy; sparsity: number; done: number; total: number }) => void;
  signal?: AbortSignal;
}

/** One (scene, policy, sparsity) result. Metrics are null when the GT lacks what they need. */
export interface EvalRow {
  scene: string;
  policy: EvalPolicy;
  /** Requested sparsity (0 for dense). */
  sparsity: number;
  /** Sparsity the attention actually achieved (0 for dense; null without the WGSL attention). */
  achievedSparsity: number | null;
  frames: number;
  auc30: number | null;
  /** Fractions of pairs under 15°. */
  rra15: number | null;
  rta15: number | null;
  meanRRA: number | null;
  meanRTA: number | null;
  accuracy: number | null;
  completeness: number | null;
  chamfer: number | null;
  f1: number | null;
  /** F1 threshold used (GT units). */
  threshold: number | null;
  depthAbsRel: number | null;
  /** Similarity scale applied to the prediction and how it was found. */
  alignScale: number;
  alignment: 'umeyama' | 'first-camera';
  /** Model run time, ms (aggregator + heads). */
  ms: number;
  /**
   * Relative RMS difference (‖x − x_dense‖ / ‖x_dense‖) of the depth maps, world points and pose encodings to
   * the dense run on the same scene: the error sparsity itself adds, free of the model's own error against the
   * GT. 0 for dense; null when dense is not among the policies.
   */
  deltaDepth?: number | null;
  deltaPoints?: number | null;
  deltaPose?: number | null;
  /** Camera weight λ of the scores 'hess'/'reverse' allocated by (null for the other policies). */
  lambda?: number | null;
  /** Budget allocation of a sparse policy (undefined for dense). */
  allocation?: EvalAllocation;
  /** Per global layer (sparse policies with the WGSL attention): see {@link LayerSparsity}. */
  layers?: LayerSparsity | null;
}

/**
 * Requested vs achieved sparsity per global layer. `budget`: 1 − granted candidate blocks / (heads·K) — what the
 * allocator gave (floors, caps and rounding move it off the request). `achieved`: 1 − attended key blocks /
 * all key blocks, special-token blocks and dense special-token query blocks included (what the kernel skipped).
 */
export interface LayerSparsity {
  budget: number[];
  achieved: number[];
}

/** Mean of each metric over scenes, per (policy, sparsity, λ, allocation); `layers` averaged per layer. */
export type EvalSummaryRow = Omit<EvalRow, 'scene' | 'alignScale' | 'alignment' | 'frames' | 'threshold'> & {
  scenes: number;
};

/** What {@link evaluate} returns (and report.json holds). */
export interface EvalReport {
  format: 'hess-vggt-eval';
  version: 1;
  createdAt: string;
  /** Which model ('vggt' or 'pi3'; reports written before π³ have none). */
  model: { kind?: 'vggt' | 'pi3'; embedDim: number; depth: number; heads: number; ep: string };
  options: {
    policies: EvalPolicy[];
    sparsities: number[];
    queryBlock?: number;
    keyBlock?: number;
    mode: PreprocessMode;
    targetSize: number;
    hess: string | null;
    lambdas?: number[];
    allocations?: EvalAllocation[];
  };
  /** The HeSS file the run used (report.md shows its heat map), or null. */
  hessFile?: HessFile | null;
  rows: EvalRow[];
  summary: EvalSummaryRow[];
}

const METRIC_KEYS = [
  'achievedSparsity',
  'auc30',
  'rra15',
  'rta15',
  'meanRRA',
  'meanRTA',
  'accuracy',
  'completeness',
  'chamfer',
  'f1',
  'depthAbsRel',
  'deltaDepth',
  'deltaPoints',
  'deltaPose',
  'ms',
] as const;

/** ‖a − ref‖ / ‖ref‖ over entries finite in both (null when nothing is comparable or ref is all zero). */
export function relativeRms(a: ArrayLike<number> | null, ref: ArrayLike<number> | null): number | null {
  if (!a || !ref || a.length !== ref.length) return null;
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i],
      r = ref[i];
    if (!Number.isFinite(x) || !Number.isFinite(r)) continue;
    num += (x - r) ** 2;
    den += r * r;
  }
  return den > 0 ? Math.sqrt(num / den) : null;
}

/** Deterministic stride subsample of a flat xyz cloud to at most `max` points. */
function subsample(xyz: ArrayLike<number>, max: number): Float64Array {
  const n = xyz.length / 3;
  const step = n > max ? n / max : 1;
  const m = Math.min(n, max);
  const out = new Float64Array(3 * m);
  for (let i = 0; i < m; i++) {
    const j = Math.floor(i * step);
    out[3 * i] = xyz[3 * j];
    out[3 * i + 1] = xyz[3 * j + 1];
    out[3 * i + 2] = xyz[3 * j + 2];
  }
  return out;
}

/** Similarity taking prediction coordinates to GT ones. */
function alignment(predExt: ArrayLike<number>, gtExt: ArrayLike<number>): { H: Similarity; how: EvalRow['alignment'] } {
  const pc = cameraCenters(predExt);
  const gc = cameraCenters(gtExt);
  try {
    return { H: umeyama(pc, gc), how: 'umeyama' };
  } catch (e) {
    if (!(e instanceof HessError) || e.code !== 'INVALID_ARGUMENT') throw e;
  }
  // Degenerate centres (< 3 or collinear): map the predicted first camera onto the GT one; scale from spreads.
  const spread = (c: Float64Array) => {
    let s = 0;
    for (let i = 3; i < c.length; i += 3) s += Math.hypot(c[i] - c[0], c[i + 1] - c[1], c[i + 2] - c[2]);
    return s;
  };
  const sp = spread(pc);
  const s = sp > 0 ? spread(gc) / sp : 1;
  // X_gt = R_gᵀ (X_cam − t_g), X_cam = R_p X_pred + t_p (scaled by s) → R = R_gᵀ R_p, t = R_gᵀ (s·t_p − t_g).
  const Rg = [0, 1, 2, 4, 5, 6, 8, 9, 10].map((k) => gtExt[k]);
  const Rp = [0, 1, 2, 4, 5, 6, 8, 9, 10].map((k) => predExt[k]);
  const tg = [gtExt[3], gtExt[7], gtExt[11]];
  const tp = [predExt[3], predExt[7], predExt[11]];
  const R = new Float64Array(9);
  const t = new Float64Array(3);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) R[3 * i + j] += Rg[3 * k + i] * Rp[3 * k + j];
    for (let k = 0; k < 3; k++) t[i] += Rg[3 * k + i] * (s * tp[k] - tg[k]);
  }
  return { H: { s, R, t }, how: 'first-camera' };
}

/** GT depth of view `v` resampled (nearest) onto the preprocessed H×W grid of frame `s`; 0 outside the image. */
function depthOnGrid(
  gt: { width: number; height: number; data: Float32Array },
  pre: PreprocessResult,
  s: number,
): Float32Array {
  const it = pre.items[s];
  const out = new Float32Array(pre.height * pre.width);
  const sy = gt.height / it.resizedHeight;
  const sx = gt.width / it.resizedWidth;
  for (let y = 0; y < pre.height; y++) {
    const ry = y - it.padTop + it.cropTop;
    if (ry < 0 || ry >= it.resizedHeight) continue;
    const gy = Math.min(gt.height - 1, Math.max(0, Math.round((ry + 0.5) * sy - 0.5)));
    for (let x = 0; x < pre.width; x++) {
      const rx = x - it.padLeft;
      if (rx < 0 || rx >= it.resizedWidth) continue;
      const gx = Math.min(gt.width - 1, Math.max(0, Math.round((rx + 0.5) * sx - 0.5)));
      out[y * pre.width + x] = gt.data[gy * gt.width + gx];
    }
  }
  return out;
}

/** Score one prediction against one scene's GT. */
function score(
  r: VggtResult,
  scene: CalibrationScene,
  views: CalibrationScene['views'],
  pre: PreprocessResult,
  gtCloud: Float64Array | null,
  opts: EvaluateOptions,
): Omit<EvalRow, 'scene' | 'policy' | 'sparsity' | 'achievedSparsity' | 'ms'> {
  check(r.extrinsics !== null, 'evaluation needs the camera head', 'load the model with its camera head');
  const gtExt = new Float64Array(12 * views.length);
  views.forEach((v, i) => gtExt.set(v.extrinsic, 12 * i));
  const cam = cameraMetrics(r.extrinsics!, gtExt);
  const { H, how } = alignment(r.extrinsics!, gtExt);
  let pc: ReturnType<typeof pointCloudMetrics> | null = null;
  if (gtCloud && gtCloud.length >= 3 && r.worldPoints) {
    const pts = r.worldPoints;
    const conf = r.worldPointsConf;
    const minConf = opts.minConf ?? 0;
    const kept: number[] = [];
    for (let i = 0; i < pts.length / 3; i++) {
      const ok = Number.isFinite(pts[3 * i] + pts[3 * i + 1] + pts[3 * i + 2]) && (!conf || conf[i] >= minConf);
      if (ok) kept.push(pts[3 * i], pts[3 * i + 1], pts[3 * i + 2]);
    }
    if (kept.length >= 3) {
      const pred = applySimilarity(H, subsample(kept, opts.maxPoints ?? 20_000));
      let threshold = opts.threshold;
      if (threshold === undefined) {
        const lo = [Infinity, Infinity, Infinity];
        const hi = [-Infinity, -Infinity, -Infinity];
        for (let i = 0; i < gtCloud.length; i++) {
          lo[i % 3] = Math.min(lo[i % 3], gtCloud[i]);
          hi[i % 3] = Math.max(hi[i % 3], gtCloud[i]);
        }
        threshold = (opts.thresholdFraction ?? 0.01) * Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) || 1e-9;
      }
      pc = pointCloudMetrics(pred, gtCloud, threshold);
    }
  }
  let depthAbsRel: number | null = null;
  if (r.depth && views.every((v) => v.depth)) {
    // Per-frame median scaling (depth is up to scale), then the mean over frames with valid pixels.
    const HW = r.H * r.W;
    let sum = 0;
    let n = 0;
    views.forEach((v, s) => {
      const gt = depthOnGrid(v.depth!, pre, s);
      try {
        sum += depthMetrics(r.depth!.subarray(s * HW, (s + 1) * HW), gt, { medianScaling: true }).absRel;
        n++;
      } catch (e) {
        if (!(e instanceof HessError)) throw e; // a frame without valid GT pixels is skipped
      }
    });
    depthAbsRel = n ? sum / n : null;
  }
  void scene;
  return {
    frames: views.length,
    auc30: cam.auc30,
    rra15: cam.rraAt,
    rta15: cam.rtaAt,
    meanRRA: cam.meanRRA,
    meanRTA: cam.meanRTA,
    accuracy: pc?.accuracy ?? null,
    completeness: pc?.completeness ?? null,
    chamfer: pc?.chamfer ?? null,
    f1: pc?.f1 ?? null,
    threshold: pc?.threshold ?? null,
    depthAbsRel,
    alignScale: H.s,
    alignment: how,
  };
}

/** The GT cloud of a scene: points.bin/ply, else the union of the depth maps back-projected. */
function gtPoints(scene: CalibrationScene, views: CalibrationScene['views'], max: number): Float64Array | null {
  if (scene.points) return subsample(scene.points, max);
  if (!views.every((v) => v.depth)) return null;
  const parts = views.map((v) => depthMapToPoints(v.depth!, v.intrinsic, v.extrinsic));
  const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return subsample(all, max);
}

/** Element-wise mean of equally long per-layer arrays (null if there are none). */
function meanLayers(rows: readonly EvalRow[]): LayerSparsity | null {
  const ls = rows.map((r) => r.layers).filter((l): l is LayerSparsity => Boolean(l));
  if (!ls.length) return null;
  const mean = (key: keyof LayerSparsity) =>
    ls[0][key].map((_, i) => ls.reduce((a, l) => a + l[key][i], 0) / ls.length);
  return { budget: mean('budget'), achieved: mean('achieved') };
}

/** Mean of each metric per (policy, sparsity, λ, allocation), over the scenes that have it. */
export function summarize(rows: readonly EvalRow[]): EvalSummaryRow[] {
  const groups = new Map<string, EvalRow[]>();
  for (const r of rows) {
    const k = `${r.policy}@${r.sparsity}@${r.lambda ?? ''}@${r.allocation ?? ''}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const out: Record<string, unknown> = { policy: g[0].policy, sparsity: g[0].sparsity, scenes: g.length };
    if (g[0].lambda !== undefined) out.lambda = g[0].lambda;
    if (g[0].allocation !== undefined) out.allocation = g[0].allocation;
    for (const k of METRIC_KEYS) {
      const vals = g.map((r) => r[k]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      out[k] = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
    }
    if (g.some((r) => r.layers !== undefined)) out.layers = meanLayers(g);
    return out as EvalSummaryRow;
  });
}

/** Per-layer budget and achieved sparsity from the attention's stats of one run (see {@link LayerSparsity}). */
export function layerSparsity(
  stats: { budgets: number[][]; blocksPerLayer: number[] },
  heads: number,
  S: number,
  P: number,
  queryBlock = 128,
  keyBlock = 64,
): LayerSparsity {
  const L = maskLayout(S, P, queryBlock, keyBlock);
  const all = heads * L.numQueryBlocks * L.numKeyBlocks;
  const K = L.candidateKeyBlocks;
  return {
    budget: Array.from(stats.budgets, (b) => (b && K > 0 ? 1 - b.reduce((a, x) => a + x, 0) / (b.length * K) : 0)),
    achieved: Array.from(stats.blocksPerLayer, (k) => 1 - (k ?? all) / all),
  };
}

/** The HeSS file with its scores re-combined from the two terms at camera weight `lambda`. */
export function withLambda(hess: HessFile, lambda: number): HessFile {
  if (!(Number.isFinite(lambda) && lambda >= 0 && lambda <= 1)) {
    throw new HessError(
      'INVALID_ARGUMENT',
      `λ = ${lambda} is not in [0, 1]`,
      'pass camera weights like 1, 0.5, 0 (1 = camera term only)',
    );
  }
  return { ...hess, lambda, scores: combineHess(hess.terms.camera, hess.terms.pointCloud, lambda) };
}

/**
 * Evaluate `model` on `scenes` (from `readCalibrationScenes`) under each policy and sparsity. Sparse policies
 * need the model on WebGPU with its WGSL attention; 'hess' and 'reverse' need `hess`.
 *
 * @example
 * const model = await Vggt.load('./vggt-1b');
 * const scenes = await readCalibrationScenes('./co3d-eval');
 * const report = await evaluate(model, scenes, { policies: ['dense', 'uniform', 'hess'], sparsities: [0.43, 0.73, 0.9], hess });
 * await writeReport(report, './eval-out');
 */
export async function evaluate(
  model: Vggt | Pi3,
  scenes: readonly CalibrationScene[],
  opts: EvaluateOptions = {},
): Promise<EvalReport> {
  const policies = [...new Set(opts.policies ?? ['dense'])] as EvalPolicy[];
  const sparsities = [...new Set(opts.sparsities ?? [0.43, 0.73, 0.9])];
  const valid: EvalPolicy[] = ['dense', 'uniform', 'hess', 'reverse'];
  for (const p of policies) {
    if (!valid.includes(p))
      throw new HessError('INVALID_ARGUMENT', `unknown policy '${p}'`, `use one of ${valid.join(', ')}`);
  }
  check(policies.length > 0, 'no policy to evaluate', 'pass e.g. policies: ["dense", "uniform", "hess"]');
  const sparse = policies.filter((p) => p !== 'dense');
  if (sparse.length) {
    check(
      sparsities.length > 0,
      'sparse policies need at least one sparsity',
      'pass e.g. sparsities: [0.43, 0.73, 0.9]',
    );
    for (const s of sparsities) {
      if (!(typeof s === 'number' && s >= 0 && s < 1))
        throw new HessError('INVALID_ARGUMENT', `sparsity ${s} is not in [0, 1)`, 'pass values like 0.43, 0.73, 0.9');
    }
    if (!model.wgsl) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `policies ${sparse.join(', ')} need the WGSL attention (WebGPU)`,
        "load the model on a WebGPU device (attention 'wgsl', the default there), or evaluate --policies dense",
      );
    }
    if ((sparse.includes('hess') || sparse.includes('reverse')) && !opts.hess) {
      throw new HessError(
        'INVALID_ARGUMENT',
        "policies 'hess' and 'reverse' need a HeSS file",
        'pass hess (--hess hess.json), made by the calibrate step',
      );
    }
  }
  check(
    scenes.length > 0,
    'no scenes to evaluate',
    'point --data at a folder of scene folders (see src/calibrate/dataset/README.md)',
  );
  const allocations = [...new Set(opts.allocations ?? ['waterfill'])] as EvalAllocation[];
  for (const a of allocations) {
    if (a !== 'waterfill' && a !== 'proportional')
      throw new HessError('INVALID_ARGUMENT', `unknown allocation '${a}'`, "use 'waterfill' or 'proportional'");
  }
  // One HeSS file per λ of the ablation (validated here, before any model run); the file's own scores by default.
  const lambdas = opts.lambdas ? [...new Set(opts.lambdas)] : null;
  const hessAt = opts.hess && lambdas ? lambdas.map((l) => withLambda(opts.hess!, l)) : opts.hess ? [opts.hess] : [];
  interface Run {
    policy: EvalPolicy;
    sparsity: number;
    hess?: HessFile;
    lambda?: number | null;
    allocation?: EvalAllocation;
  }
  const runs: Run[] = [
    ...(policies.includes('dense') ? [{ policy: 'dense' as const, sparsity: 0 }] : []),
    ...sparse.flatMap((policy) =>
      sparsities.flatMap((sparsity): Run[] => {
        if (policy === 'uniform') return [{ policy, sparsity, lambda: null, allocation: 'waterfill' }];
        return hessAt.flatMap((hess) =>
          allocations.map((allocation) => ({ policy, sparsity, hess, lambda: hess.lambda, allocation })),
        );
      }),
    ),
  ];
  const mode = opts.mode ?? 'crop';
  const targetSize = opts.targetSize ?? 518;
  const maxPoints = opts.maxPoints ?? 20_000;
  const rows: EvalRow[] = [];
  const total = runs.length * scenes.length;
  for (const scene of scenes) {
    throwIfAborted(opts.signal);
    const views = opts.maxFrames ? scene.views.slice(0, opts.maxFrames) : scene.views;
    // Dataset cameras are in stored-pixel coordinates (as PIL loads them): no EXIF rotation.
    const images = await Promise.all(views.map((v) => decodeImageFile(v.imagePath, { exifOrientation: false })));
    const pre = preprocessImages(images, { mode, targetSize });
    const input = { data: pre.data, S: pre.frames, H: pre.height, W: pre.width };
    const gtCloud = gtPoints(scene, views, maxPoints);
    let dense: VggtResult | null = null; // runs first when asked for: the sparse rows' deltas refer to it
    for (const { policy, sparsity, hess, lambda, allocation } of runs) {
      throwIfAborted(opts.signal);
      const r = asVggtResult(
        await model.run(
          input,
          policy === 'dense'
            ? { policy: 'dense', signal: opts.signal }
            : {
                policy,
                sparsity,
                hess,
                allocation,
                queryBlock: opts.queryBlock,
                keyBlock: opts.keyBlock,
                planner: opts.planner,
                signal: opts.signal,
              },
        ),
      );
      const P = (input.H / model.config.patchSize) * (input.W / model.config.patchSize) + model.config.patchStartIdx;
      if (policy === 'dense') dense = r;
      rows.push({
        scene: scene.name,
        policy,
        sparsity,
        achievedSparsity: r.sparsity ? r.sparsity.achievedSparsity : policy === 'dense' ? 0 : null,
        ...score(r, scene, views, pre, gtCloud, opts),
        ms: r.timings.total,
        deltaDepth: dense ? relativeRms(r.depth, dense.depth) : null,
        deltaPoints: dense ? relativeRms(r.worldPoints, dense.worldPoints) : null,
        deltaPose: dense ? relativeRms(r.poseEnc, dense.poseEnc) : null,
        ...(policy === 'dense'
          ? {}
          : {
              lambda,
              allocation,
              layers: r.sparsity
                ? layerSparsity(r.sparsity, model.config.numHeads, input.S, P, opts.queryBlock, opts.keyBlock)
                : null,
            }),
      });
      opts.onProgress?.({ scene: scene.name, policy, sparsity, done: rows.length, total });
    }
  }
  return {
    format: 'hess-vggt-eval',
    version: 1,
    createdAt: new Date().toISOString(),
    model: {
      kind: model.kind,
      embedDim: model.config.embedDim,
      depth: model.config.depth,
      heads: model.config.numHeads,
      ep: model.target.ep,
    },
    options: {
      policies,
      sparsities: sparse.length ? sparsities : [],
      queryBlock: opts.queryBlock,
      keyBlock: opts.keyBlock,
      mode,
      targetSize,
      hess: opts.hess ? opts.hess.modelId : null,
      ...(lambdas ? { lambdas } : {}),
      ...(opts.allocations ? { allocations } : {}),
    },
    hessFile: opts.hess ?? null,
    rows,
    summary: summarize(rows),
  };
}
