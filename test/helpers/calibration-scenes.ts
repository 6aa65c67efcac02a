// Calibration inputs cut from a fixture for the calibration tests: random crops of its frames, and scenes whose
// ground truth is warped from the model's own prediction (test/cpu/calibrate/gradients-gt.ts).
import type { SceneInput } from '../../src/calibrate/calibrate.js';
import type { SceneGroundTruth } from '../../src/calibrate/scene-errors.js';

/** A fixture's frames: `[S, 3, H, W]` reference images. */
export interface FixtureFrames {
  S: number;
  H: number;
  W: number;
  ref(name: 'images'): Promise<Float64Array>;
}

/** One random `H×W` window (the same for every frame) of the fixture's frames, `[S, 3, H, W]`. */
export async function randomCrop(fx: FixtureFrames, H: number, W: number, rand: () => number): Promise<Float32Array> {
  const full = await fx.ref('images');
  const S = fx.S;
  const img = new Float32Array(S * 3 * H * W);
  const oy = Math.floor(rand() * (fx.H - H)),
    ox = Math.floor(rand() * (fx.W - W));
  for (let s = 0; s < S; s++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          img[((s * 3 + c) * H + y) * W + x] = full[((s * 3 + c) * fx.H + y + oy) * fx.W + x + ox]!;
        }
  return img;
}

/**
 * What a model makes of a crop: the ground truth warped from its prediction, and the inlier radius (from `start`)
 * that gives the prediction a point term against it.
 */
export type SelfTruth = (
  images: Float32Array,
  shape: { S: number; H: number; W: number },
) => Promise<{ gt: SceneGroundTruth; radius(start: number): number }>;

/**
 * Two scenes 'a' and 'b': random 28×42 crops of the fixture's frames with their self-made ground truth, and an
 * inlier radius ε (from 0.2, doubled as needed) that gives every scene a point term.
 */
export async function selfScenes(
  fx: FixtureFrames,
  rand: () => number,
  truth: SelfTruth,
): Promise<{ scenes: SceneInput[]; epsilon: number }> {
  const shape = { S: fx.S, H: 28, W: 42 };
  const scenes: SceneInput[] = [];
  let epsilon = 0.2;
  for (const name of ['a', 'b']) {
    const data = await randomCrop(fx, shape.H, shape.W, rand);
    const { gt, radius } = await truth(data, shape);
    scenes.push({ name, images: { data, ...shape }, ...gt });
    epsilon = radius(epsilon);
  }
  return { scenes, epsilon };
}
