import { describe, expect, it, vi } from 'vitest';
import type { Tensor } from 'onnxruntime-web';
import { Aggregator, disposeLayers } from '../../../src/model/trunk/aggregator.js';
import { type AttentionCore, DenseOnnxAttention } from '../../../src/model/trunk/attention-core.js';
import { loadOrt } from '../../../src/runtime/ort.js';
import { testDevice } from '../../helpers/gpu.js';
import { relError } from '../../helpers/random.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';

const LAYERS = [0, 4, 11, 17, 23];

describe('VGGT aggregator on the onnxruntime-web WebGPU EP (our device) vs the float64 reference (vggt-tiny)', () => {
  it('reproduces aggregated.{0,4,11,17,23} to ≤ 1e-4 relative error with GPU-resident weights and activations', async () => {
    const gpu = await testDevice();
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const images = Float32Array.from(await ref('images'));

    const t0 = performance.now();
    // Wrap the default dense core to see what the global blocks hand a pluggable core: GPU buffers, [N, H, d].
    const ort = await loadOrt();
    const dense = await DenseOnnxAttention.create(ort, { ep: 'webgpu', gpu }, cfg.numHeads, cfg.headDim);
    const seen: string[] = [];
    const spy: AttentionCore = {
      run: async (q, k, v, N, h, d, ctx) => {
        seen.push(`${ctx.block}:${q.location}/${k.location}/${v.location}:${q.dims.join('x')}`);
        return dense.run(q, k, v, N, h, d);
      },
      dispose: () => dense.dispose(),
    };
    const agg = await Aggregator.create(model, cfg, { target: { ep: 'webgpu', gpu }, attention: spy });
    const t1 = performance.now();
    const out = await agg.run(images, { S, H, W }, { layers: LAYERS });
    const t2 = performance.now();
    console.info(`[aggregator webgpu] create ${(t1 - t0).toFixed(0)} ms, run ${(t2 - t1).toFixed(0)} ms`);
    expect(agg.ep).toBe('webgpu');
    const N = S * out.P;
    expect(seen).toEqual(
      Array.from(
        { length: cfg.depth },
        (_, i) => `${i}:gpu-buffer/gpu-buffer/gpu-buffer:${N}x${cfg.numHeads}x${cfg.headDim}`,
      ),
    );
    expect([...out.layers.keys()].sort((a, b) => a - b)).toEqual(LAYERS);
    for (const l of LAYERS) {
      const e = relError(out.layers.get(l)!, await ref(`aggregated.${l}`));
      console.info(`[aggregator webgpu] layer ${l}: relError ${e.toExponential(2)}`);
      expect(e).toBeLessThanOrEqual(1e-4);
    }
    // A second run on the same sessions/weights gives the same answer (no state leaks between runs).
    const t3 = performance.now();
    const again = await agg.run(images, { S, H, W }, { layers: [23] });
    console.info(`[aggregator webgpu] second run ${(performance.now() - t3).toFixed(0)} ms`);
    expect(relError(again.layers.get(23)!, out.layers.get(23)!)).toBeLessThan(1e-6);
    expect(again.layers.size).toBe(1);
    await agg.dispose();
    await spy.dispose();
  });

  it("sessions: 'per-block' (weights baked into one session per block) on WebGPU matches too", async () => {
    const gpu = await testDevice();
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const t0 = performance.now();
    const agg = await Aggregator.create(model, cfg, { target: { ep: 'webgpu', gpu }, sessions: 'per-block' });
    const t1 = performance.now();
    const out = await agg.run(Float32Array.from(await ref('images')), { S, H, W }, { layers: [4, 23] });
    console.info(
      `[aggregator webgpu per-block] create ${(t1 - t0).toFixed(0)} ms, run ${(performance.now() - t1).toFixed(0)} ms`,
    );
    for (const l of [4, 23])
      expect(relError(out.layers.get(l)!, await ref(`aggregated.${l}`))).toBeLessThanOrEqual(1e-4);
    await agg.dispose();
  });

  it("layersOn 'gpu': the layers stay on the device as [S, P, 2·C] tensors, equal to the host ones, with no readback", async () => {
    const gpu = await testDevice();
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const images = Float32Array.from(await ref('images'));
    const ort = await loadOrt();
    const agg = await Aggregator.create(model, cfg, { target: { ep: 'webgpu', gpu }, ort });
    const host = await agg.run(images, { S, H, W }, { layers: [4, 23] });
    const reads: string[] = [];
    const getData = vi.spyOn(ort.Tensor.prototype, 'getData').mockImplementation(async function (this: Tensor) {
      reads.push(this.dims.join('x'));
      throw new Error('no readback expected');
    });
    let out;
    try {
      out = await agg.run(images, { S, H, W }, { layers: [4, 23], layersOn: 'gpu' });
    } finally {
      getData.mockRestore();
    }
    expect(reads).toEqual([]);
    for (const l of [4, 23]) {
      const t = out.layers.get(l)! as Tensor;
      expect(t.location).toBe('gpu-buffer');
      expect(t.dims).toEqual([S, out.P, 2 * cfg.embedDim]);
      const got = (await t.getData()) as Float32Array;
      expect(relError(got, host.layers.get(l)!)).toBeLessThan(1e-6);
      expect(relError(got, await ref(`aggregated.${l}`))).toBeLessThanOrEqual(1e-4);
    }
    disposeLayers(out.layers);
    expect([...out.layers.values()].map((t) => (t as Tensor).location)).toEqual(['none', 'none']);
    await agg.dispose();
  });

  it("layersOn 'gpu': a layer over the one-buffer limit comes back on the host instead", async () => {
    const gpu = await testDevice();
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const N = S * 40; // the fixture's P
    const C = cfg.embedDim;
    // [N, C] (what the attention cores need whole) fits; the [N, 2C] layer does not
    const limit = Math.floor(1.5 * N * C * 4);
    const agg = await Aggregator.create(model, cfg, {
      target: { ep: 'webgpu', gpu },
      limits: { maxStorageBufferBindingSize: limit },
    });
    const out = await agg.run(Float32Array.from(await ref('images')), { S, H, W }, { layers: [23], layersOn: 'gpu' });
    expect(out.P * S).toBe(N);
    const l = out.layers.get(23)!;
    expect(l).toBeInstanceOf(Float32Array);
    expect(relError(l as Float32Array, await ref('aggregated.23'))).toBeLessThanOrEqual(1e-4);
    await agg.dispose();
  });
});
