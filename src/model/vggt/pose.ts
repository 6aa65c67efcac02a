/**
 * VGGT pose encoding (`absT_quaR_FoV`) → cameras, and depth → world points. Pure float64 TypeScript, following
 * upstream `vggt/utils/pose_enc.py`, `rotation.py` and `geometry.py`.
 *
 * Conventions: extrinsics are OpenCV camera-from-world `[R | t]` (world = the first camera's frame);
 * the quaternion is XYZW (scalar last) and need not be unit length; FoV in radians; intrinsics use the
 * preprocessed image size (principal point at the image centre, no skew).
 */
import { HessError, check } from '../../errors.js';

/** Cameras decoded from a pose encoding. */
export interface Cameras {
  /** `[S, 3, 4]` camera-from-world, row-major. */
  extrinsics: Float64Array;
  /** `[S, 3, 3]`, row-major. */
  intrinsics: Float64Array;
}

/**
 * Rotation matrix (row-major 3×3) of an XYZW quaternion, scaled by `2/Σq²` so a non-unit quaternion gives the
 * rotation of its normalised version (upstream `quat_to_mat`).
 *
 * @example
 * quatToMat([0, 0, Math.SQRT1_2, Math.SQRT1_2]); // 90° about z: [0,-1,0, 1,0,0, 0,0,1]
 */
export function quatToMat(q: ArrayLike<number>, out = new Float64Array(9), offset = 0): Float64Array {
  const i = q[0]!,
    j = q[1]!,
    k = q[2]!,
    r = q[3]!;
  const n2 = i * i + j * j + k * k + r * r;
  if (!(n2 > 0) || !Number.isFinite(n2)) {
    throw new HessError(
      'INVALID_ARGUMENT',
      `quaternion [${Array.from(q).join(', ')}] has no direction`,
      'pass a finite, non-zero quaternion (XYZW)',
    );
  }
  const s = 2 / n2;
  out.set(
    [
      1 - s * (j * j + k * k),
      s * (i * j - k * r),
      s * (i * k + j * r),
      s * (i * j + k * r),
      1 - s * (i * i + k * k),
      s * (j * k - i * r),
      s * (i * k - j * r),
      s * (j * k + i * r),
      1 - s * (i * i + j * j),
    ],
    offset,
  );
  return out;
}

/**
 * Pose encodings `[S, 9]` (`[tx, ty, tz, qx, qy, qz, qw, fov_h, fov_w]`) → extrinsics `[S,3,4]` and intrinsics
 * `[S,3,3]` for a preprocessed image of H×W (`fy = (H/2)/tan(fov_h/2)`, `fx = (W/2)/tan(fov_w/2)`).
 *
 * @example
 * const { extrinsics, intrinsics } = poseEncodingToExtriIntri(poseEnc, S, 350, 518);
 */
export function poseEncodingToExtriIntri(poseEnc: ArrayLike<number>, S: number, H: number, W: number): Cameras {
  check(Number.isInteger(S) && S >= 1, `S must be a positive integer, got ${S}`);
  check(
    H > 0 && W > 0,
    `image size must be positive, got ${H}×${W}`,
    'pass the preprocessed image size (e.g. 350×518)',
  );
  if (poseEnc.length !== S * 9) {
    throw new HessError(
      'SHAPE_MISMATCH',
      `pose encoding has ${poseEnc.length} values, expected S·9 = ${S * 9}`,
      'pass the camera head output [S, 9] (absT_quaR_FoV)',
    );
  }
  const extrinsics = new Float64Array(S * 12);
  const intrinsics = new Float64Array(S * 9);
  const R = new Float64Array(9);
  for (let s = 0; s < S; s++) {
    const p = (k: number) => poseEnc[s * 9 + k]!;
    quatToMat([p(3), p(4), p(5), p(6)], R);
    for (let r = 0; r < 3; r++) {
      extrinsics.set(R.subarray(r * 3, r * 3 + 3), s * 12 + r * 4);
      extrinsics[s * 12 + r * 4 + 3] = p(r);
    }
    const fy = H / 2 / Math.tan(p(7) / 2);
    const fx = W / 2 / Math.tan(p(8) / 2);
    intrinsics.set([fx, 0, W / 2, 0, fy, H / 2, 0, 0, 1], s * 9);
  }
  return { extrinsics, intrinsics };
}

/**
 * Unproject depth maps `[S, H, W]` (or `[S,H,W,1]`) to world points `[S, H, W, 3]`: pixel (u, v) (integer
 * indices from 0) → camera `((u−cx)·d/fx, (v−cy)·d/fy, d)` → world `Rᵀ(cam − t)`.
 *
 * @example
 * const pts = unprojectDepth(depth, extrinsics, intrinsics, S, H, W); // Float32Array [S, H, W, 3]
 */
export function unprojectDepth(
  depth: ArrayLike<number>,
  extrinsics: ArrayLike<number>,
  intrinsics: ArrayLike<number>,
  S: number,
  H: number,
  W: number,
): Float32Array {
  check(
    Number.isInteger(S) && S >= 1 && Number.isInteger(H) && H >= 1 && Number.isInteger(W) && W >= 1,
    `S, H, W must be positive integers, got ${S}, ${H}, ${W}`,
  );
  const shapes: Array<[ArrayLike<number>, number, string]> = [
    [depth, S * H * W, `depth [S=${S}, H=${H}, W=${W}]`],
    [extrinsics, S * 12, 'extrinsics [S, 3, 4]'],
    [intrinsics, S * 9, 'intrinsics [S, 3, 3]'],
  ];
  for (const [a, n, what] of shapes) {
    if (a.length !== n)
      throw new HessError('SHAPE_MISMATCH', `${what} has ${a.length} values, expected ${n}`, `pass ${what}, row-major`);
  }
  const out = new Float32Array(S * H * W * 3);
  for (let s = 0; s < S; s++) {
    const E = (r: number, c: number) => extrinsics[s * 12 + r * 4 + c]!;
    const fx = intrinsics[s * 9]!,
      cx = intrinsics[s * 9 + 2]!,
      fy = intrinsics[s * 9 + 4]!,
      cy = intrinsics[s * 9 + 5]!;
    for (let v = 0; v < H; v++) {
      for (let u = 0; u < W; u++) {
        const pix = (s * H + v) * W + u;
        const d = depth[pix]!;
        const c = [((u - cx) * d) / fx - E(0, 3), ((v - cy) * d) / fy - E(1, 3), d - E(2, 3)];
        for (let r = 0; r < 3; r++) out[pix * 3 + r] = E(0, r) * c[0]! + E(1, r) * c[1]! + E(2, r) * c[2]!; // Rᵀ row r = R column r
      }
    }
  }
  return out;
}
