import { describe, expect, it } from 'vitest';
import { loadOrt } from '../../../src/runtime/ort.js';
import { Pi3Heads, pi3HeadsWeightBytes } from '../../../src/model/pi3/heads.js';
import { relError } from '../../helpers/random.js';
import { HAVE_PI3_FIXTURE, loadPi3HeadsFixture } from '../../fixtures/pi3-tiny-heads.js';

// The reference's head input (decoder blocks 34 and 35 concatenated) goes straight into the heads; every output
// must match the float64 reference run of yyfz/Pi3.
const TOL = 1e-4;

describe.skipIf(!HAVE_PI3_FIXTURE)('π³ heads on the wasm EP reproduce the pi3-tiny reference', () => {
  it('points, local points, conf and camera poses, in frame chunks', async () => {
    const fx = await loadPi3HeadsFixture();
    const refs = {
      points: await fx.ref('points'),
      localPoints: await fx.ref('local_points'),
      conf: await fx.ref('conf'),
      cameraPoses: await fx.ref('camera_poses'),
    };
    // chunk of 2 over 3 frames (a full and a partial chunk), a byte budget of 1.5 frames (one frame per run), and
    // the default budget (all frames in one run)
    const frame = 4 * Math.max(fx.config.heads * 40 * 40, 40 * 256, fx.H * fx.W * 3); // scores, MLP, point map
    for (const [framesChunk, chunkBytes, expected] of [
      [2, undefined, 2],
      [undefined, 1.5 * frame, 1],
      [undefined, undefined, fx.S],
    ]) {
      const heads = await Pi3Heads.create(fx.model, fx.config, { ep: 'wasm' }, { framesChunk, chunkBytes });
      expect(heads.dims.decoders.point_decoder).toEqual({ inDim: 128, dim: 64, depth: 5, mlp: 256, outDim: 64 });
      expect(heads.dims.cameraDim).toBe(32);
      expect(heads.weightBytes).toBe(pi3HeadsWeightBytes(fx.model.tensors));
      expect(heads.frameBytes(fx.H, fx.W)).toBe(frame);
      expect(Math.min(heads.framesPerRun(fx.H, fx.W), fx.S)).toBe(expected);
      const out = await heads.run(fx.hidden, fx.S, fx.H, fx.W);
      for (const k of ['points', 'localPoints', 'conf', 'cameraPoses'] as const) {
        const err = relError(out[k], refs[k]);
        console.info(`[pi3-heads] ${expected} frame(s) per run ${k} relError ${err.toExponential(3)}`);
        expect(out[k].length).toBe(refs[k].length);
        expect(err).toBeLessThan(TOL);
      }
      await heads.dispose();
    }
  });

  it('takes the input as a CPU onnxruntime-web tensor too', async () => {
    const fx = await loadPi3HeadsFixture();
    const ort = await loadOrt();
    const heads = await Pi3Heads.create(fx.model, fx.config, { ep: 'wasm' }, { ort, framesChunk: 1 });
    const t = new ort.Tensor('float32', fx.hidden, [fx.S, fx.hidden.length / fx.S / 128, 128]);
    const out = await heads.run(t, fx.S, fx.H, fx.W);
    expect(relError(out.points, await fx.ref('points'))).toBeLessThan(TOL);
    expect(relError(out.cameraPoses, await fx.ref('camera_poses'))).toBeLessThan(TOL);
    await heads.dispose();
  });

  it('the head count matters (it is not in the weight shapes)', async () => {
    const fx = await loadPi3HeadsFixture();
    const wrong = await Pi3Heads.create(fx.model, { ...fx.config, heads: 1 }, { ep: 'wasm' });
    const out = await wrong.run(fx.hidden, fx.S, fx.H, fx.W);
    expect(relError(out.localPoints, await fx.ref('local_points'))).toBeGreaterThan(1e-3);
    await wrong.dispose();
    await expect(Pi3Heads.create(fx.model, { ...fx.config, heads: 3 }, { ep: 'wasm' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('bad inputs, abort and dispose are typed errors', async () => {
    const fx = await loadPi3HeadsFixture();
    const heads = await Pi3Heads.create(fx.model, fx.config, { ep: 'wasm' });
    await expect(heads.run(fx.hidden, fx.S, fx.H + 1, fx.W)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await expect(heads.run(fx.hidden, fx.S, fx.H + 14, fx.W)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await expect(heads.run(fx.hidden, fx.S + 1, fx.H, fx.W)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await expect(heads.run(fx.hidden, 0, fx.H, fx.W)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const ac = new AbortController();
    ac.abort();
    await expect(heads.run(fx.hidden, fx.S, fx.H, fx.W, { signal: ac.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    });
    await heads.dispose();
    await expect(heads.run(fx.hidden, fx.S, fx.H, fx.W)).rejects.toMatchObject({ code: 'DISPOSED' });
    await expect(Pi3Heads.create(fx.model, fx.config, { ep: 'wasm' }, { framesChunk: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
