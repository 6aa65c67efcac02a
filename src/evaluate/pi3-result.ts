/**
 * π³'s outputs in {@link VggtResult}'s form, so that evaluation, PLY and camera export treat both models alike and
 * `eval` reports the same metrics for both:
 * - extrinsics: camera-from-world `[R | t]` = the inverse of π³'s camera-to-world poses (OpenCV, like VGGT's);
 * - depth: the local points' z (π³'s depth along the optical axis);
 * - confidence: `1 + exp(logit)`, the form of VGGT's confidences (π³ returns raw logits), for depth and points;
 * - intrinsics: π³ predicts none; a pinhole with the principal point at the image centre and the focal lengths
 *   fitted by least squares to the local points' `x/z`, `y/z` against the pixel centres (per frame);
 * - poseEnc: none.
 */
import type { Pi3Result } from '../model/pi3/model.js';
import type { VggtResult } from '../model/vggt/model.js';

/** A π³ result or a VGGT result, as what the harness and the exports read. */
export function asVggtResult(r: Pi3Result | VggtResult): VggtResult {
  return 'cameraPoses' in r ? pi3AsVggtResult(r) : r;
}

/**
 * π³'s result in VGGT's form (see the module doc).
 *
 * @example
 * const v = pi3AsVggtResult(await pi3.run(images)); // v.extrinsics, v.depth, v.worldPoints, v.intrinsics
 */
export function pi3AsVggtResult(r: Pi3Result): VggtResult {
  const { S, H, W } = r;
  const HW = H * W;
  const extrinsics = new Float64Array(12 * S);
  for (let s = 0; s < S; s++) {
    const P = r.cameraPoses.subarray(16 * s, 16 * s + 16);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) extrinsics[12 * s + 4 * i + j] = P[4 * j + i]!; // Rᵀ
      extrinsics[12 * s + 4 * i + 3] = -(P[i]! * P[3]! + P[4 + i]! * P[7]! + P[8 + i]! * P[11]!); // −Rᵀ t
    }
  }
  const depth = new Float32Array(S * HW);
  for (let i = 0; i < S * HW; i++) depth[i] = r.localPoints[3 * i + 2]!;
  const conf = Float32Array.from(r.conf, (x) => 1 + Math.exp(x));
  const intrinsics = new Float64Array(9 * S);
  const cx = W / 2,
    cy = H / 2;
  for (let s = 0; s < S; s++) {
    // x/z = (u − cx)/fx  ⇒  fx = Σ (u − cx)² / Σ (u − cx)(x/z), pixel centres u = col + 0.5
    let nu = 0,
      du = 0,
      nv = 0,
      dv = 0;
    for (let p = 0; p < HW; p++) {
      const o = 3 * (s * HW + p);
      const z = r.localPoints[o + 2]!;
      if (!(z > 0)) continue;
      const a = r.localPoints[o]! / z,
        b = r.localPoints[o + 1]! / z;
      const u = (p % W) + 0.5 - cx,
        v = Math.floor(p / W) + 0.5 - cy;
      if (!Number.isFinite(a + b)) continue;
      nu += u * u;
      du += u * a;
      nv += v * v;
      dv += v * b;
    }
    const fx = du > 0 ? nu / du : Number.NaN;
    const fy = dv > 0 ? nv / dv : Number.NaN;
    intrinsics.set([fx, 0, cx, 0, fy, cy, 0, 0, 1], 9 * s);
  }
  return {
    S,
    H,
    W,
    poseEnc: null,
    extrinsics,
    intrinsics,
    depth,
    depthConf: conf,
    worldPoints: r.points,
    worldPointsConf: conf,
    timings: { aggregator: r.timings.trunk, heads: r.timings.heads, total: r.timings.total },
    sparsity: r.sparsity,
  };
}
