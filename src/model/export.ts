import { check } from '../errors.js';
import type { VggtResult } from './vggt/model.js';

/**
 * A binary little-endian PLY of the points whose confidence is at least `minConf`, coloured from the
 * preprocessed images (`[S, 3, H, W]` in [0, 1]) when given.
 *
 * @example
 * writeFileSync('scene.ply', pointCloudPly(result, { images: pre.data, minConf: 1.5 }));
 */
export function pointCloudPly(
  r: VggtResult,
  opts: { images?: Float32Array; minConf?: number; useDepth?: boolean } = {},
): Uint8Array {
  const pts = r.worldPoints;
  const conf = r.worldPointsConf;
  check(pts && conf, 'the result has no world points (load the model with its point head)');
  const { S, H, W } = r;
  const n = S * H * W;
  const minConf = opts.minConf ?? 0;
  let kept = 0;
  for (let i = 0; i < n; i++)
    if (conf[i] >= minConf && Number.isFinite(pts[3 * i] + pts[3 * i + 1] + pts[3 * i + 2])) kept++;
  const header = new TextEncoder().encode(
    `ply\nformat binary_little_endian 1.0\ncomment hess-vggt\nelement vertex ${kept}\n` +
      'property float x\nproperty float y\nproperty float z\nproperty uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n',
  );
  const out = new Uint8Array(header.length + kept * 15);
  out.set(header);
  const dv = new DataView(out.buffer);
  let o = header.length;
  const img = opts.images;
  for (let i = 0; i < n; i++) {
    if (!(conf[i] >= minConf && Number.isFinite(pts[3 * i] + pts[3 * i + 1] + pts[3 * i + 2]))) continue;
    dv.setFloat32(o, pts[3 * i], true);
    dv.setFloat32(o + 4, pts[3 * i + 1], true);
    dv.setFloat32(o + 8, pts[3 * i + 2], true);
    const s = Math.floor(i / (H * W));
    const p = i % (H * W);
    for (let c = 0; c < 3; c++)
      out[o + 12 + c] = img ? Math.round(255 * Math.min(1, Math.max(0, img[(s * 3 + c) * H * W + p]))) : 200;
    o += 15;
  }
  return out;
}

/** Cameras as JSON-ready objects: 3×4 camera-from-world extrinsics and 3×3 intrinsics per frame. */
export function camerasJson(
  r: VggtResult,
  names?: readonly string[],
): { width: number; height: number; frames: unknown[] } {
  check(r.extrinsics && r.intrinsics, 'the result has no cameras (load the model with its camera head)');
  const rows = (a: Float64Array, off: number, nr: number, nc: number) =>
    Array.from({ length: nr }, (_, i) => Array.from(a.subarray(off + i * nc, off + (i + 1) * nc)));
  return {
    width: r.W,
    height: r.H,
    frames: Array.from({ length: r.S }, (_, s) => ({
      name: names?.[s] ?? `frame_${s}`,
      extrinsic: rows(r.extrinsics!, s * 12, 3, 4),
      intrinsic: rows(r.intrinsics!, s * 9, 3, 3),
      poseEnc: r.poseEnc ? Array.from(r.poseEnc.subarray(s * 9, s * 9 + 9)) : undefined,
    })),
  };
}
