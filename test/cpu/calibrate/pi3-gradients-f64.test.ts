import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pi3ForwardState, Pi3Gradients } from '../../../src/calibrate/pi3-gradients.js';
import { pi3SceneErrors, poseCenters, type Pi3SceneErrors } from '../../../src/calibrate/scene-errors.js';
import { cameraCenters, cameraError, normalizePoints } from '../../../src/calibrate/geometry/index.js';
import { HessError } from '../../../src/errors.js';
import { posesFromRaw } from '../../../src/model/pi3/camera-pose.js';
import { pi3HeadsBakedGraph } from '../../../src/model/pi3/heads-graph.js';
import { pi3Layout } from '../../../src/model/pi3/trunk.js';
import { trunkDims } from '../../../src/model/trunk/aggregator.js';
import {
  globalBlockGraph,
  loadBlockWeights,
  localBlockGraph,
  postParams,
  preParams,
} from '../../../src/model/trunk/blocks.js';
import { ropePositions, ropeTables } from '../../../src/model/trunk/rope.js';
import { havePi3Fixture, loadPi3Fixture, type Pi3Fixture } from '../../fixtures/pi3-tiny.js';
import { randomCrop } from '../../helpers/calibration-scenes.js';
import { foldShapes } from '../../helpers/fold-shapes.js';
import { directionalErrors } from '../../helpers/directional-fd.js';
import { freshSeed, relError, rng } from '../../helpers/random.js';
import { evaluate, type T } from '../onnx/ref-eval.js';
import { makeGroundTruthFromPoses, pi3InlierRadius } from './gradients-gt.js';

const t64 = (data: ArrayLike<number>, dims: number[]): T => ({ dims, data: Float64Array.from(data) });

// π³'s calibration gradients (float32, wasm EP, the whole model: 18 global layers, heads graph VJP, host SVD and
// world-point VJPs) against float64 central differences of the model's tail, as for VGGT (gradients-f64.test.ts):
// layers below the perturbed global layer L do not depend on its W_Q, so the tail from global block L's input
// (from the float32 forward pass) through the remaining decoder blocks, the heads graph, the SVD and pose · local
// points, evaluated in float64 by the independent reference interpreter, is the exact function of W_Q^L.
// The camera cotangent is taken at the float64 forward point for the strict check (the similarity onto the
// jittered GT centres has a large scale for this random model, which amplifies float32 inference noise in the
// cotangent, not a gradient error); the as-calibrated gradient's whole gap must be that change of point.
describe.skipIf(!havePi3Fixture)(
  'Pi3Gradients vs float64 finite differences (pi3-tiny, 3 frames cropped to 28×42)',
  () => {
    let fx: Pi3Fixture;
    let pg: Pi3Gradients;
    let fwd: Pi3ForwardState;
    let errs: Pi3SceneErrors;
    let gtCenters: Float64Array;
    let rand: () => number;
    let images: Float32Array;
    const gCam: Float32Array[] = [];
    const gPc: Float32Array[] = [];
    const S = 3,
      H = 28,
      W = 42;

    beforeAll(async () => {
      fx = await loadPi3Fixture();
      rand = rng(freshSeed('pi3 calibrate gradients f64'));
      pg = await Pi3Gradients.create(fx.model, fx.cfg);
      images = await randomCrop(fx, H, W, rand);
      fwd = await pg.forward(images, { S, H, W });
      const gt = makeGroundTruthFromPoses(fwd.cameraPoses, fwd.points, S, rand, 0.03);
      gtCenters = cameraCenters(gt.extrinsics);
      errs = pi3SceneErrors(fwd, gt, { epsilon: pi3InlierRadius(fwd, gt) });
      expect(errs.pointCloud.inlierCount).toBeGreaterThanOrEqual(50);
      console.info(
        `[pi3 gradients f64] ${errs.pointCloud.inlierCount} point-term inliers, similarity scale ${errs.transform.s.toFixed(2)}`,
      );
      await pg.backward(fwd, { cameraPoses: errs.camera.gradCameraPoses }, (l, g) => {
        gCam[l] = g.slice();
      });
      await pg.backward(fwd, { points: errs.pointCloud.gradPoints }, (l, g) => {
        gPc[l] = g.slice();
      });
    });
    afterAll(async () => pg?.dispose());

    it('the forward pass that keeps activations matches the runtime on the full fixture images, and every layer gets a gradient', async () => {
      const full = await pg.forward(Float32Array.from(await fx.ref('images')), { S: fx.S, H: fx.H, W: fx.W });
      expect(relError(full.cameraPoses, await fx.ref('camera_poses'))).toBeLessThan(1e-4);
      expect(relError(full.points, await fx.ref('points'))).toBeLessThan(1e-4);
      expect(relError(full.localPoints, await fx.ref('local_points'))).toBeLessThan(1e-4);
      expect(fwd.x.length).toBe(fx.cfg.depth);
      expect(fx.cfg.depth).toBe(18);
      for (const g of [gCam, gPc]) {
        expect(g.length).toBe(18);
        for (const gl of g) {
          expect(gl.length).toBe(fx.cfg.embedDim ** 2);
          const s = gl.reduce((a, v) => a + v * v, 0);
          expect(Number.isFinite(s) && s > 0).toBe(true);
        }
      }
    });

    it('directional derivatives agree to 1e-3 relative (camera: linearised at the float64 point; the rest of its gap is that point)', async () => {
      const c = fx.cfg;
      const layout = pi3Layout(c);
      const C = c.embedDim,
        d = c.headDim,
        depth = c.depth;
      const P = fwd.P,
        N = S * P;
      const b = trunkDims(c, layout);
      const specs = [...preParams(b), ...postParams(b)];
      const gGraph = foldShapes(globalBlockGraph(b), { S, P, N });
      const fGraph = foldShapes(localBlockGraph(b, 'frame'), { B: S, T: P });
      const spec = { heads: c.headHeads, registers: c.numRegisterTokens, patchSize: c.patchSize, ropeFreq: c.ropeBase };
      const headsGraph = foldShapes((await pi3HeadsBakedGraph(fx.model, spec, { H, W })).graph, { N: S });
      const pos = ropePositions(H / c.patchSize, W / c.patchSize, c.patchStartIdx);
      const rf = ropeTables(pos, d, c.ropeBase, 1),
        rg = ropeTables(pos, d, c.ropeBase, S);
      const fr = { rope_cos: t64(rf.cos, [P, 1, d]), rope_sin: t64(rf.sinSigned, [P, 1, d]) };
      const gr = { rope_cos: t64(rg.cos, [N, 1, d]), rope_sin: t64(rg.sinSigned, [N, 1, d]) };
      const weights = async (prefix: string) => {
        const w = await loadBlockWeights(fx.model, prefix, specs);
        return Object.fromEntries(specs.map((s) => [s.input, t64(w.get(s.input)!, s.shape)]));
      };

      /** (cameraPoses, world points) in float64 as a function of global layer L's qkv weight ([in, out] layout). */
      const tail = async (L: number) => {
        const gw = await Promise.all(Array.from({ length: depth - L }, (_, i) => weights(layout.globalBlock(L + i))));
        const fw = await Promise.all(
          Array.from({ length: depth - L - 1 }, (_, i) => weights(layout.frameBlock(L + 1 + i))),
        );
        return (qkvT: Float64Array) => {
          let xf: Float64Array = Float64Array.from(fwd.xf[L]!);
          let xg: Float64Array = new Float64Array(0);
          for (let l = L; l < depth; l++) {
            const wl = { ...gw[l - L]! };
            if (l === L) wl.attn_qkv_weight = { dims: [C, 3 * C], data: qkvT };
            xg = evaluate(gGraph, { x: t64(xf, [S, P, C]), ...gr, ...wl }).get('y')!.data;
            if (l === depth - 1) break;
            xf = evaluate(fGraph, { x: t64(xg, [S, P, C]), ...fr, ...fw[l - L]! }).get('y')!.data;
          }
          const hidden = new Float64Array(N * 2 * C); // cat(frame out, global out) of the last pair
          for (let n = 0; n < N; n++) {
            hidden.set(xf.subarray(n * C, (n + 1) * C), n * 2 * C);
            hidden.set(xg.subarray(n * C, (n + 1) * C), n * 2 * C + C);
          }
          const env = evaluate(headsGraph, { hidden: t64(hidden, [S, P, 2 * C]) });
          const poses = posesFromRaw(env.get('pose_raw')!.data, S);
          const local = env.get('local_points')!.data;
          const pts = new Float64Array(local.length);
          const n = local.length / (3 * S);
          for (let s = 0; s < S; s++)
            for (let i = 0; i < n; i++)
              for (let r = 0; r < 3; r++) {
                const o = (s * n + i) * 3;
                pts[o + r] =
                  poses[16 * s + 4 * r]! * local[o]! +
                  poses[16 * s + 4 * r + 1]! * local[o + 1]! +
                  poses[16 * s + 4 * r + 2]! * local[o + 2]! +
                  poses[16 * s + 4 * r + 3]!;
              }
          return { ...errs.frozen(poses, pts), cameras: poses };
        };
      };

      /** The camera cotangent of the frozen loss (same H) at other poses. */
      const gtC = normalizePoints(gtCenters, errs.normalization);
      const cameraCotangent = (poses: ArrayLike<number>) => {
        const g = cameraError(poseCenters(poses), gtC, errs.transform).grad;
        const out = new Float32Array(16 * S);
        for (let s = 0; s < S; s++) for (let r = 0; r < 3; r++) out[16 * s + 4 * r + 3] = g[3 * s + r]!;
        return out;
      };
      const layers = [depth - 1, depth - 2, Math.floor(depth / 2), Math.floor(rand() * (depth / 2))];
      const worst = await directionalErrors(layers, {
        C,
        d,
        numHeads: c.numHeads,
        rand,
        gCam,
        gPc,
        qkv: (L) => fx.model.read(`${layout.globalBlock(L)}.attn.qkv.weight`),
        tail,
        cameraGradAt: async (poses, L) => {
          let g64: Float32Array | undefined;
          await pg.backward(fwd, { cameraPoses: cameraCotangent(poses) }, (l, g) => {
            if (l === L) g64 = g.slice();
          });
          return g64!;
        },
        label: 'pi3 gradients f64',
      });
      expect(worst.camera).toBeLessThan(1e-3);
      expect(worst.pointCloud).toBeLessThan(1e-3);
    });

    it('bad seeds are typed errors', async () => {
      await expect(pg.backward(fwd, {}, () => {})).rejects.toBeInstanceOf(HessError);
      await expect(pg.backward(fwd, { cameraPoses: new Float32Array(5) }, () => {})).rejects.toBeInstanceOf(HessError);
      await expect(pg.backward(fwd, { points: new Float32Array(5) }, () => {})).rejects.toBeInstanceOf(HessError);
      expect(() => pg.setBlockWeight('global', 18, 'attn.qkv.weight', new Float32Array(1))).toThrow(HessError);
    });
  },
);
