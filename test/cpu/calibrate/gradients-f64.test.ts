import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { centerGradToPoseEncGrad, sceneErrors, type SceneErrors } from '../../../src/calibrate/calibrate.js';
import { cameraCenters, cameraError, normalizePoints } from '../../../src/calibrate/geometry/index.js';
import { poseEncodingToExtriIntri } from '../../../src/model/vggt/pose.js';
import { type ForwardState, VggtGradients } from '../../../src/calibrate/gradients.js';
import { AGGREGATOR_EPS, ROPE_BASE } from '../../../src/model/trunk/aggregator.js';
import {
  globalBlockGraph,
  loadBlockWeights,
  localBlockGraph,
  postParams,
  preParams,
  type BlockDims,
} from '../../../src/model/trunk/blocks.js';
import { cameraHeadGraph } from '../../../src/model/vggt/camera-head.js';
import { dptHeadGraph } from '../../../src/model/vggt/dpt-head.js';
import { loadPrefixed } from '../../../src/model/heads/heads-common.js';
import { ropePositions, ropeTables } from '../../../src/model/trunk/rope.js';
import { loadFixture, type Fixture } from '../../../bench/vggt-tiny.js';
import { randomCrop } from '../../helpers/calibration-scenes.js';
import { foldShapes } from '../../helpers/fold-shapes.js';
import { directionalErrors } from '../../helpers/directional-fd.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { evaluate, type T } from '../onnx/ref-eval.js';
import { inlierRadius, makeGroundTruth } from './gradients-gt.js';

const t64 = (data: ArrayLike<number>, dims: number[]): T => ({ dims, data: Float64Array.from(data) });

// The float32 ORT gradients of the WHOLE model (on a reduced input: the 3 frames cropped to 28×28) against float64 central
// differences of the model's tail. Layers below the perturbed global layer L do not depend on W_Q^L, so the tail
// from global block L's input (taken from the float32 forward pass) through the remaining blocks and both heads,
// evaluated in float64 by the independent reference interpreter (test/cpu/onnx/ref-eval), is the exact function
// of W_Q^L: no float32 noise in the finite differences.
//
// The camera term needs care about WHERE it is linearised. The random tiny model predicts nearly coincident camera
// centres, so the similarity onto the (jittered) GT centres has a scale s ≈ 150: the float32 forward pass's 3e-7
// error in pose_enc moves the camera cotangent s·Rᵀ(H·t̂ − t)/N by ~1e-3…1e-2 relative (measured). That is float32
// inference noise amplified by an ill-conditioned scene, not a gradient error: with the cotangent taken at the
// float64 forward point the full-model camera gradient matches to ~3e-7. The test checks both: the gradient chain at
// the float64 point to 1e-3 (the bound), and that the as-calibrated gradient's whole gap to the finite
// differences is that change of point. The point-cloud term is checked as calibrated (its scale is benign).
describe('VggtGradients vs float64 finite differences (vggt-tiny, 3 frames cropped to 28×28)', () => {
  let fx: Fixture;
  let vg: VggtGradients;
  let fwd: ForwardState;
  let errs: SceneErrors;
  let gtCenters: Float64Array;
  let rand: () => number;
  const gCam: Float32Array[] = [];
  const gPc: Float32Array[] = [];
  const S = 3,
    H = 28,
    W = 28;

  beforeAll(async () => {
    fx = await loadFixture();
    rand = rng(freshSeed('calibrate gradients f64'));
    vg = await VggtGradients.create(fx.model, fx.cfg);
    const img = await randomCrop(fx, H, W, rand);
    fwd = await vg.forward(img, { S, H, W });
    const gt = makeGroundTruth(fwd.poseEnc, fwd.worldPoints, { S, H, W }, rand, 0.03);
    gtCenters = cameraCenters(gt.extrinsics);
    errs = sceneErrors(fwd, gt, { epsilon: inlierRadius(fwd, gt) });
    expect(errs.pointCloud.inlierCount).toBeGreaterThanOrEqual(50);
    console.info(
      `[calibrate gradients f64] ${errs.pointCloud.inlierCount} point-term inliers, similarity scale ${errs.transform.s.toFixed(1)}`,
    );
    await vg.backward(fwd, { poseEnc: errs.camera.gradPoseEnc }, (l, g) => {
      gCam[l] = g.slice();
    });
    await vg.backward(fwd, { worldPoints: errs.pointCloud.gradWorldPoints }, (l, g) => {
      gPc[l] = g.slice();
    });
  });
  afterAll(async () => vg?.dispose());

  it('directional derivatives agree to 1e-3 relative (camera: linearised at the float64 point; the rest of its gap is that point)', async () => {
    const c = fx.cfg;
    const C = c.embedDim,
      d = c.headDim,
      depth = c.depth;
    const P = fwd.P,
      N = S * P;
    const b: BlockDims = { C, H: c.numHeads, d, M: c.mlpHiddenDim, eps: AGGREGATOR_EPS, qkNorm: true, rope: true };
    const specs = [...preParams(b), ...postParams(b)];
    const gGraph = foldShapes(globalBlockGraph(b), { S, P, N });
    const fGraph = foldShapes(localBlockGraph(b, 'frame'), { B: S, T: P });
    const camGraph = foldShapes(
      cameraHeadGraph(await loadPrefixed(fx.model, 'camera_head'), c.camera!, 4, 'camera_head'),
      { S },
    );
    const dptSpec = {
      kind: 'point' as const,
      head: c.pointHead!,
      dimIn: 2 * C,
      patchSize: c.patchSize,
      patchStartIdx: c.patchStartIdx,
    };
    const dptGraph = foldShapes(
      dptHeadGraph(await loadPrefixed(fx.model, 'point_head'), dptSpec, 'point_head', H, W, { raw: true }),
      { N: S },
    );
    const pos = ropePositions(H / c.patchSize, W / c.patchSize, c.patchStartIdx);
    const rf = ropeTables(pos, d, ROPE_BASE, 1),
      rg = ropeTables(pos, d, ROPE_BASE, S);
    const fr = { rope_cos: t64(rf.cos, [P, 1, d]), rope_sin: t64(rf.sinSigned, [P, 1, d]) };
    const gr = { rope_cos: t64(rg.cos, [N, 1, d]), rope_sin: t64(rg.sinSigned, [N, 1, d]) };
    const weights = async (kind: string, l: number) => {
      const w = await loadBlockWeights(fx.model, `aggregator.${kind}_blocks.${l}`, specs);
      return Object.fromEntries(specs.map((s) => [s.input, t64(w.get(s.input)!, s.shape)]));
    };
    const interleave = (a: Float64Array, g: Float64Array) => {
      const out = new Float64Array(N * 2 * C);
      for (let n = 0; n < N; n++) {
        out.set(a.subarray(n * C, (n + 1) * C), n * 2 * C);
        out.set(g.subarray(n * C, (n + 1) * C), n * 2 * C + C);
      }
      return out;
    };

    /** The frozen errors as a float64 function of global layer L's qkv weight ([in, out] graph layout). */
    const tail = async (L: number) => {
      const gw = await Promise.all(Array.from({ length: depth - L }, (_, i) => weights('global', L + i)));
      const fw = await Promise.all(Array.from({ length: depth - L - 1 }, (_, i) => weights('frame', L + 1 + i)));
      return (qkvT: Float64Array) => {
        const layers = new Map<number, Float64Array>();
        for (const [l, a] of fwd.layers) if (l < L) layers.set(l, Float64Array.from(a));
        let xf: Float64Array = Float64Array.from(fwd.xf[L]!);
        for (let l = L; l < depth; l++) {
          const wl = { ...gw[l - L]! };
          if (l === L) wl.attn_qkv_weight = { dims: [C, 3 * C], data: qkvT };
          const xg = evaluate(gGraph, { x: t64(xf, [S, P, C]), ...gr, ...wl }).get('y')!.data;
          if ([...fwd.layers.keys()].includes(l)) layers.set(l, interleave(xf, xg));
          if (l === depth - 1) break;
          xf = evaluate(fGraph, { x: t64(xg, [S, P, C]), ...fr, ...fw[l - L]! }).get('y')!.data;
        }
        const last = layers.get(depth - 1)!;
        const tokens = new Float64Array(S * 2 * C);
        for (let s = 0; s < S; s++) tokens.set(last.subarray(s * P * 2 * C, s * P * 2 * C + 2 * C), s * 2 * C);
        const poseEnc = evaluate(camGraph, { tokens: t64(tokens, [S, 2 * C]) }).get('pose_enc')!.data;
        const feeds: Record<string, T> = {};
        [4, 11, 17, 23].forEach((l, k) => {
          feeds[`l${k}`] = t64(layers.get(l)!, [S, P, 2 * C]);
        });
        const raw = evaluate(dptGraph, feeds).get('raw')!.data; // [S, 3, H, W]
        const wp = new Float64Array(S * H * W * 3);
        for (let s = 0; s < S; s++)
          for (let ch = 0; ch < 3; ch++)
            for (let p = 0; p < H * W; p++) {
              const v = raw[(s * 3 + ch) * H * W + p]!;
              wp[(s * H * W + p) * 3 + ch] = Math.sign(v) * Math.expm1(Math.abs(v)); // inv_log
            }
        return { ...errs.frozen(poseEnc, wp), cameras: poseEnc };
      };
    };

    /** The camera cotangent of the frozen loss (same H) at another pose_enc, by the production functions. */
    const gtC = normalizePoints(gtCenters, errs.normalization);
    const cameraCotangent = (pe: ArrayLike<number>) => {
      const centres = cameraCenters(poseEncodingToExtriIntri(pe, S, H, W).extrinsics);
      return centerGradToPoseEncGrad(pe, S, cameraError(centres, gtC, errs.transform).grad);
    };
    const worst = await directionalErrors([depth - 1, depth - 2, Math.floor(depth / 2)], {
      C,
      d,
      numHeads: c.numHeads,
      rand,
      gCam,
      gPc,
      qkv: (L) => fx.model.read(`aggregator.global_blocks.${L}.attn.qkv.weight`),
      tail,
      cameraGradAt: async (poseEnc, L) => {
        let g64: Float32Array | undefined;
        await vg.backward(fwd, { poseEnc: Float32Array.from(cameraCotangent(poseEnc)) }, (l, g) => {
          if (l === L) g64 = g.slice();
        });
        return g64!;
      },
      label: 'calibrate gradients f64',
    });
    expect(worst.camera).toBeLessThan(1e-3); // measured 2e-7…4e-7
    expect(worst.pointCloud).toBeLessThan(1e-3); // measured 5e-7…2e-5
  });
});
