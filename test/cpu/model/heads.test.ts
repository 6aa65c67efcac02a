import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { CameraHead } from '../../../src/model/vggt/camera-head.js';
import { DptHead, dptPosEmbed } from '../../../src/model/vggt/dpt-head.js';
import { relError } from '../../helpers/random.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';

// The fixture's aggregated layers go straight into the heads; outputs must match the float64 reference run.
const TOL = 1e-4;

describe('VGGT heads on the wasm EP reproduce the vggt-tiny reference', () => {
  it('camera head: pose_enc [S,9]', async () => {
    const fx = await loadFixture();
    expect(fx.cfg.camera?.heads).toBe(4);
    const head = await CameraHead.create(fx.model, fx.cfg.camera!, { ep: 'wasm' });
    const got = await head.run(fx.layers.get(23)!, fx.S);
    const ref = await fx.ref('pose_enc');
    const err = relError(got, ref);
    console.info(`[heads] camera pose_enc relError ${err.toExponential(3)}`);
    expect(got.length).toBe(fx.S * 9);
    expect(err).toBeLessThan(TOL);
    // the FoV ReLU is applied (non-negative) and the camera trunk's head count matters: 1 head gives other output
    for (let s = 0; s < fx.S; s++) expect(Math.min(got[s * 9 + 7]!, got[s * 9 + 8]!)).toBeGreaterThanOrEqual(0);
    const wrong = await CameraHead.create(
      fx.model,
      { ...fx.cfg.camera!, heads: 1, headDim: fx.cfg.camera!.dim },
      { ep: 'wasm' },
    );
    expect(relError(await wrong.run(fx.layers.get(23)!, fx.S), ref)).toBeGreaterThan(1e-3);
    await expect(head.run(new Float32Array(7), fx.S)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await head.dispose();
    await wrong.dispose();
    await expect(head.run(fx.layers.get(23)!, fx.S)).rejects.toMatchObject({ code: 'DISPOSED' });
  });

  it('depth head: depth [S,H,W,1] and depth_conf [S,H,W], in frame chunks', async () => {
    const fx = await loadFixture();
    const spec = {
      kind: 'depth' as const,
      head: fx.cfg.depthHead!,
      dimIn: 2 * fx.cfg.embedDim,
      patchSize: fx.cfg.patchSize,
      patchStartIdx: fx.cfg.patchStartIdx,
    };
    // chunk of 2 over 3 frames: exercises a full and a partial chunk
    const head = await DptHead.create(fx.model, spec, { ep: 'wasm' }, { framesChunk: 2 });
    const { values, conf } = await head.run(fx.layers, fx.S, fx.H, fx.W);
    const eD = relError(values, await fx.ref('depth'));
    const eC = relError(conf, await fx.ref('depth_conf'));
    console.info(`[heads] depth relError ${eD.toExponential(3)}, depth_conf ${eC.toExponential(3)}`);
    expect(values.length).toBe(fx.S * fx.H * fx.W);
    expect(eD).toBeLessThan(TOL);
    expect(eC).toBeLessThan(TOL);
    const ac = new AbortController();
    ac.abort();
    await expect(head.run(fx.layers, fx.S, fx.H, fx.W, { signal: ac.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    });
    await head.dispose();
  });

  it('point head: world_points [S,H,W,3] and world_points_conf [S,H,W]', async () => {
    const fx = await loadFixture();
    const spec = {
      kind: 'point' as const,
      head: fx.cfg.pointHead!,
      dimIn: 2 * fx.cfg.embedDim,
      patchSize: fx.cfg.patchSize,
      patchStartIdx: fx.cfg.patchStartIdx,
    };
    const head = await DptHead.create(fx.model, spec, { ep: 'wasm' });
    const { values, conf } = await head.run(fx.layers, fx.S, fx.H, fx.W);
    const eP = relError(values, await fx.ref('world_points'));
    const eC = relError(conf, await fx.ref('world_points_conf'));
    console.info(`[heads] world_points relError ${eP.toExponential(3)}, world_points_conf ${eC.toExponential(3)}`);
    expect(values.length).toBe(fx.S * fx.H * fx.W * 3);
    expect(eP).toBeLessThan(TOL);
    expect(eC).toBeLessThan(TOL);

    // bad inputs are typed errors
    await expect(head.run(fx.layers, fx.S, fx.H + 1, fx.W)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await expect(head.run(new Map([[4, fx.layers.get(4)!]]), fx.S, fx.H, fx.W)).rejects.toBeInstanceOf(HessError);
    await expect(head.run(fx.layers, fx.S + 1, fx.H, fx.W)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await head.dispose();
  });

  it('DPT uv position embedding follows the documented formula (spot values, float64)', () => {
    const [C, gh, gw, W, H] = [8, 3, 4, 56, 42];
    const e = dptPosEmbed(C, gh, gw, W, H);
    const ar = W / H;
    const d = Math.sqrt(ar * ar + 1);
    const q = C / 4;
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < gh; i++) {
        for (let j = 0; j < gw; j++) {
          const x = ((ar / d) * (2 * j + 1 - gw)) / gw;
          const y = ((1 / d) * (2 * i + 1 - gh)) / gh;
          const k = c % q;
          const om = 100 ** (-k / q);
          const want = [Math.sin(x * om), Math.cos(x * om), Math.sin(y * om), Math.cos(y * om)][Math.floor(c / q)]!;
          expect(e[(c * gh + i) * gw + j]).toBeCloseTo(want, 14);
        }
      }
    }
    expect(() => dptPosEmbed(6, 2, 2, 14, 14)).toThrow(HessError);
  });

  it('missing head weights are a BAD_CHECKPOINT error', async () => {
    const fx = await loadFixture();
    const empty = { tensors: new Map(), read: fx.model.read };
    await expect(CameraHead.create(empty, fx.cfg.camera!, { ep: 'wasm' })).rejects.toMatchObject({
      code: 'BAD_CHECKPOINT',
    });
  });
});
