import { describe, expect, it, vi } from 'vitest';
import type { Tensor } from 'onnxruntime-web';
import { toF16 } from '../../../src/attention/f16.js';
import { Aggregator, disposeLayers } from '../../../src/model/trunk/aggregator.js';
import type { AttentionCore } from '../../../src/model/trunk/attention-core.js';
import { bytesSource, openSafetensors } from '../../../src/model/source/safetensors.js';
import { WgslAttention } from '../../../src/runtime/wgsl-attention.js';
import { loadOrt } from '../../../src/runtime/ort.js';
import { mustHave, testDevice } from '../../helpers/gpu.js';
import { relError } from '../../helpers/random.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';
import { buildSafetensors } from '../../cpu/model/st-helpers.js';

const LAYERS = [4, 11, 17, 23];

/** The fixture checkpoint with every tensor stored as F16 (what an fp16 release looks like). */
async function f16Checkpoint() {
  const { model } = await loadFixture();
  const entries = [];
  for (const [name, info] of model.tensors) {
    const h = toF16(await model.read(name));
    entries.push({ name, dtype: 'F16' as const, shape: [...info.shape], bytes: new Uint8Array(h.buffer) });
  }
  return openSafetensors(bytesSource(buildSafetensors(entries)));
}

describe('aggregator in fp16 on the WebGPU EP (vggt-tiny vs the float64 reference)', () => {
  it('every head layer is within 1e-2 relative; the cores get float16 Q/K/V; an F16 checkpoint loads', async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const fx = await loadFixture();
    const { cfg, S, H, W, ref } = fx;
    const images = Float32Array.from(await ref('images'));
    const ort = await loadOrt();
    const target = { ep: 'webgpu' as const, gpu };

    const wgsl = await WgslAttention.create(ort, gpu);
    const types = new Set<string>();
    const spy: AttentionCore = {
      run: async (q: Tensor, k, v, N, h, d, ctx) => {
        types.add(`${q.type}/${k.type}/${v.type}`);
        return wgsl.run(q, k, v, N, h, d, ctx);
      },
      dispose: async () => undefined,
    };
    const f32 = await Aggregator.create(fx.model, cfg, { target, attention: spy });
    const f16 = await Aggregator.create(fx.model, cfg, { target, attention: spy, dtype: 'fp16' });
    const f16ck = await Aggregator.create(await f16Checkpoint(), cfg, { target, attention: spy, dtype: 'fp16' });
    expect([f32.type, f16.type]).toEqual(['float32', 'float16']);
    types.clear();
    const a = await f32.run(images, { S, H, W }, { layers: LAYERS });
    expect([...types]).toEqual(['float32/float32/float32']);
    types.clear();
    const b = await f16.run(images, { S, H, W }, { layers: LAYERS });
    expect([...types]).toEqual(['float16/float16/float16']);
    const c = await f16ck.run(images, { S, H, W }, { layers: LAYERS });

    console.info('[aggregator fp16] layer | fp32 vs f64 | fp16 vs f64 | fp16 (F16 checkpoint) vs f64 | fp16 vs fp32');
    for (const l of LAYERS) {
      const r = await ref(`aggregated.${l}`);
      const [e32, e16, e16ck] = [a, b, c].map((o) => relError(o.layers.get(l)!, r));
      const d = relError(b.layers.get(l)!, a.layers.get(l)!);
      console.info(
        `[aggregator fp16] ${l} | ${e32.toExponential(2)} | ${e16.toExponential(2)} | ${e16ck.toExponential(2)} | ${d.toExponential(2)}`,
      );
      expect(e32).toBeLessThan(1e-4);
      expect(e16).toBeLessThan(1e-2);
      expect(e16ck).toBeLessThan(1e-2);
      // fp16 really rounded something (a float32 run mislabelled as fp16 would agree to ~1e-6).
      expect(d).toBeGreaterThan(1e-5);
    }
    for (const x of [f32, f16, f16ck]) await x.dispose();
    await wgsl.dispose();
  });

  it('token chunks of float16 rows (a tiny buffer limit) equal the unchunked fp16 run; setBlockWeight uploads f16', async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const images = Float32Array.from(await ref('images'));
    const ort = await loadOrt();
    const core = await WgslAttention.create(ort, gpu);
    const target = { ep: 'webgpu' as const, gpu };
    const whole = await Aggregator.create(model, cfg, { target, attention: core, dtype: 'fp16' });
    const chunked = await Aggregator.create(model, cfg, {
      target,
      attention: core,
      dtype: 'fp16',
      limits: { maxStorageBufferBindingSize: 32 * 1024 },
    });
    const a = await whole.run(images, { S, H, W }, { layers: [4, 23] });
    const b = await chunked.run(images, { S, H, W }, { layers: [4, 23] });
    expect(b.chunks.global).toBeGreaterThan(1);
    for (const l of [4, 23]) {
      const e = relError(b.layers.get(l)!, a.layers.get(l)!);
      console.info(
        `[aggregator fp16 chunked ${JSON.stringify(b.chunks)}] layer ${l}: vs unchunked ${e.toExponential(2)}`,
      );
      expect(e).toBeLessThanOrEqual(1e-5);
    }
    const bias = await model.read('aggregator.global_blocks.0.attn.proj.bias');
    chunked.setBlockWeight(
      'global',
      0,
      'attn.proj.bias',
      bias.map((w) => w + 0.5),
    );
    const moved = (await chunked.run(images, { S, H, W }, { layers: [4] })).layers.get(4)!;
    expect(relError(moved, a.layers.get(4)!)).toBeGreaterThan(1e-2);
    chunked.setBlockWeight('global', 0, 'attn.proj.bias', bias);
    const back = (await chunked.run(images, { S, H, W }, { layers: [4] })).layers.get(4)!;
    expect(relError(back, b.layers.get(4)!)).toBeLessThan(1e-6);
    for (const x of [whole, chunked]) await x.dispose();
    await core.dispose();
  });

  it("layersOn 'gpu': float16 [S, P, 2·C] tensors on the device, bit-equal to the host layers narrowed, no readback", async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const images = Float32Array.from(await ref('images'));
    const ort = await loadOrt();
    const core = await WgslAttention.create(ort, gpu);
    const agg = await Aggregator.create(model, cfg, {
      target: { ep: 'webgpu', gpu },
      ort,
      attention: core,
      dtype: 'fp16',
    });
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
      expect([t.location, t.type]).toEqual(['gpu-buffer', 'float16']);
      expect(t.dims).toEqual([S, out.P, 2 * cfg.embedDim]);
      const bits = (await t.getData()) as Uint16Array;
      // the host layers are these float16 values widened: narrowing them back is exact
      expect(
        Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength).equals(
          Buffer.from(toF16(host.layers.get(l)!).buffer),
        ),
      ).toBe(true);
    }
    disposeLayers(out.layers);
    await agg.dispose();
    await core.dispose();
  });

  it('the default dense ONNX core and the ONNX local path (Softmax in fp32 inside fp16 graphs) match too', async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const agg = await Aggregator.create(model, cfg, {
      target: { ep: 'webgpu', gpu },
      dtype: 'fp16',
      localAttention: 'onnx',
    });
    const out = await agg.run(Float32Array.from(await ref('images')), { S, H, W }, { layers: [23] });
    const e = relError(out.layers.get(23)!, await ref('aggregated.23'));
    console.info(`[aggregator fp16 onnx-local + dense onnx] layer 23: ${e.toExponential(2)}`);
    expect(e).toBeLessThan(1e-2);
    await agg.dispose();
  });

  it("dtype 'fp16' is refused on the wasm EP (INVALID_ARGUMENT) and on a device without shader-f16 (NO_SHADER_F16)", async () => {
    const gpu = await testDevice();
    const { model, cfg } = await loadFixture();
    await expect(Aggregator.create(model, cfg, { target: { ep: 'wasm' }, dtype: 'fp16' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    const noF16 = { ...gpu, features: { ...gpu.features, shaderF16: false } };
    await expect(
      Aggregator.create(model, cfg, { target: { ep: 'webgpu', gpu: noF16 }, dtype: 'fp16' }),
    ).rejects.toMatchObject({ code: 'NO_SHADER_F16', fix: expect.stringContaining('fp32') });
  });
});
