/**
 * CO3Dv2 → calibration folder adapter. Pure (no file access): feed it the frame annotations of one sequence
 * (`frame_annotations.jgz`, already gunzipped and JSON-parsed) and optionally that sequence's
 * `pointcloud.ply` points; write the result with `writeCalibrationScene`.
 *
 * Conventions converted (they match PyTorch3D's own `opencv_from_cameras_projection`):
 * - PyTorch3D cameras use row vectors, `X_cam = X_world · R + T`, with camera axes +X left, +Y up, +Z forward.
 *   OpenCV uses column vectors, `x_cam = R_cv · x + t_cv`, +X right, +Y down, +Z forward. Hence
 *   `R_cv = F · Rᵀ`, `t_cv = F · T` with `F = diag(−1, −1, 1)`. The world frame (and so the point cloud) is
 *   unchanged.
 * - Intrinsics are stored in NDC. With `(W, H)` the image size and `half = (W/2, H/2)`, the NDC→pixel scale is
 *   `k = min(W, H) / 2` for `ndc_isotropic` (CO3Dv2's files) and `k = half` per axis for
 *   `ndc_norm_image_bounds` (the annotation default when the field is absent). Then `f_px = f_ndc · k` and
 *   `c_px = half − p_ndc · k` (the minus sign is the X-left / Y-up flip of NDC). Pixel coordinates follow
 *   PyTorch3D's conversion: the image spans `[0, W] × [0, H]`, with no half-pixel shift.
 * - `image.size` in CO3D annotations is `[height, width]`.
 */
import { HessError } from '../../errors.js';
import { checkPlainName, type CamerasFile, type CamerasFileView } from './format.js';

/** The `viewpoint` of a CO3D frame annotation. */
export interface Co3dViewpoint {
  /** 3×3, right-multiply (PyTorch3D) convention. */
  R: number[][];
  T: number[];
  focal_length: number[];
  principal_point: number[];
  intrinsics_format?: 'ndc_isotropic' | 'ndc_norm_image_bounds' | string;
}

/** The fields of a CO3D `FrameAnnotation` that the adapter reads. */
export interface Co3dFrameAnnotation {
  sequence_name: string;
  frame_number: number;
  image: { path: string; size: number[] };
  viewpoint?: Co3dViewpoint;
}

/**
 * PyTorch3D `(R, T)` (row-vector world→view, X left, Y up) → OpenCV camera-from-world `[R | t]` (12 numbers,
 * row-major 3×4).
 * @example const extrinsic = pytorch3dToOpenCV(vp.R, vp.T);
 */
export function pytorch3dToOpenCV(R: ArrayLike<ArrayLike<number>>, T: ArrayLike<number>): Float64Array {
  const out = new Float64Array(12);
  for (let i = 0; i < 3; i++) {
    const f = i < 2 ? -1 : 1;
    for (let j = 0; j < 3; j++) out[4 * i + j] = f * R[j][i];
    out[4 * i + 3] = f * T[i];
  }
  return out;
}

/**
 * CO3D NDC focal length / principal point → OpenCV pixel intrinsics (9 numbers, row-major).
 * @example const K = co3dIntrinsicsToPixels(vp, width, height);
 */
export function co3dIntrinsicsToPixels(
  vp: Pick<Co3dViewpoint, 'focal_length' | 'principal_point' | 'intrinsics_format'>,
  width: number,
  height: number,
): Float64Array {
  const format = vp.intrinsics_format ?? 'ndc_norm_image_bounds';
  const hw = width / 2;
  const hh = height / 2;
  let kx: number;
  let ky: number;
  if (format === 'ndc_isotropic') kx = ky = Math.min(hw, hh);
  else if (format === 'ndc_norm_image_bounds') [kx, ky] = [hw, hh];
  else throw new HessError('BAD_DATASET', `unknown CO3D intrinsics_format "${format}"`);
  const [fx, fy] = vp.focal_length;
  const [px, py] = vp.principal_point;
  return Float64Array.of(fx * kx, 0, hw - px * kx, 0, fy * ky, hh - py * ky, 0, 0, 1);
}

const FIX = 'use the unmodified CO3Dv2 frame_annotations.jgz';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const numbers = (v: unknown, n: number) =>
  Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/**
 * A relative path read from an annotation (`image.path`): non-empty, not absolute, no `..` or `.` segment, no
 * NUL or backslash. The caller still resolves it against the root and checks it stays inside.
 */
export function checkRelativePath(p: unknown, what: string): string {
  const parts = typeof p === 'string' ? p.split('/') : [];
  if (
    typeof p !== 'string' ||
    p.length === 0 ||
    p.startsWith('/') ||
    /[\\\0]|^[A-Za-z]:/.test(p) ||
    parts.some((s) => s === '..' || s === '.' || s === '')
  ) {
    throw new HessError(
      'BAD_DATASET',
      `${what} ${JSON.stringify(p) ?? String(p)} is not a relative path inside the dataset`,
      FIX,
    );
  }
  return p;
}

/**
 * Validate one frame annotation (the fields the adapter reads): throws BAD_DATASET naming the frame instead of a
 * TypeError later. `sequence_name` must be a plain name (it becomes a folder name), `image.path` a relative path
 * without `..`.
 */
export function checkCo3dFrame(f: unknown, index: number): Co3dFrameAnnotation {
  const at = (msg: string) => new HessError('BAD_DATASET', `CO3D frame annotation ${index}: ${msg}`, FIX);
  if (!isObject(f)) throw at(`is ${f === null ? 'null' : Array.isArray(f) ? 'an array' : typeof f}, not an object`);
  checkPlainName(f.sequence_name, `CO3D frame annotation ${index}: sequence_name`);
  if (typeof f.frame_number !== 'number' || !Number.isFinite(f.frame_number)) throw at('frame_number must be a number');
  if (!isObject(f.image)) throw at('has no "image" object');
  checkRelativePath(f.image.path, `CO3D frame annotation ${index}: image.path`);
  const base = (f.image.path as string).split('/').pop()!;
  checkPlainName(base, `CO3D frame annotation ${index}: image file name`);
  if (!numbers(f.image.size, 2)) throw at('image.size must be [height, width]');
  if (f.viewpoint !== undefined && f.viewpoint !== null) {
    const vp = f.viewpoint;
    if (!isObject(vp)) throw at('viewpoint must be an object');
    if (!(Array.isArray(vp.R) && vp.R.length === 3 && vp.R.every((r) => numbers(r, 3))) || !numbers(vp.T, 3)) {
      throw at('viewpoint R must be 3×3 and T 3 numbers');
    }
    if (!numbers(vp.focal_length, 2) || !numbers(vp.principal_point, 2))
      throw at('viewpoint focal_length and principal_point must be 2 numbers each');
  }
  return f as unknown as Co3dFrameAnnotation;
}

/**
 * Validate the parsed `frame_annotations.jgz` of a category: an array of frame annotations (see
 * {@link checkCo3dFrame}). Throws BAD_DATASET for anything else (`{}`, `[null]`, a frame without `image`…).
 *
 * @example const frames = parseCo3dAnnotations(JSON.parse(gunzipSync(raw).toString()), 'apple/frame_annotations.jgz');
 */
export function parseCo3dAnnotations(json: unknown, file: string): Co3dFrameAnnotation[] {
  if (!Array.isArray(json))
    throw new HessError(
      'BAD_DATASET',
      `${file} holds ${json === null ? 'null' : typeof json}, not a list of frame annotations`,
      FIX,
    );
  try {
    return json.map((f, i) => checkCo3dFrame(f, i));
  } catch (e) {
    if (e instanceof HessError) throw new HessError(e.code, `${file}: ${e.message.replace(/ — .*$/, '')}`, e.fix);
    throw e;
  }
}

/** Output of {@link co3dToCalibration}. */
export interface Co3dConversion {
  sequenceName: string;
  /** Contents of `cameras.json`. */
  cameras: CamerasFile;
  /** Images to copy: `source` is the annotation's path (relative to the CO3D root), `target` the file name in `images/`. */
  images: { source: string; target: string }[];
  /** The sequence point cloud, passed through (same world frame). */
  points?: Float32Array;
}

function rows(a: Float64Array, r: number, c: number): number[][] {
  return Array.from({ length: r }, (_, i) => Array.from(a.subarray(c * i, c * i + c)));
}

/**
 * Convert one CO3Dv2 sequence to the calibration format. Frames are ordered by `frame_number`; frames without
 * a viewpoint are skipped. Throws BAD_DATASET on malformed annotations or frames of several sequences when
 * `sequenceName` is not given.
 *
 * @example
 * const frames = JSON.parse(gunzip(await readFile('apple/frame_annotations.jgz')));
 * const { cameras, images } = co3dToCalibration(frames, { sequenceName: '110_13051_23361', pointCloud });
 */
export function co3dToCalibration(
  frames: readonly Co3dFrameAnnotation[],
  opts: { sequenceName?: string; pointCloud?: Float32Array } = {},
): Co3dConversion {
  if (!Array.isArray(frames as unknown))
    throw new HessError('BAD_DATASET', 'CO3D annotations must be a list of frame annotations', FIX);
  frames.forEach((f, i) => checkCo3dFrame(f, i));
  const names = new Set(frames.map((f) => f.sequence_name));
  const sequenceName = opts.sequenceName ?? (names.size === 1 ? [...names][0] : undefined);
  if (sequenceName !== undefined) checkPlainName(sequenceName, 'CO3D sequence name');
  if (sequenceName === undefined) {
    throw new HessError('BAD_DATASET', `CO3D annotations hold ${names.size} sequences; pass sequenceName`);
  }
  const picked = frames
    .filter((f) => f.sequence_name === sequenceName && f.viewpoint)
    .sort((a, b) => a.frame_number - b.frame_number);
  if (picked.length === 0)
    throw new HessError('BAD_DATASET', `CO3D sequence "${sequenceName}" has no frame with a viewpoint`);
  const views: CamerasFileView[] = [];
  const images: Co3dConversion['images'] = [];
  const used = new Set<string>();
  for (const f of picked) {
    const vp = f.viewpoint!;
    const [height, width] = f.image.size;
    const where = `CO3D sequence "${sequenceName}" frame ${f.frame_number}`;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
      throw new HessError(
        'BAD_DATASET',
        `${where}: bad image.size ${JSON.stringify(f.image.size)} (expected [height, width])`,
      );
    }
    let base = f.image.path.split(/[/\\]/).pop() ?? '';
    if (used.has(base)) base = `${f.frame_number}_${base}`;
    used.add(base);
    const extrinsic = pytorch3dToOpenCV(vp.R, vp.T);
    const intrinsic = co3dIntrinsicsToPixels(vp, width, height);
    views.push({ image: base, width, height, extrinsic: rows(extrinsic, 3, 4), intrinsic: rows(intrinsic, 3, 3) });
    images.push({ source: f.image.path, target: base });
  }
  const out: Co3dConversion = { sequenceName, cameras: { version: 1, views }, images };
  if (opts.pointCloud) out.points = opts.pointCloud;
  return out;
}
