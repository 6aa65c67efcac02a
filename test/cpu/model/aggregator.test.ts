import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { Aggregator } from '../../../src/model/trunk/aggregator.js';
import { relError } from '../../helpers/random.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';

const LAYERS = [0, 4, 11, 17, 23];

describe('VGGT aggregator on onnxruntime-web (wasm EP) vs the float64 reference (vggt-tiny)', () => {
  it('reproduces aggregated.{0,4,11,17,23} to ≤ 1e-4 relative error', async () => {
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const images = Float32Array.from(await ref('images'));

    const t0 = performance.now();
    const agg = await Aggregator.create(model, cfg, { target: { ep: 'wasm' } });
    const t1 = performance.now();
    const out = await agg.run(images, { S, H, W }, { layers: LAYERS });
    const t2 = performance.now();
    console.info(`[aggregator wasm] create ${(t1 - t0).toFixed(0)} ms, run ${(t2 - t1).toFixed(0)} ms`);

    expect(out.patchStart).toBe(5);
    expect([...out.layers.keys()].sort((a, b) => a - b)).toEqual(LAYERS);
    for (const l of LAYERS) {
      const want = await ref(`aggregated.${l}`);
      const got = out.layers.get(l)!;
      expect(got.length).toBe(want.length);
      const e = relError(got, want);
      console.info(`[aggregator wasm] layer ${l}: relError ${e.toExponential(2)}`);
      expect(e).toBeLessThanOrEqual(1e-4);
    }

    // Bad input is a typed error, not a crash; an aborted signal stops the run.
    await expect(agg.run(images, { S, H: H + 1, W })).rejects.toBeInstanceOf(HessError);
    await expect(agg.run(images.subarray(1), { S, H, W })).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await expect(agg.run(images, { S, H, W }, { layers: [cfg.depth] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(agg.run(images, { S, H, W }, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'ABORTED',
    });
    await agg.dispose();
    await expect(agg.run(images, { S, H, W })).rejects.toMatchObject({ code: 'DISPOSED' });
  });
});
