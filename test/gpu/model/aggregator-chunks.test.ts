import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../../src/model/trunk/aggregator.js';
import { loadOrt } from '../../../src/runtime/ort.js';
import { WgslAttention } from '../../../src/runtime/wgsl-attention.js';
import { testDevice } from '../../helpers/gpu.js';
import { relError } from '../../helpers/random.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';

const LAYERS = [0, 4, 11, 17, 23];
// vggt-tiny (C = 64, MLP 256, S = 3, P = T = 40, N = 120): a 32 KiB limit holds one [N, C] attention tensor but
// only 32 rows of the MLP hidden: 4 token chunks per pre/post segment, 3 one-frame chunks per ONNX local block.
const TINY = { maxStorageBufferBindingSize: 32 * 1024 };

describe('VGGT aggregator on WebGPU: local attention paths and chunking vs the float64 reference (vggt-tiny)', () => {
  it("localAttention 'wgsl' + the WGSL global core: matches the reference, and token chunks equal it to 1e-5", async () => {
    const gpu = await testDevice();
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const images = Float32Array.from(await ref('images'));
    const ort = await loadOrt();
    const core = await WgslAttention.create(ort, gpu);
    const target = { ep: 'webgpu' as const, gpu };

    const t0 = performance.now();
    const whole = await Aggregator.create(model, cfg, { target, attention: core, localAttention: 'wgsl' });
    const a = await whole.run(images, { S, H, W }, { layers: LAYERS });
    console.info(
      `[aggregator webgpu wgsl/wgsl] ${(performance.now() - t0).toFixed(0)} ms, chunks ${JSON.stringify(a.chunks)}`,
    );
    expect(a.chunks).toEqual({ dino: 1, frame: 1, global: 1 });
    for (const l of LAYERS) {
      const e = relError(a.layers.get(l)!, await ref(`aggregated.${l}`));
      console.info(`[aggregator webgpu wgsl/wgsl] layer ${l}: relError ${e.toExponential(2)}`);
      expect(e).toBeLessThanOrEqual(1e-4);
    }
    await whole.dispose();

    const t1 = performance.now();
    const chunked = await Aggregator.create(model, cfg, { target, attention: core, limits: TINY });
    const b = await chunked.run(images, { S, H, W }, { layers: [4, 23] });
    console.info(
      `[aggregator webgpu wgsl/wgsl chunked] ${(performance.now() - t1).toFixed(0)} ms, chunks ${JSON.stringify(b.chunks)}`,
    );
    expect(b.chunks).toEqual({ dino: 4, frame: 4, global: 4 });
    for (const l of [4, 23]) {
      const e = relError(b.layers.get(l)!, a.layers.get(l)!);
      console.info(`[aggregator webgpu wgsl/wgsl chunked] layer ${l}: vs unchunked ${e.toExponential(2)}`);
      expect(e).toBeLessThanOrEqual(1e-5);
    }
    // setBlockWeight reaches a split frame block's pre- and post-segment weights (calibration perturbs them).
    const keys = ['attn.qkv.bias', 'mlp.fc2.bias'];
    const orig = await Promise.all(keys.map((k) => model.read(`aggregator.frame_blocks.0.${k}`)));
    keys.forEach((k, j) =>
      chunked.setBlockWeight(
        'frame',
        0,
        k,
        orig[j].map((w) => w + 0.5),
      ),
    );
    const moved = (await chunked.run(images, { S, H, W }, { layers: [0] })).layers.get(0)!;
    expect(relError(moved, a.layers.get(0)!)).toBeGreaterThan(1e-2);
    keys.forEach((k, j) => chunked.setBlockWeight('frame', 0, k, orig[j]));
    const back = (await chunked.run(images, { S, H, W }, { layers: [0] })).layers.get(0)!;
    expect(relError(back, a.layers.get(0)!)).toBeLessThanOrEqual(1e-5);
    expect(() => chunked.setBlockWeight('frame', 0, 'nope', orig[0])).toThrow(/no frame-block weight/);

    // Over the limit: a typed error before any work, naming the largest S that fits.
    const tight = await Aggregator.create(model, cfg, { target, attention: core, limits: { maxBufferSize: 30_000 } });
    await expect(tight.run(images, { S, H, W })).rejects.toMatchObject({
      code: 'LIMIT_TOO_SMALL',
      fix: expect.stringContaining('at most 2 frames'),
    });
    await Promise.all([chunked.dispose(), tight.dispose(), core.dispose()]);
  });

  it("localAttention 'onnx' + the ONNX global core: matches the reference, and frame + token chunks equal it to 1e-5", async () => {
    const gpu = await testDevice();
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const images = Float32Array.from(await ref('images'));
    const target = { ep: 'webgpu' as const, gpu };

    const t0 = performance.now();
    const whole = await Aggregator.create(model, cfg, { target, localAttention: 'onnx' });
    const a = await whole.run(images, { S, H, W }, { layers: LAYERS });
    console.info(
      `[aggregator webgpu onnx/onnx] ${(performance.now() - t0).toFixed(0)} ms, chunks ${JSON.stringify(a.chunks)}`,
    );
    for (const l of LAYERS) {
      const e = relError(a.layers.get(l)!, await ref(`aggregated.${l}`));
      console.info(`[aggregator webgpu onnx/onnx] layer ${l}: relError ${e.toExponential(2)}`);
      expect(e).toBeLessThanOrEqual(1e-4);
    }
    await whole.dispose();

    const t1 = performance.now();
    const chunked = await Aggregator.create(model, cfg, { target, localAttention: 'onnx', limits: TINY });
    const b = await chunked.run(images, { S, H, W }, { layers: [4, 23] });
    console.info(
      `[aggregator webgpu onnx/onnx chunked] ${(performance.now() - t1).toFixed(0)} ms, chunks ${JSON.stringify(b.chunks)}`,
    );
    expect(b.chunks).toEqual({ dino: 3, frame: 3, global: 4 });
    for (const l of [4, 23]) {
      const e = relError(b.layers.get(l)!, a.layers.get(l)!);
      console.info(`[aggregator webgpu onnx/onnx chunked] layer ${l}: vs unchunked ${e.toExponential(2)}`);
      expect(e).toBeLessThanOrEqual(1e-5);
    }
    await chunked.dispose();
  });
});
