import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sceneErrors, type SceneErrors } from '../../../src/calibrate/calibrate.js';
import { type ForwardState, VggtGradients } from '../../../src/calibrate/gradients.js';
import { HessError } from '../../../src/errors.js';
import { loadFixture, type Fixture } from '../../../bench/vggt-tiny.js';
import { freshSeed, randn, relError, rng } from '../../helpers/random.js';
import { makeGroundTruth } from './gradients-gt.js';

// ∂e/∂W_Q^h of the WHOLE model (ORT wasm EP, float32) against finite differences of the same model's forward pass
// with H, inliers and nearest-GT matches frozen (the function the gradient is exact for).
describe('VggtGradients: ∂e_cam/∂W_Q^h and ∂e_pc/∂W_Q^h through the whole vggt-tiny (wasm EP)', () => {
  let fx: Fixture;
  let vg: VggtGradients;
  let fwd: ForwardState;
  let errs: SceneErrors;
  let images: Float32Array;
  const gCam: Float32Array[] = [];
  const gPc: Float32Array[] = [];
  let rand: () => number;

  beforeAll(async () => {
    fx = await loadFixture();
    rand = rng(freshSeed('calibrate gradients'));
    vg = await VggtGradients.create(fx.model, fx.cfg);
    images = Float32Array.from(await fx.ref('images'));
    fwd = await vg.forward(images, { S: fx.S, H: fx.H, W: fx.W });
    errs = sceneErrors(fwd, makeGroundTruth(await fx.ref('pose_enc'), await fx.ref('world_points'), fx, rand));
    await vg.backward(fwd, { poseEnc: errs.camera.gradPoseEnc }, (l, g) => {
      gCam[l] = g.slice();
    });
    await vg.backward(fwd, { worldPoints: errs.pointCloud.gradWorldPoints }, (l, g) => {
      gPc[l] = g.slice();
    });
  });
  afterAll(async () => vg?.dispose());

  it('the forward pass that keeps activations still matches the reference outputs', async () => {
    expect(relError(fwd.poseEnc, await fx.ref('pose_enc'))).toBeLessThan(1e-4);
    expect(relError(fwd.worldPoints, await fx.ref('world_points'))).toBeLessThan(1e-4);
    expect(fwd.x.length).toBe(fx.cfg.depth);
    expect(errs.camera.error).toBeGreaterThan(0);
    // How many predicted points fall within ε of the warped GT depends on the random warp (570…5000+ seen):
    // enough for a point-cloud term that is more than a handful of points.
    expect(errs.pointCloud.inlierCount).toBeGreaterThan(100);
    // every layer got a finite, non-zero gradient for both terms
    for (const g of [gCam, gPc]) {
      expect(g.length).toBe(fx.cfg.depth);
      for (const gl of g) {
        let s = 0;
        for (const v of gl) s += v * v;
        expect(Number.isFinite(s) && s > 0).toBe(true);
      }
    }
  });

  it('directional derivatives match float32 central differences (Richardson) within 3% + the float32 noise floor (sanity at full size; strict check in gradients-f64)', async () => {
    const { depth, numHeads: Hh, headDim: d, embedDim: C } = fx.cfg;
    const pairs: Array<[number, number]> = [
      [Math.floor(rand() * 4), Math.floor(rand() * Hh)],
      [8 + Math.floor(rand() * 8), Math.floor(rand() * Hh)],
      [depth - 1 - Math.floor(rand() * 3), Math.floor(rand() * Hh)],
    ];
    const worst = { camera: 0, pointCloud: 0 };
    const base = { camera: errs.camera.error, pointCloud: errs.pointCloud.error };
    for (const [L, h] of pairs) {
      const key = `aggregator.global_blocks.${L}.attn.qkv.weight`;
      const W0 = await fx.model.read(key);
      const rows = (a: Float32Array) => a.subarray(h * d * C, (h + 1) * d * C);
      const unit = (a: ArrayLike<number>) => {
        let s = 0;
        for (let i = 0; i < a.length; i++) s += a[i]! ** 2;
        return Float64Array.from(a, (v) => v / Math.sqrt(s));
      };
      // one direction for both terms: each term's own gradient direction plus a random one (all unit length),
      // scaled to ‖W_Q^h‖; only rows of head h move
      const gc = unit(rows(gCam[L]!)),
        gp = unit(rows(gPc[L]!)),
        r = unit(randn(d * C, rand));
      const wn = Math.sqrt(rows(W0).reduce((a, v) => a + v * v, 0));
      const D = new Float64Array(3 * C * C);
      for (let k = 0; k < d * C; k++) D[h * d * C + k] = ((gc[k]! + gp[k]! + r[k]!) * wn) / 3;
      const dot = (g: Float32Array) => g.reduce((a, v, k) => a + v * D[k]!, 0);
      const pred = { camera: dot(gCam[L]!), pointCloud: dot(gPc[L]!) };
      const at = async (eps: number) => {
        const e: Array<{ camera: number; pointCloud: number }> = [];
        for (const s of [1, -1]) {
          vg.setBlockWeight(
            'global',
            L,
            'attn.qkv.weight',
            Float32Array.from(W0, (w, i) => w + s * eps * D[i]!),
          );
          const f = await vg.forward(images, { S: fx.S, H: fx.H, W: fx.W });
          e.push(errs.frozen(f.poseEnc, f.worldPoints));
        }
        return {
          camera: (e[0]!.camera - e[1]!.camera) / (2 * eps),
          pointCloud: (e[0]!.pointCloud - e[1]!.pointCloud) / (2 * eps),
        };
      };
      // ε large enough that float32 rounding of the forward pass stays ≲1e-4 of the difference; the O(ε²)
      // truncation is removed by Richardson extrapolation of ε and 2ε
      const eps = 5e-3;
      const a = await at(2 * eps),
        b = await at(eps);
      vg.setBlockWeight('global', L, 'attn.qkv.weight', W0);
      for (const t of ['camera', 'pointCloud'] as const) {
        const fd = (4 * b[t] - a[t]) / 3;
        // float32 rounding of the forward pass moves e by ~1e-5·e (measured), i.e. the FD by ~1e-5·e/ε: allowed on
        // top of 3% for the leftover O(ε⁴) truncation (the float64 test in gradients-f64.test.ts is the strict one)
        const floor = (3e-5 * base[t]) / eps;
        const rel = Math.max(0, Math.abs(fd - pred[t]) - floor) / Math.abs(pred[t]);
        console.info(
          `[calibrate gradients] layer ${L} head ${h} ${t}: grad·D = ${pred[t].toExponential(6)}, FD = ${fd.toExponential(6)}, raw rel ${(Math.abs(fd - pred[t]) / Math.abs(pred[t])).toExponential(2)}, beyond noise floor ${rel.toExponential(2)}`,
        );
        worst[t] = Math.max(worst[t], rel);
      }
    }
    console.info('[calibrate gradients] worst relative error', worst);
    expect(worst.camera).toBeLessThan(3e-2);
    expect(worst.pointCloud).toBeLessThan(3e-2);
  });

  it('activation checkpointing (keep every 5th block input, recompute the rest) gives the same gradients', async () => {
    const k = 5;
    const vc = await VggtGradients.create(fx.model, fx.cfg, { checkpointEvery: k });
    try {
      const f = await vc.forward(images, { S: fx.S, H: fx.H, W: fx.W });
      const kept = f.x.filter(Boolean).length;
      expect(f.checkpointEvery).toBe(k);
      expect(kept).toBe(Math.ceil(fx.cfg.depth / k));
      expect(f.xf.filter(Boolean).length).toBe(0);
      let worst = 0;
      const layers: number[] = [];
      for (const [seed, ref] of [
        [{ poseEnc: errs.camera.gradPoseEnc }, gCam],
        [{ worldPoints: errs.pointCloud.gradWorldPoints }, gPc],
      ] as const) {
        await vc.backward(f, seed, (l, g) => {
          layers.push(l);
          worst = Math.max(worst, relError(g, ref[l]!));
        });
      }
      console.info(
        `[calibrate gradients] checkpointEvery ${k}: ${kept} of ${fx.cfg.depth} block inputs kept, worst rel. error vs keeping all ${worst.toExponential(2)}`,
      );
      expect(layers.length).toBe(2 * fx.cfg.depth);
      expect(worst).toBeLessThan(1e-4);
    } finally {
      await vc.dispose();
    }
    await expect(VggtGradients.create(fx.model, fx.cfg, { checkpointEvery: 0 })).rejects.toBeInstanceOf(HessError);
  });

  it('query-chunked global-block backward (attentionChunk 50 of the 120 tokens: chunks 50, 50, 20) gives the same gradients', async () => {
    const N = fx.S * fwd.P;
    expect(N).toBeGreaterThan(100); // three chunks, two chunk shapes
    const vc = await VggtGradients.create(fx.model, fx.cfg, { attentionChunk: 50 });
    try {
      let worst = 0;
      let n = 0;
      for (const [seed, ref] of [
        [{ poseEnc: errs.camera.gradPoseEnc }, gCam],
        [{ worldPoints: errs.pointCloud.gradWorldPoints }, gPc],
      ] as const) {
        await vc.backward(fwd, seed, (l, g) => {
          n++;
          worst = Math.max(worst, relError(g, ref[l]!));
        });
      }
      console.info(
        `[calibrate gradients] attentionChunk 50 (N = ${N}): worst rel. error vs the unchunked block ${worst.toExponential(2)}`,
      );
      expect(n).toBe(2 * fx.cfg.depth);
      expect(worst).toBeLessThan(1e-4);
    } finally {
      await vc.dispose();
    }
    await expect(VggtGradients.create(fx.model, fx.cfg, { attentionChunk: 1.5 })).rejects.toBeInstanceOf(HessError);
  });

  it('bad seeds and bad weight updates are typed errors', async () => {
    const none = await vg.backward(fwd, {}, () => {}).catch((e) => e);
    expect(none).toBeInstanceOf(HessError);
    const short = await vg.backward(fwd, { poseEnc: new Float32Array(5) }, () => {}).catch((e) => e);
    expect(short).toBeInstanceOf(HessError);
    expect(() => vg.setBlockWeight('global', 99, 'attn.qkv.weight', new Float32Array(1))).toThrow(HessError);
    expect(() => vg.setBlockWeight('global', 0, 'nope', new Float32Array(1))).toThrow(HessError);
  });
});
