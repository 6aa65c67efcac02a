/**
 * Seeded synthetic scenes with ground truth, of the kind the trained tiny VGGT (`models/vggt-synth`,
 * `../shared/fixtures/vggt-synth`) was trained on: a textured ground disk, up to four textured boxes and a ball,
 * cameras on a ring looking at the scene, Lambert shading, a sky gradient. A port of `make_scenes` in
 * `../shared/tools/train_vggt_synth.py` (same distributions, same camera model; its own seeded generator instead
 * of torch's), so a model trained there sees in-distribution inputs here, at any number of views and size.
 *
 * World frame z-up; cameras OpenCV camera-from-world `[R | t]`; pixel centres at integer coordinates
 * (`u = f·x/z + W/2`). Depth is z-depth, 0 on sky. No DOM, no I/O: the demo page, the accuracy bench and the
 * tests share it.
 */

/** One rendered view with its ground truth. */
export interface SyntheticView {
  width: number;
  height: number;
  /** RGBA, 8 bit (ImageData-compatible). */
  rgba: Uint8ClampedArray;
  /** z-depth per pixel, row-major; 0 where the ray hits nothing (sky). */
  depth: Float32Array;
  /** Camera-from-world [R | t], 12 numbers row-major. */
  extrinsic: Float64Array;
  /** Pixel intrinsics, 9 numbers row-major. */
  intrinsic: Float64Array;
}

/** A scene: its views and the GT cloud (the world points of every valid pixel of every view). */
export interface SyntheticScene {
  seed: number;
  views: SyntheticView[];
  /** Flat xyz, world frame. */
  points: Float32Array;
}

/** Options of {@link renderSyntheticScene}. */
export interface SyntheticSceneOptions {
  /** Views on the ring (default 3, as in training; more views sample the same arc more densely). */
  views?: number;
  /** Image size (default 98×70, the training size; use multiples of 14 so preprocessing keeps it). */
  width?: number;
  height?: number;
}

type V3 = [number, number, number];

/** mulberry32: the scene's seeded random source. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const norm3 = (a: V3): V3 => {
  const l = Math.hypot(a[0], a[1], a[2]) || 1;
  return [a[0] / l, a[1] / l, a[2] / l];
};
const cross3 = (a: V3, b: V3): V3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
/** Python's floor-mod (always ≥ 0 for a positive modulus), as torch's `%`. */
const mod2 = (x: number) => ((x % 2) + 2) % 2;
/** torch.frac: x − trunc(x) (negative for negative x). */
const frac = (x: number) => x - Math.trunc(x);

interface Material {
  kind: number;
  c1: V3;
  c2: V3;
  freq: number;
}

/** Procedural albedo at world point p: kind 0 checker, 1 stripes, 2 dots (as the trainer's `texture`). */
function albedo(p: V3, m: Material): V3 {
  const u = [p[0] * m.freq, p[1] * m.freq, p[2] * m.freq];
  let on: number;
  if (m.kind === 0) on = mod2(Math.floor(u[0]) + Math.floor(u[1]) + Math.floor(u[2]));
  else if (m.kind === 1) on = mod2(Math.floor(u[0] + u[2]));
  else on = (frac(u[0]) - 0.5) ** 2 + (frac(u[1]) - 0.5) ** 2 + (frac(u[2]) - 0.5) ** 2 < 0.12 ? 1 : 0;
  return [m.c1[0] * on + m.c2[0] * (1 - on), m.c1[1] * on + m.c2[1] * (1 - on), m.c1[2] * on + m.c2[2] * (1 - on)];
}

const LIGHT = norm3([0.4, 0.3, 1.0]);
const BOXES = 4;

/**
 * Render one seeded scene: `views` images with depth, cameras and the GT cloud. The same seed and options give
 * the same scene on every machine.
 *
 * @example
 * const scene = renderSyntheticScene(7, { views: 8 });
 * const pre = preprocessImages(scene.views.map((v) => ({ width: v.width, height: v.height, data: v.rgba })), { targetSize: 98 });
 */
export function renderSyntheticScene(seed: number, opts: SyntheticSceneOptions = {}): SyntheticScene {
  const { views: S = 3, width: W = 98, height: H = 70 } = opts;
  for (const [k, v] of [
    ['views', S],
    ['width', W],
    ['height', H],
  ] as const) {
    if (!(Number.isInteger(v) && v > 0 && v <= 4096))
      throw new RangeError(`renderSyntheticScene: ${k} must be an integer in [1, 4096], got ${v}`);
  }
  const R = mulberry32(seed);
  // Boxes on the ground: centre xy in [-1.2, 1.2], half sizes xy [0.15, 0.6], half height [0.15, 0.7].
  const boxes = Array.from({ length: BOXES }, () => {
    const c: V3 = [(R() - 0.5) * 2.4, (R() - 0.5) * 2.4, 0];
    const h: V3 = [0.15 + 0.45 * R(), 0.15 + 0.45 * R(), 0.15 + 0.55 * R()];
    c[2] = h[2];
    return { c, h, present: false };
  });
  for (const b of boxes) b.present = R() < 0.8;
  const sphere = { c: [(R() - 0.5) * 2, (R() - 0.5) * 2, 0] as V3, r: 0.2 + 0.35 * R(), on: false };
  sphere.c[2] = sphere.r;
  sphere.on = R() < 0.7;
  // Materials: 0 ground, 1..4 boxes, 5 sphere.
  const materials: Material[] = Array.from({ length: BOXES + 2 }, () => ({
    kind: Math.floor(R() * 3),
    c1: [R(), R(), R()],
    c2: [R() * 0.6, R() * 0.6, R() * 0.6],
    freq: 1.5 + 4 * R(),
  }));
  // Cameras on a ring around the scene, looking at a jittered centre; the arc (0.6–1.8 rad) is the same for any S.
  const az0 = R() * 2 * Math.PI;
  const arc = 0.6 + 1.2 * R();
  const fov = ((50 + 20 * R()) * Math.PI) / 180;
  const f = W / 2 / Math.tan(fov / 2);
  const intrinsic = Float64Array.of(f, 0, W / 2, 0, f, H / 2, 0, 0, 1);

  const out: SyntheticView[] = [];
  const pts: number[] = [];
  const sky = (v: number): V3 => [0.55 + 0.3 * (1 - v / H), 0.7 + 0.2 * (1 - v / H), 0.95];
  for (let s = 0; s < S; s++) {
    const az = az0 + (s / S) * arc + 0.15 * (R() - 0.5);
    const el = ((12 + 38 * R()) * Math.PI) / 180;
    const rad = 3.2 + 1.6 * R();
    const eye: V3 = [rad * Math.cos(el) * Math.cos(az), rad * Math.cos(el) * Math.sin(az), rad * Math.sin(el)];
    const tgt: V3 = [(R() - 0.5) * 0.6, (R() - 0.5) * 0.6, 0.2 + 0.3 * R()];
    // OpenCV look-at with world up +z: rows x (right), y (down), z (forward).
    const fw = norm3([tgt[0] - eye[0], tgt[1] - eye[1], tgt[2] - eye[2]]);
    const rt = norm3(cross3(fw, [0, 0, 1]));
    const dn = cross3(fw, rt);
    const Rw = [rt, dn, fw];
    const t = Rw.map((row) => -(row[0] * eye[0] + row[1] * eye[1] + row[2] * eye[2]));
    const extrinsic = Float64Array.of(rt[0], rt[1], rt[2], t[0], dn[0], dn[1], dn[2], t[1], fw[0], fw[1], fw[2], t[2]);
    const rgba = new Uint8ClampedArray(W * H * 4);
    const depth = new Float32Array(W * H);
    for (let v = 0; v < H; v++) {
      for (let u = 0; u < W; u++) {
        // Camera ray with z_cam = 1, so the ray parameter of a hit is its z-depth.
        const dc: V3 = [(u - W / 2) / f, (v - H / 2) / f, 1];
        const d: V3 = [0, 1, 2].map((i) => Rw[0][i] * dc[0] + Rw[1][i] * dc[1] + Rw[2][i] * dc[2]) as V3;
        let best = Infinity;
        let mat = -1;
        let n: V3 = [0, 0, 0];
        if (d[2] < -1e-6) {
          const tg = -eye[2] / d[2];
          if (tg > 0 && Math.hypot(eye[0] + tg * d[0], eye[1] + tg * d[1]) < 6) {
            best = tg;
            mat = 0;
            n = [0, 0, 1];
          }
        }
        boxes.forEach((b, k) => {
          if (!b.present) return;
          let tmin = -Infinity,
            tmax = Infinity;
          for (let a = 0; a < 3; a++) {
            const inv = 1 / (Math.abs(d[a]) < 1e-9 ? 1e-9 : d[a]);
            const t1 = (b.c[a] - b.h[a] - eye[a]) * inv,
              t2 = (b.c[a] + b.h[a] - eye[a]) * inv;
            tmin = Math.max(tmin, Math.min(t1, t2));
            tmax = Math.min(tmax, Math.max(t1, t2));
          }
          if (tmax >= tmin && tmin > 0 && tmin < best) {
            best = tmin;
            mat = 1 + k;
            const q = [0, 1, 2].map((a) => (eye[a] + tmin * d[a] - b.c[a]) / b.h[a]);
            const ax =
              Math.abs(q[0]) >= Math.abs(q[1]) && Math.abs(q[0]) >= Math.abs(q[2])
                ? 0
                : Math.abs(q[1]) >= Math.abs(q[2])
                  ? 1
                  : 2;
            n = [0, 0, 0];
            n[ax] = Math.sign(q[ax]);
          }
        });
        if (sphere.on) {
          const oc: V3 = [eye[0] - sphere.c[0], eye[1] - sphere.c[1], eye[2] - sphere.c[2]];
          const a = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
          const bq = 2 * (oc[0] * d[0] + oc[1] * d[1] + oc[2] * d[2]);
          const cq = oc[0] * oc[0] + oc[1] * oc[1] + oc[2] * oc[2] - sphere.r * sphere.r;
          const disc = bq * bq - 4 * a * cq;
          const ts = (-bq - Math.sqrt(Math.max(disc, 0))) / (2 * a);
          if (disc > 0 && ts > 0 && ts < best) {
            best = ts;
            mat = BOXES + 1;
            n = norm3([
              eye[0] + ts * d[0] - sphere.c[0],
              eye[1] + ts * d[1] - sphere.c[1],
              eye[2] + ts * d[2] - sphere.c[2],
            ]);
          }
        }
        const i = v * W + u;
        let c: V3;
        if (mat >= 0) {
          const p: V3 = [eye[0] + best * d[0], eye[1] + best * d[1], eye[2] + best * d[2]];
          const alb = albedo(p, materials[mat]);
          const k = 0.35 + 0.65 * Math.max(0, n[0] * LIGHT[0] + n[1] * LIGHT[1] + n[2] * LIGHT[2]);
          c = [alb[0] * k, alb[1] * k, alb[2] * k];
          depth[i] = best;
          pts.push(p[0], p[1], p[2]);
        } else {
          c = sky(v);
        }
        // As the trainer's PNG writer: clamp to [0, 1], ×255 + 0.5, truncate.
        for (let ch = 0; ch < 3; ch++) rgba[4 * i + ch] = Math.floor(Math.min(1, Math.max(0, c[ch])) * 255 + 0.5);
        rgba[4 * i + 3] = 255;
      }
    }
    out.push({ width: W, height: H, rgba, depth, extrinsic, intrinsic: intrinsic.slice() });
  }
  return { seed, views: out, points: Float32Array.from(pts) };
}
