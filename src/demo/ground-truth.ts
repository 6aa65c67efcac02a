/**
 * The demo's sample scene with ground truth, and how far a prediction is from it: a seeded scene of the kind
 * models/vggt-synth was trained on (src/evaluate/synthetic-scene.ts), rendered at the model's input size so every
 * predicted pixel has a GT depth and a GT world point. No DOM: the page and `npm run demo` share it.
 */
import { applySimilarity, invertSimilarity, umeyama, type Similarity } from '../calibrate/geometry/align.js';
import { HessError } from '../errors.js';
import { depthMetrics, pointCloudMetrics } from '../evaluate/metrics.js';
import { renderSyntheticScene } from '../evaluate/synthetic-scene.js';
import type { SceneImage } from './scene.js';

/** GT of the sample scene, on the model's input grid (S views of H×W). */
export interface DemoGroundTruth {
  S: number;
  H: number;
  W: number;
  /** z-depth per view, S·H·W (0 = sky). */
  depth: Float32Array;
  /** World point per pixel, S·H·W·3 (NaN where depth is 0). */
  points: Float32Array;
  /** Camera-from-world per view, S·12. */
  extrinsics: Float64Array;
}

/**
 * Render the sample scene `seed` at `width`×`height` (multiples of 14: the model input size, so preprocessing
 * keeps it pixel for pixel) and its GT.
 *
 * @example
 * const { images, gt } = sampleSceneWithGt(1, 98, 70);
 */
export function sampleSceneWithGt(
  seed: number,
  width: number,
  height: number,
  views = 3,
): { images: SceneImage[]; gt: DemoGroundTruth } {
  const sc = renderSyntheticScene(seed, { views, width, height });
  const HW = width * height;
  const depth = new Float32Array(views * HW);
  const points = new Float32Array(3 * views * HW).fill(NaN);
  const extrinsics = new Float64Array(12 * views);
  let k = 0; // sc.points holds the valid pixels of every view in row-major order
  sc.views.forEach((v, s) => {
    depth.set(v.depth, s * HW);
    extrinsics.set(v.extrinsic, 12 * s);
    for (let p = 0; p < HW; p++) {
      if (!(v.depth[p] > 0)) continue;
      points.set(sc.points.subarray(3 * k, 3 * k + 3), 3 * (s * HW + p));
      k++;
    }
  });
  return {
    images: sc.views.map((v) => ({ width, height, data: v.rgba })),
    gt: { S: views, H: height, W: width, depth, points, extrinsics },
  };
}

/** A prediction's distance to the GT (see {@link scoreAgainstGt}). */
export interface GtScore {
  /** Symmetric Chamfer distance (mean of accuracy and completeness), in units of the GT scene's mean point distance from its centroid. */
  chamfer: number;
  /** Depth AbsRel, per-frame median-scaled, mean over frames. */
  depthAbsRel: number;
  /** GT world → prediction frame (to draw the GT next to the prediction). */
  gtToPred: Similarity;
}

/** Deterministic stride subsample of pixel indices to at most `max`. */
function strided(idx: number[], max: number): number[] {
  if (idx.length <= max) return idx;
  const step = idx.length / max;
  return Array.from({ length: max }, (_, i) => idx[Math.floor(i * step)]);
}

/**
 * Score a prediction against the sample scene's GT. The prediction is aligned to the GT with the similarity
 * (Umeyama) that best maps its world points onto the GT points of the same pixels: every pixel is a
 * correspondence here, which pins the alignment far better than 3 camera centres. Null when the prediction is not
 * on the GT's grid (other images or another size) or has no finite points.
 *
 * @example
 * const s = scoreAgainstGt(result, gt); // { chamfer, depthAbsRel, gtToPred }
 */
export function scoreAgainstGt(
  r: { S: number; H: number; W: number; worldPoints: Float32Array | null; depth: Float32Array | null },
  gt: DemoGroundTruth,
  maxPoints = 4000,
): GtScore | null {
  if (r.S !== gt.S || r.H !== gt.H || r.W !== gt.W || !r.worldPoints || !r.depth) return null;
  const wp = r.worldPoints;
  const both: number[] = [];
  const gtOnly: number[] = [];
  for (let i = 0; i < gt.S * gt.H * gt.W; i++) {
    if (!(gt.depth[i] > 0)) continue;
    gtOnly.push(i);
    if (Number.isFinite(wp[3 * i] + wp[3 * i + 1] + wp[3 * i + 2])) both.push(i);
  }
  if (both.length < 3) return null;
  const gather = (src: Float32Array, idx: number[]) => {
    const out = new Float64Array(3 * idx.length);
    idx.forEach((p, j) => {
      out[3 * j] = src[3 * p];
      out[3 * j + 1] = src[3 * p + 1];
      out[3 * j + 2] = src[3 * p + 2];
    });
    return out;
  };
  const pairs = strided(both, maxPoints);
  const H = umeyama(gather(wp, pairs), gather(gt.points, pairs));
  const gtCloud = gather(gt.points, strided(gtOnly, maxPoints));
  // Scene unit: mean distance of the GT cloud from its centroid (the calibration errors' normalisation).
  const c = [0, 1, 2].map(
    (a) => gtCloud.reduce((acc, v, i) => (i % 3 === a ? acc + v : acc), 0) / (gtCloud.length / 3),
  );
  let unit = 0;
  for (let i = 0; i < gtCloud.length; i += 3)
    unit += Math.hypot(gtCloud[i] - c[0], gtCloud[i + 1] - c[1], gtCloud[i + 2] - c[2]);
  unit /= gtCloud.length / 3;
  const pred = applySimilarity(H, gather(wp, strided(both, maxPoints)));
  const chamfer = pointCloudMetrics(pred, gtCloud, 0.05 * unit).chamfer / unit;
  const HW = gt.H * gt.W;
  let sum = 0,
    n = 0;
  for (let s = 0; s < gt.S; s++) {
    try {
      sum += depthMetrics(r.depth.subarray(s * HW, (s + 1) * HW), gt.depth.subarray(s * HW, (s + 1) * HW), {
        medianScaling: true,
      }).absRel;
      n++;
    } catch (e) {
      if (!(e instanceof HessError)) throw e; // a view without valid GT pixels
    }
  }
  return { chamfer, depthAbsRel: n ? sum / n : NaN, gtToPred: invertSimilarity(H) };
}
