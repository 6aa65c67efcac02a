/**
 * The calibration folder format (see `README.md` beside this file): types, validation of `cameras.json`, and
 * decoders/encoders for `points.bin`, `points.ply` and `depth/<view>.bin`. Everything here is pure (bytes and
 * JSON in, typed arrays out) and runs in browsers too; the file-system reader is in `reader.ts`.
 */
import { HessError } from '../../errors.js';
import { det3, orthonormalityError } from '../geometry/mat3.js';
import { parsePlyPoints, PlyError } from './ply.js';

/** Image file extensions accepted in `images/` (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

/** Largest `|RᵀR − I|` entry accepted for an extrinsic rotation (allows float32-rounded exports). */
export const ROTATION_TOLERANCE = 1e-4;

/** Magic of a depth file: ASCII `HDEP`. */
export const DEPTH_MAGIC = 'HDEP';
/** Depth file header size in bytes (magic, version, width, height). */
export const DEPTH_HEADER_BYTES = 16;

/** One entry of `cameras.json` as written on disk. */
export interface CamerasFileView {
  /** View name (default: image file name without extension); names the depth file `depth/<name>.bin`. */
  name?: string;
  /** Image file name inside `images/`. */
  image: string;
  /** Image size in pixels. */
  width: number;
  height: number;
  /** Camera-from-world `[R | t]` (OpenCV: x right, y down, z forward), 3 rows of 4, or 12 numbers row-major. */
  extrinsic: number[][] | number[];
  /** Pixel intrinsics `[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`, or 9 numbers row-major. */
  intrinsic: number[][] | number[];
}

/** The whole `cameras.json`. */
export interface CamerasFile {
  version?: 1;
  views: CamerasFileView[];
}

/** A depth map: z-depth along the camera's optical axis, row-major `height × width`, 0 = no depth. */
export interface DepthMap {
  width: number;
  height: number;
  data: Float32Array;
}

/** A validated view. */
export interface CalibrationView {
  name: string;
  /** Image file name inside `images/`. */
  image: string;
  /** Path of the image file (`<root>/<scene>/images/<image>`); decoding is left to the caller. */
  imagePath: string;
  width: number;
  height: number;
  /** Camera-from-world 3×4, row-major (12 numbers), OpenCV convention. */
  extrinsic: Float64Array;
  /** 3×3 pixel intrinsics, row-major. */
  intrinsic: Float64Array;
  /** Ground-truth depth, when the scene has `depth/`. */
  depth?: DepthMap;
}

/** A validated scene. */
export interface CalibrationScene {
  name: string;
  /** `<root>/<scene>`. */
  dir: string;
  views: CalibrationView[];
  /** Ground-truth point cloud (flat float32 xyz), when the scene has `points.bin` or `points.ply`. */
  points?: Float32Array;
}

/**
 * The BAD_DATASET error for a problem in one file of one scene.
 * @example throw datasetError('chair_01', 'cameras.json', 'view 3: rotation is not orthonormal');
 */
export function datasetError(scene: string, file: string, message: string, fix = ''): HessError {
  return new HessError('BAD_DATASET', `scene "${scene}", file "${file}": ${message}`, fix);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Flatten `rows × cols` nested numbers (or an already-flat array) to float64, or return a reason. */
function matrix(v: unknown, rows: number, cols: number): Float64Array | string {
  let flat: unknown[];
  if (Array.isArray(v) && v.length === rows && v.every((r) => Array.isArray(r))) {
    if (!v.every((r) => (r as unknown[]).length === cols)) return `must be ${rows}×${cols}`;
    flat = (v as unknown[][]).flat();
  } else if (Array.isArray(v) && v.length === rows * cols) {
    flat = v;
  } else {
    return `must be ${rows}×${cols} (nested rows or ${rows * cols} numbers)`;
  }
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < flat.length; i++) {
    const x = flat[i];
    if (typeof x !== 'number')
      return `entry ${i} is ${x === null ? 'null (NaN/Infinity in JSON?)' : typeof x}, not a number`;
    if (!Number.isFinite(x)) return `entry ${i} is ${x}`;
    out[i] = x;
  }
  return out;
}

/** `name` is a plain file name (no directories, not `.`/`..`, no NUL). */
function plainName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

/**
 * A name read from data (scene, sequence, image or view name) that will become one path component: throws
 * BAD_DATASET unless it is a non-empty string without separators, NUL, `.` or `..`, so it can never point
 * outside the folder it is joined to.
 *
 * @example checkPlainName(annotation.sequence_name, 'CO3D sequence_name');
 */
export function checkPlainName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !plainName(name)) {
    throw new HessError(
      'BAD_DATASET',
      `${what} ${JSON.stringify(name) ?? String(name)} is not a plain name`,
      'names from data must be file names: no "/" or "\\", no "." or "..", no NUL, not empty',
    );
  }
  return name;
}

function stem(file: string): string {
  const dot = file.lastIndexOf('.');
  return dot > 0 ? file.slice(0, dot) : file;
}

/** Extension of a file name, lower case with the dot (`''` when none). */
export function extensionOf(file: string): string {
  const dot = file.lastIndexOf('.');
  return dot > 0 ? file.slice(dot).toLowerCase() : '';
}

/** A validated view before its paths and depth are attached. */
export type ParsedView = Omit<CalibrationView, 'imagePath' | 'depth'>;

/**
 * Validate the parsed JSON of a scene's `cameras.json`. Throws BAD_DATASET naming the scene, the file and the
 * view on: a missing or empty `views` list, bad image names or extensions, duplicate names or images,
 * non-integer sizes, wrong matrix shapes, NaN/Inf (`null` in JSON), non-orthonormal or reflected rotations,
 * and intrinsics that are not upper-triangular with positive focal lengths.
 *
 * @example const views = validateCameras(JSON.parse(text), 'chair_01');
 */
export function validateCameras(json: unknown, scene: string, file = 'cameras.json'): ParsedView[] {
  const fail = (msg: string) => datasetError(scene, file, msg);
  if (!isObject(json) || !Array.isArray(json.views)) throw fail('expected an object with a "views" array');
  if (json.version !== undefined && json.version !== 1)
    throw fail(`unsupported version ${String(json.version)} (expected 1)`);
  if (json.views.length === 0) throw fail('"views" is empty');
  const names = new Set<string>();
  const images = new Set<string>();
  return json.views.map((raw, i): ParsedView => {
    const at = (msg: string) => fail(`view ${i}: ${msg}`);
    if (!isObject(raw)) throw at('not an object');
    const image = raw.image;
    if (typeof image !== 'string' || !plainName(image)) throw at('"image" must be a file name inside images/');
    if (!IMAGE_EXTENSIONS.includes(extensionOf(image)))
      throw at(`image "${image}" is not ${IMAGE_EXTENSIONS.join('/')}`);
    if (images.has(image)) throw at(`image "${image}" is listed twice`);
    images.add(image);
    const name = raw.name === undefined ? stem(image) : raw.name;
    if (typeof name !== 'string' || !plainName(name)) throw at('"name" must be a plain file-name-safe string');
    if (names.has(name)) throw at(`duplicate view name "${name}"`);
    names.add(name);
    const width = raw.width;
    const height = raw.height;
    for (const [k, v] of [
      ['width', width],
      ['height', height],
    ] as const) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
        throw at(`"${k}" must be a positive integer, got ${String(v)}`);
    }
    const extrinsic = matrix(raw.extrinsic, 3, 4);
    if (typeof extrinsic === 'string') throw at(`"extrinsic" ${extrinsic}`);
    const R = [0, 1, 2, 4, 5, 6, 8, 9, 10].map((k) => extrinsic[k]);
    const orth = orthonormalityError(R);
    if (!(orth <= ROTATION_TOLERANCE))
      throw at(`extrinsic rotation is not orthonormal (max |RᵀR − I| = ${orth.toExponential(2)})`);
    if (det3(R) < 0) throw at('extrinsic rotation has det −1 (a reflection, not a rotation)');
    const intrinsic = matrix(raw.intrinsic, 3, 3);
    if (typeof intrinsic === 'string') throw at(`"intrinsic" ${intrinsic}`);
    if (!(intrinsic[0] > 0 && intrinsic[4] > 0)) throw at('intrinsic focal lengths fx, fy must be > 0');
    const tri = [intrinsic[3], intrinsic[6], intrinsic[7], intrinsic[8] - 1];
    if (tri.some((x) => Math.abs(x) > 1e-9)) throw at('intrinsic must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]]');
    return { name, image, width: width as number, height: height as number, extrinsic, intrinsic };
  });
}

/** Copy `count` little-endian float32 values starting at byte `offset` (fast path on little-endian hosts). */
function readF32LE(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const start = bytes.byteOffset + offset;
  if (LITTLE_ENDIAN && start % 4 === 0) {
    out.set(new Float32Array(bytes.buffer, start, count));
  } else {
    const view = new DataView(bytes.buffer, start, count * 4);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/**
 * Decode and validate a point cloud file: `points.bin` (raw little-endian float32 xyz, no header) or
 * `points.ply` (see {@link parsePlyPoints}). Throws BAD_DATASET on a bad length, zero points or NaN/Inf.
 *
 * @example const xyz = parsePoints(bytes, 'chair_01', 'points.bin');
 */
export function parsePoints(bytes: Uint8Array, scene: string, file: 'points.bin' | 'points.ply'): Float32Array {
  let xyz: Float32Array;
  if (file === 'points.ply') {
    try {
      xyz = parsePlyPoints(bytes);
    } catch (e) {
      if (e instanceof PlyError) throw datasetError(scene, file, e.message);
      throw e;
    }
  } else {
    if (bytes.byteLength % 12 !== 0) {
      throw datasetError(
        scene,
        file,
        `size ${bytes.byteLength} bytes is not a multiple of 12 (float32 x, y, z per point)`,
      );
    }
    xyz = readF32LE(bytes, 0, bytes.byteLength / 4);
  }
  if (xyz.length === 0) throw datasetError(scene, file, 'the point cloud is empty');
  const bad = firstNonFinite(xyz);
  if (bad >= 0)
    throw datasetError(scene, file, `point ${Math.floor(bad / 3)} has a non-finite coordinate (${xyz[bad]})`);
  return xyz;
}

/**
 * Encode flat xyz as `points.bin` (little-endian float32, no header).
 * @example await fs.writeFile('points.bin', encodePointsBin(xyz));
 */
export function encodePointsBin(xyz: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 * xyz.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < xyz.length; i++) view.setFloat32(4 * i, xyz[i], true);
  return out;
}

/**
 * Decode and validate `depth/<view>.bin`: 16-byte header (ASCII `HDEP`, uint32 LE version = 1, uint32 LE width,
 * uint32 LE height) then `width × height` little-endian float32 depths, row-major. 0 marks a pixel without
 * depth; negative, NaN or infinite values are errors. When `expect` is given, the size must match the view.
 *
 * @example const depth = parseDepthBin(bytes, 'chair_01', 'depth/000.bin', { width: 640, height: 480 });
 */
export function parseDepthBin(
  bytes: Uint8Array,
  scene: string,
  file: string,
  expect?: { width: number; height: number },
): DepthMap {
  const fail = (msg: string) => datasetError(scene, file, msg);
  if (bytes.byteLength < DEPTH_HEADER_BYTES) throw fail('shorter than the 16-byte depth header');
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== DEPTH_MAGIC) throw fail(`bad magic "${magic}" (expected "${DEPTH_MAGIC}")`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== 1) throw fail(`unsupported depth version ${version}`);
  const width = view.getUint32(8, true);
  const height = view.getUint32(12, true);
  if (width === 0 || height === 0) throw fail(`empty depth map ${width}×${height}`);
  const need = DEPTH_HEADER_BYTES + 4 * width * height;
  if (bytes.byteLength !== need) throw fail(`size ${bytes.byteLength} bytes, expected ${need} for ${width}×${height}`);
  if (expect && (expect.width !== width || expect.height !== height)) {
    throw fail(`depth map is ${width}×${height} but the view's image is ${expect.width}×${expect.height}`);
  }
  const data = readF32LE(bytes, DEPTH_HEADER_BYTES, width * height);
  for (let i = 0; i < data.length; i++) {
    const d = data[i];
    if (!Number.isFinite(d) || d < 0)
      throw fail(`pixel (${i % width}, ${Math.floor(i / width)}) has depth ${d}; use 0 for "no depth"`);
  }
  return { width, height, data };
}

/**
 * Encode a depth map as `depth/<view>.bin` (layout in {@link parseDepthBin}).
 * @example await fs.writeFile('depth/000.bin', encodeDepthBin({ width, height, data }));
 */
export function encodeDepthBin(depth: DepthMap): Uint8Array {
  const { width, height, data } = depth;
  if (data.length !== width * height) {
    throw new HessError('SHAPE_MISMATCH', `depth data has ${data.length} values for ${width}×${height}`);
  }
  const out = new Uint8Array(DEPTH_HEADER_BYTES + 4 * data.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = DEPTH_MAGIC.charCodeAt(i);
  view.setUint32(4, 1, true);
  view.setUint32(8, width, true);
  view.setUint32(12, height, true);
  for (let i = 0; i < data.length; i++) view.setFloat32(DEPTH_HEADER_BYTES + 4 * i, data[i], true);
  return out;
}

/**
 * World points of every pixel with depth > 0 (pixel centres at integer coordinates, OpenCV):
 * `X = Rᵀ (d · K⁻¹ [u, v, 1]ᵀ − t)`. Returns flat float32 xyz in row-major pixel order.
 *
 * @example const gtCloud = depthMapToPoints(view.depth!, view.intrinsic, view.extrinsic);
 */
export function depthMapToPoints(
  depth: DepthMap,
  intrinsic: ArrayLike<number>,
  extrinsic: ArrayLike<number>,
): Float32Array {
  const { width, height, data } = depth;
  const [fx, s, cx, , fy, cy] = [intrinsic[0], intrinsic[1], intrinsic[2], intrinsic[3], intrinsic[4], intrinsic[5]];
  const e = extrinsic;
  let valid = 0;
  for (let i = 0; i < data.length; i++) if (data[i] > 0) valid++;
  const out = new Float32Array(3 * valid);
  let k = 0;
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const d = data[v * width + u];
      if (!(d > 0)) continue;
      const yc = ((v - cy) / fy) * d;
      const xc = ((u - cx - s * (yc / d)) / fx) * d;
      const p = [xc - e[3], yc - e[7], d - e[11]];
      out[k++] = e[0] * p[0] + e[4] * p[1] + e[8] * p[2];
      out[k++] = e[1] * p[0] + e[5] * p[1] + e[9] * p[2];
      out[k++] = e[2] * p[0] + e[6] * p[1] + e[10] * p[2];
    }
  }
  return out;
}
