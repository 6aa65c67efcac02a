/**
 * File-system reader and writer of the calibration folder format (Node, Deno and Bun; `node:fs/promises` is
 * imported dynamically so that bundles for browsers never load it).
 */
import { HessError, throwIfAborted } from '../../errors.js';
import {
  datasetError,
  encodeDepthBin,
  encodePointsBin,
  extensionOf,
  IMAGE_EXTENSIONS,
  parseDepthBin,
  parsePoints,
  validateCameras,
  type CalibrationScene,
  type CalibrationView,
  type CamerasFile,
  type DepthMap,
} from './format.js';
import { encodePlyPoints } from './ply.js';
import { IMAGE_HEADER_BYTES, readImageSize } from '../../model/image/image-header.js';
import { checkPlainName } from './format.js';
import { AtomicBatch } from '../../io/atomic-write.js';
import { resolveInside } from '../../io/paths.js';

type Fs = typeof import('node:fs/promises');

/** The module name is held in a variable so that browser bundlers do not try to resolve it. */
const FS_MODULE = 'node:fs/promises';

async function loadFs(): Promise<Fs> {
  try {
    return (await import(/* @vite-ignore */ FS_MODULE)) as Fs;
  } catch (e) {
    throw new HessError(
      'IO_ERROR',
      'node:fs/promises is not available in this runtime',
      'read calibration folders from Node, Deno or Bun',
      { cause: e },
    );
  }
}

/** Join path segments with `/` (accepted by Node, Deno and Bun on every OS). */
export function joinPath(...parts: string[]): string {
  return parts
    .filter((p) => p.length > 0)
    .map((p, i) => (i === 0 ? p.replace(/[/\\]+$/, '') || '/' : p.replace(/^[/\\]+|[/\\]+$/g, '')))
    .join('/')
    .replace(/^\/\//, '/');
}

function code(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

/** Entries of a directory, or `undefined` when it does not exist. */
async function listDir(fs: Fs, dir: string): Promise<{ name: string; dir: boolean; file: boolean }[] | undefined> {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries
      .map((d) => ({ name: d.name, dir: d.isDirectory(), file: d.isFile() }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (e) {
    if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return undefined;
    throw new HessError('IO_ERROR', `cannot list ${dir}: ${String(e)}`, '', { cause: e });
  }
}

async function readBytes(fs: Fs, path: string): Promise<Uint8Array> {
  try {
    const b = await fs.readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new HessError('IO_ERROR', `cannot read ${path}: ${String(e)}`, '', { cause: e });
  }
}

/** The first {@link IMAGE_HEADER_BYTES} of a file (enough for its image size). */
async function readHead(fs: Fs, path: string): Promise<Uint8Array> {
  let fh: Awaited<ReturnType<Fs['open']>> | undefined;
  try {
    fh = await fs.open(path, 'r');
    const buf = new Uint8Array(IMAGE_HEADER_BYTES);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } catch (e) {
    throw new HessError('IO_ERROR', `cannot read ${path}: ${String(e)}`, '', { cause: e });
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** Options of {@link readCalibrationScenes}. */
export interface ReadScenesOptions {
  /** Read only the first `maxScenes` scenes (by sorted folder name). */
  maxScenes?: number;
  /** Read depth maps (default true). With `false`, `depth/` is not opened at all. */
  loadDepth?: boolean;
  signal?: AbortSignal;
}

/**
 * Read and validate every scene folder `<root>/<scene>/` (sorted by name, hidden folders skipped). Returns
 * cameras, image file paths (images are not decoded), the GT point cloud and/or depth maps. Throws
 * BAD_DATASET naming the scene and the file for any inconsistency (see README.md), IO_ERROR when the root
 * cannot be read.
 *
 * @example
 * const scenes = await readCalibrationScenes('./calib', { maxScenes: 8 });
 * for (const s of scenes) console.log(s.name, s.views.length, s.points?.length);
 */
export async function readCalibrationScenes(root: string, opts: ReadScenesOptions = {}): Promise<CalibrationScene[]> {
  const { maxScenes, loadDepth = true, signal } = opts;
  if (maxScenes !== undefined && !(Number.isInteger(maxScenes) && maxScenes >= 1)) {
    throw new HessError('INVALID_ARGUMENT', `maxScenes must be a positive integer, got ${maxScenes}`);
  }
  const fs = await loadFs();
  const entries = await listDir(fs, root);
  if (!entries) throw new HessError('IO_ERROR', `calibration root ${root} does not exist or is not a folder`);
  let names = entries.filter((e) => e.dir && !e.name.startsWith('.')).map((e) => e.name);
  if (names.length === 0)
    throw new HessError(
      'BAD_DATASET',
      `calibration root ${root} has no scene folders`,
      'lay scenes out as <root>/<scene>/',
    );
  if (maxScenes !== undefined) names = names.slice(0, maxScenes);
  const scenes: CalibrationScene[] = [];
  for (const name of names) {
    throwIfAborted(signal);
    scenes.push(await readScene(fs, root, name, loadDepth));
  }
  return scenes;
}

async function readScene(fs: Fs, root: string, scene: string, loadDepth: boolean): Promise<CalibrationScene> {
  const dir = joinPath(root, scene);
  const files = (await listDir(fs, dir)) ?? [];
  const has = (n: string, kind: 'dir' | 'file') => files.some((f) => f.name === n && f[kind]);

  if (!has('cameras.json', 'file')) throw datasetError(scene, 'cameras.json', 'missing');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(await readBytes(fs, joinPath(dir, 'cameras.json'))));
  } catch (e) {
    if (e instanceof HessError) throw e;
    throw datasetError(scene, 'cameras.json', `invalid JSON: ${(e as Error).message}`);
  }
  const parsed = validateCameras(json, scene);

  const imageFiles = (await listDir(fs, joinPath(dir, 'images')))
    ?.filter((f) => f.file && IMAGE_EXTENSIONS.includes(extensionOf(f.name)))
    .map((f) => f.name);
  if (!imageFiles) throw datasetError(scene, 'images/', 'missing images folder');
  const present = new Set(imageFiles);
  const listed = new Set(parsed.map((v) => v.image));
  for (const v of parsed) {
    if (!present.has(v.image)) throw datasetError(scene, `images/${v.image}`, `missing image of view "${v.name}"`);
  }
  for (const f of imageFiles) {
    if (!listed.has(f)) throw datasetError(scene, `images/${f}`, 'image has no view in cameras.json (missing view)');
  }

  const views: CalibrationView[] = parsed.map((v) => ({ ...v, imagePath: joinPath(dir, 'images', v.image) }));
  for (const v of views) {
    // The header's size, when it has one (an unreadable image fails later, at decoding, as BAD_IMAGE).
    const size = readImageSize(await readHead(fs, v.imagePath));
    if (size && (size.width !== v.width || size.height !== v.height)) {
      throw datasetError(
        scene,
        `images/${v.image}`,
        `the image is ${size.width}×${size.height} but cameras.json says ${v.width}×${v.height} for view "${v.name}"`,
        'fix width/height in cameras.json (they set the pixel scale of the intrinsics)',
      );
    }
  }

  const bin = has('points.bin', 'file');
  const ply = has('points.ply', 'file');
  if (bin && ply) throw datasetError(scene, 'points.bin', 'both points.bin and points.ply exist; keep one');
  let points: Float32Array | undefined;
  if (bin || ply) {
    const file = bin ? 'points.bin' : 'points.ply';
    points = parsePoints(await readBytes(fs, joinPath(dir, file)), scene, file);
  }

  const hasDepth = has('depth', 'dir');
  if (!points && !hasDepth) {
    throw datasetError(scene, 'points.bin', 'no ground truth: add points.bin, points.ply or a depth/ folder');
  }
  if (hasDepth && loadDepth) {
    const depthFiles = ((await listDir(fs, joinPath(dir, 'depth'))) ?? []).filter(
      (f) => f.file && !f.name.startsWith('.'),
    );
    const names = new Set(views.map((v) => `${v.name}.bin`));
    for (const f of depthFiles) {
      if (!names.has(f.name))
        throw datasetError(scene, `depth/${f.name}`, 'depth map has no view in cameras.json (missing view)');
    }
    const found = new Set(depthFiles.map((f) => f.name));
    for (const v of views) {
      const file = `depth/${v.name}.bin`;
      if (!found.has(`${v.name}.bin`)) throw datasetError(scene, file, `missing depth map of view "${v.name}"`);
      v.depth = parseDepthBin(await readBytes(fs, joinPath(dir, file)), scene, file, v);
    }
  }
  return points ? { name: scene, dir, views, points } : { name: scene, dir, views };
}

/** What {@link writeCalibrationScene} writes. */
export interface SceneToWrite {
  cameras: CamerasFile;
  /** Images to place in `images/`: copied from `source` or written from `bytes`, under `name`. */
  images: { name: string; source?: string; bytes?: Uint8Array }[];
  /** GT point cloud (flat xyz). */
  points?: ArrayLike<number>;
  /** `bin` (default) → points.bin, `ply` → binary little-endian points.ply. */
  pointsFormat?: 'bin' | 'ply';
  /** Depth maps by view name → `depth/<name>.bin`. */
  depth?: Record<string, DepthMap>;
}

/**
 * Write one scene in the calibration folder format (creating `<root>/<scene>/`). The scene, image and depth names
 * must be plain names (BAD_DATASET otherwise: they come from data and must not lead outside `root`); every file
 * is written to a temporary first and all are renamed together, so a failure leaves no half-written scene file.
 * Does not validate the contents; read it back with {@link readCalibrationScenes} to check.
 *
 * @example
 * const { cameras, images, points } = co3dToCalibration(frames, { pointCloud });
 * await writeCalibrationScene('./calib', 'apple_110', { cameras, images: images.map((i) => ({ name: i.target, source: co3dRoot + '/' + i.source })), points });
 */
export async function writeCalibrationScene(root: string, scene: string, data: SceneToWrite): Promise<string> {
  checkPlainName(scene, 'scene name');
  for (const img of data.images) {
    checkPlainName(img.name, `scene "${scene}": image name`);
    if (!img.bytes && !img.source) throw new HessError('INVALID_ARGUMENT', `image ${img.name} needs source or bytes`);
  }
  for (const name of Object.keys(data.depth ?? {})) checkPlainName(name, `scene "${scene}": depth view name`);
  const dir = joinPath(root, scene);
  await resolveInside(root, [scene], 'scene name'); // belt and braces: the joined path stays under root
  const batch = await AtomicBatch.create();
  try {
    await batch.mkdir(joinPath(dir, 'images'));
    await batch.write(joinPath(dir, 'cameras.json'), JSON.stringify(data.cameras, null, 1));
    for (const img of data.images) {
      const target = joinPath(dir, 'images', img.name);
      if (img.bytes) await batch.write(target, img.bytes);
      else await batch.copy(img.source!, target);
    }
    if (data.points) {
      const ply = data.pointsFormat === 'ply';
      await batch.write(
        joinPath(dir, ply ? 'points.ply' : 'points.bin'),
        ply ? encodePlyPoints(data.points) : encodePointsBin(data.points),
      );
    }
    if (data.depth) {
      await batch.mkdir(joinPath(dir, 'depth'));
      for (const [name, d] of Object.entries(data.depth))
        await batch.write(joinPath(dir, 'depth', `${name}.bin`), encodeDepthBin(d));
    }
    await batch.commit();
  } catch (e) {
    await batch.abort();
    throw e;
  }
  return dir;
}
