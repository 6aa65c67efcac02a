/**
 * A tiny procedural test scene for the demo: a checkerboard floor, three textured boxes and a ball under a sky
 * gradient, ray-cast (with hard shadows) from cameras on a circle around it. No DOM, no dependencies: the same
 * code renders the sample views in the browser page and in `npm run demo` (Node writes them as PNGs).
 */

/** An 8-bit RGBA image (ImageData-compatible, what `preprocessImages` takes). */
export interface SceneImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export interface SceneViewOptions {
  /** Number of viewpoints (default 3), spread over `arcDeg` degrees around the scene. */
  views?: number;
  width?: number;
  height?: number;
  /** Total azimuth span of the cameras in degrees (default 50: overlapping views, as VGGT expects). */
  arcDeg?: number;
  /** Horizontal field of view in degrees (default 60). */
  fovDeg?: number;
}

type V3 = [number, number, number];
const sub = (a: V3, b: V3): V3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a: V3, b: V3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: V3, b: V3): V3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a: V3): V3 => {
  const l = Math.hypot(a[0], a[1], a[2]) || 1;
  return [a[0] / l, a[1] / l, a[2] / l];
};

interface Box {
  min: V3;
  max: V3;
  color: V3;
  stripe: V3;
}
// y is up; the floor is y = 0.
const BOXES: Box[] = [
  { min: [-1.6, 0, -0.6], max: [-0.6, 1.2, 0.4], color: [0.85, 0.25, 0.2], stripe: [0.98, 0.85, 0.3] },
  { min: [0.3, 0, -1.4], max: [1.3, 0.7, -0.4], color: [0.2, 0.45, 0.85], stripe: [0.9, 0.95, 1.0] },
  { min: [0.5, 0, 0.5], max: [1.1, 1.8, 1.1], color: [0.25, 0.7, 0.35], stripe: [0.1, 0.2, 0.1] },
];
const BALL = { c: [-0.3, 0.45, 1.2] as V3, r: 0.45, color: [0.95, 0.6, 0.15] as V3 };
const SUN = norm([0.5, 1.0, 0.35]);

interface Hit {
  t: number;
  n: V3;
  color: V3;
}

function hitBox(o: V3, d: V3, b: Box, tMax: number): Hit | null {
  let t0 = 1e-4,
    t1 = tMax,
    axis = -1,
    sign = 1;
  for (let a = 0; a < 3; a++) {
    const inv = 1 / d[a];
    let tn = (b.min[a] - o[a]) * inv,
      tf = (b.max[a] - o[a]) * inv;
    let s = -1;
    if (tn > tf) {
      [tn, tf] = [tf, tn];
      s = 1;
    }
    if (tn > t0) {
      t0 = tn;
      axis = a;
      sign = s;
    }
    if (tf < t1) t1 = tf;
    if (t0 > t1) return null;
  }
  if (axis < 0) return null; // ray starts inside
  const n: V3 = [0, 0, 0];
  n[axis] = sign;
  // Stripes on the faces: texture gives the model something to match between views.
  const p: V3 = [o[0] + t0 * d[0], o[1] + t0 * d[1], o[2] + t0 * d[2]];
  const u = axis === 1 ? p[0] + p[2] : p[1] + (axis === 0 ? p[2] : p[0]);
  const color = Math.floor(u * 5) % 2 === 0 ? b.color : b.stripe;
  return { t: t0, n, color };
}

function hitBall(o: V3, d: V3, tMax: number): Hit | null {
  const oc = sub(o, BALL.c);
  const b = dot(oc, d),
    c = dot(oc, oc) - BALL.r * BALL.r;
  const disc = b * b - c;
  if (disc < 0) return null;
  const t = -b - Math.sqrt(disc);
  if (t < 1e-4 || t > tMax) return null;
  const p: V3 = [o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]];
  const n = norm(sub(p, BALL.c));
  const band = Math.floor((Math.atan2(n[2], n[0]) / Math.PI) * 6 + 12) % 2;
  return { t, n, color: band ? BALL.color : [0.6, 0.2, 0.6] };
}

function trace(o: V3, d: V3): Hit | null {
  let best: Hit | null = null;
  if (d[1] < 0) {
    const t = -o[1] / d[1];
    if (t > 1e-4 && t < 60) {
      const x = o[0] + t * d[0],
        z = o[2] + t * d[2];
      const check = (Math.floor(x * 2) + Math.floor(z * 2)) & 1;
      const fade = Math.exp(-t / 25);
      const c = check ? 0.85 : 0.2;
      best = {
        t,
        n: [0, 1, 0],
        color: [c * fade + 0.5 * (1 - fade), c * fade + 0.55 * (1 - fade), c * 0.9 * fade + 0.6 * (1 - fade)],
      };
    }
  }
  for (const b of BOXES) {
    const h = hitBox(o, d, b, best?.t ?? 1e9);
    if (h) best = h;
  }
  const s = hitBall(o, d, best?.t ?? 1e9);
  return s ?? best;
}

function shade(o: V3, d: V3): V3 {
  const h = trace(o, d);
  if (!h) {
    const k = Math.max(0, d[1]);
    return [0.55 + 0.3 * k, 0.7 + 0.2 * k, 0.95];
  }
  const p: V3 = [o[0] + h.t * d[0], o[1] + h.t * d[1], o[2] + h.t * d[2]];
  const lambert = Math.max(0, dot(h.n, SUN));
  const lit =
    lambert > 0 && !trace([p[0] + h.n[0] * 1e-3, p[1] + h.n[1] * 1e-3, p[2] + h.n[2] * 1e-3], SUN) ? lambert : 0;
  const k = 0.3 + 0.7 * lit;
  return [h.color[0] * k, h.color[1] * k, h.color[2] * k];
}

/** The camera centres and look-at target of the sample views (world frame, y up). */
export function sceneCameras(views = 3, arcDeg = 50): { eye: V3; target: V3 }[] {
  const target: V3 = [0, 0.5, 0];
  return Array.from({ length: views }, (_, i) => {
    const a = ((-arcDeg / 2 + (views > 1 ? (arcDeg * i) / (views - 1) : 0)) * Math.PI) / 180;
    return { eye: [5 * Math.sin(a), 2.4, 5 * Math.cos(a)] as V3, target };
  });
}

/**
 * Render the sample views (2×2 supersampled).
 *
 * @example
 * const views = renderSceneViews({ views: 3, width: 196, height: 140 });
 * const pre = preprocessImages(views, { targetSize: 98 });
 */
export function renderSceneViews(opts: SceneViewOptions = {}): SceneImage[] {
  const { views = 3, width = 196, height = 140, arcDeg = 50, fovDeg = 60 } = opts;
  if (
    !(
      Number.isInteger(views) &&
      views > 0 &&
      Number.isInteger(width) &&
      width > 0 &&
      Number.isInteger(height) &&
      height > 0
    )
  ) {
    throw new RangeError(
      `renderSceneViews: views, width and height must be positive integers (got ${views}, ${width}, ${height})`,
    );
  }
  const f = 1 / Math.tan((fovDeg * Math.PI) / 360);
  return sceneCameras(views, arcDeg).map(({ eye, target }) => {
    const fwd = norm(sub(target, eye));
    const right = norm(cross(fwd, [0, 1, 0]));
    const up = cross(right, fwd);
    const data = new Uint8ClampedArray(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const acc: V3 = [0, 0, 0];
        for (let sy = 0; sy < 2; sy++)
          for (let sx = 0; sx < 2; sx++) {
            const u = ((x + 0.25 + 0.5 * sx) / width) * 2 - 1;
            const v = (1 - (y + 0.25 + 0.5 * sy) / height) * 2 - 1;
            const vy = (v * height) / width;
            const d = norm([
              fwd[0] * f + right[0] * u + up[0] * vy,
              fwd[1] * f + right[1] * u + up[1] * vy,
              fwd[2] * f + right[2] * u + up[2] * vy,
            ]);
            const c = shade(eye, d);
            acc[0] += c[0];
            acc[1] += c[1];
            acc[2] += c[2];
          }
        const o = (y * width + x) * 4;
        // Gamma-ish curve so the dark checker squares keep some texture.
        for (let c = 0; c < 3; c++) data[o + c] = Math.round(255 * Math.sqrt(Math.min(1, acc[c] / 4)));
        data[o + 3] = 255;
      }
    }
    return { width, height, data };
  });
}
