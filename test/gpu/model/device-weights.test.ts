// Weights prepared on the device (shaders/weight_prep.wgsl via loadBlockWeightsOnDevice) must be the host path's
// buffers bit for bit: loadBlockWeights (toFloat32 / readHalf, transposeLinear / transposeHalf) then an upload.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readBuffer } from '../../../src/gpu/buffers.js';
import { prepareWeights } from '../../../src/gpu/weight-prep.js';
import { bytesSource, fileSource, openSafetensors } from '../../../src/model/source/safetensors.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import { FIXTURE } from '../../../bench/vggt-tiny.js';
import { expectCode } from '../../helpers/errors.js';
import { loadBlockWeights, type ParamSpec } from '../../../src/model/trunk/blocks.js';
import { loadBlockWeightsOnDevice } from '../../../src/model/graph/device-weights.js';
import { type HeadParam, loadHeadFeeds, releaseFeeds } from '../../../src/model/heads/head-params.js';
import { loadOrt } from '../../../src/runtime/ort.js';
import { buildSafetensors, type Entry } from '../../cpu/model/st-helpers.js';
import { testDevice } from '../../helpers/gpu.js';
import { freshSeed, rng } from '../../helpers/random.js';

/** Random float32 bit patterns over the whole finite range, with edge values mixed in (subnormals, ±0, rounding ties, f16 limits). */
function nastyF32(n: number, rand: () => number, maxAbs = 60000): Float32Array {
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  const edges = [
    0,
    -0,
    65504,
    -65504,
    65519.99,
    2 ** -24,
    -(2 ** -24),
    2 ** -25,
    3 * 2 ** -26,
    2 ** -14,
    6.1e-5,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    1e-30,
    0.1,
  ];
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.15) out[i] = edges[Math.floor(rand() * edges.length)]!;
    else if (r < 0.3) {
      // random bit patterns with a small exponent (f16 subnormal/underflow territory)
      bits[i] =
        (rand() < 0.5 ? 0x80000000 : 0) | ((100 + Math.floor(rand() * 15)) << 23) | Math.floor(rand() * 0x800000);
    } else out[i] = (rand() * 2 - 1) * maxAbs * 2 ** -Math.floor(rand() * 30);
  }
  return out;
}

function f16Of(x: Float32Array): Uint16Array {
  // Random f16 bit patterns (all finite classes: subnormals included), independent of x's values.
  const h = new Uint16Array(x.length);
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < x.length; i++) {
    let v = (bits[i]! * 2654435761) >>> 16;
    if (((v >>> 10) & 0x1f) === 0x1f) v &= 0xbfff; // no Inf/NaN
    h[i] = v;
  }
  return h;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const bf16Of = (x: Float32Array) =>
  Uint16Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length), (b) => b >>> 16);

// A block-like set of tensors: Linear weights (odd and even out/in, transposed) and vectors (odd lengths too).
const specs: ParamSpec[] = [
  { key: 'qkv.weight', input: 'w_qkv', shape: [37, 3 * 21], linear: [3 * 21, 37] },
  { key: 'qkv.bias', input: 'b_qkv', shape: [3 * 21] },
  { key: 'fc.weight', input: 'w_fc', shape: [64, 130], linear: [130, 64] },
  { key: 'gamma', input: 'g', shape: [37] },
  { key: 'w1', input: 'w1', shape: [1, 1], linear: [1, 1] },
] as ParamSpec[];

async function checkpoint(dtype: 'F32' | 'F16' | 'BF16', seed: number, maxAbs?: number) {
  const rand = rng(seed);
  return openSafetensors(
    bytesSource(
      buildSafetensors(
        specs.map((s) => {
          const n = s.shape.reduce((a, c) => a * c, 1);
          const x = nastyF32(n, rand, maxAbs);
          const bytes = dtype === 'F32' ? bytesOf(x) : bytesOf(dtype === 'F16' ? f16Of(x) : bf16Of(x));
          return { name: `blk.${s.key}`, dtype, shape: s.linear ? [...s.linear] : s.shape, bytes };
        }),
      ),
    ),
  );
}

describe('weights prepared on the device equal the host path bit for bit', () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    for (const type of ['float32', 'float16'] as const) {
      it(`${dtype} checkpoint → ${type} buffers (transposed Linear weights, odd sizes)`, async () => {
        const { device } = await testDevice();
        // fp16 from F32/BF16: values within the f16 range (the host path refuses others, tested below).
        const st = await checkpoint(
          dtype,
          freshSeed(`device-weights ${dtype} ${type}`),
          type === 'float16' ? 6e4 : 3e38,
        );
        const host = await loadBlockWeights(st, 'blk', specs, type);
        const dev = await loadBlockWeightsOnDevice(st, 'blk', specs, type, device);
        expect(dev).not.toBeNull();
        for (const s of specs) {
          const want = host.get(s.input)!;
          const buf = dev!.get(s.input)!;
          const got = new Uint8Array(await readBuffer(device, buf, want.byteLength));
          expect(got, s.key).toEqual(bytesOf(want));
          buf.destroy();
        }
      });
    }
  }

  it('refuses NaN/Inf (BAD_CHECKPOINT, first element named) and f16 overflow (INVALID_ARGUMENT) like the host path', async () => {
    const { device } = await testDevice();
    const x = new Float32Array([1, 2, 3, 4, 5, 6]);
    const raw = (v: Float32Array) => ({
      name: 't',
      bytes: bytesOf(v),
      dtype: 'F32' as const,
      numel: v.length,
      checkFinite: true,
    });
    const nan = x.slice();
    nan[4] = NaN;
    nan[5] = Infinity;
    await expect(prepareWeights(device, [raw(nan)], false)).rejects.toMatchObject({
      code: 'BAD_CHECKPOINT',
      message: expect.stringContaining('NaN values (element 4)'),
    });
    const inf = x.slice();
    inf[3] = -Infinity;
    inf[5] = NaN;
    await expect(prepareWeights(device, [raw(x), raw(inf)], true)).rejects.toMatchObject({
      code: 'BAD_CHECKPOINT',
      message: expect.stringContaining('infinite values (element 3)'),
    });
    const big = x.slice();
    big[2] = 70000;
    await expect(prepareWeights(device, [raw(big)], true)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('float16 range'),
    });
    // Transposed, the reported element is still the checkpoint's (source) index.
    await expect(prepareWeights(device, [{ ...raw(nan), linear: [2, 3] }], false)).rejects.toMatchObject({
      message: expect.stringContaining('(element 4)'),
    });
    // Without the check (an F16 tensor read raw for an fp16 model, as the host path does), NaN passes.
    const h = new Uint16Array([0x3c00, 0x7e00]);
    const [ok] = await prepareWeights(
      device,
      [{ name: 'h', bytes: bytesOf(h), dtype: 'F16', numel: 2, checkFinite: false }],
      true,
    );
    expect(new Uint16Array(await readBuffer(device, ok!, 4))).toEqual(h);
    ok!.destroy();
  });

  it('falls back (null) when the reader has no raw bytes or a dtype the device does not convert', async () => {
    const { device } = await testDevice();
    expect(
      await loadBlockWeightsOnDevice({ read: async () => new Float32Array(1) }, 'blk', specs, 'float32', device),
    ).toBeNull();
    const st = await openSafetensors(bytesSource(buildSafetensors([{ name: 'blk.gamma', dtype: 'F64', shape: [37] }])));
    expect(await loadBlockWeightsOnDevice(st, 'blk', [specs[3]!], 'float32', device)).toBeNull();
  });

  it('head weights (loadHeadFeeds on WebGPU) equal the host loop bit for bit, F32/F16/BF16', async () => {
    const gpu = await testDevice();
    const ort = await loadOrt();
    const params: HeadParam[] = specs.map((s) => ({ key: s.key, input: s.input, dims: s.shape, linear: s.linear }));
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const st = await checkpoint(dtype, freshSeed(`device-weights heads ${dtype}`));
      // The host loop: a reader without raw bytes.
      const hostReader = { tensors: st.tensors, read: (n: string) => st.read(n) };
      const host = await loadHeadFeeds(hostReader, 'blk', params, ort, { ep: 'webgpu', gpu });
      const dev = await loadHeadFeeds(st, 'blk', params, ort, { ep: 'webgpu', gpu });
      expect(dev.bytes).toBe(host.bytes);
      for (const p of params) {
        const [h, d] = [host.feeds[p.input]!, dev.feeds[p.input]!];
        expect(d.dims).toEqual(h.dims);
        const n = 4 * p.dims.reduce((a, c) => a * c, 1);
        const want = new Uint8Array(await readBuffer(gpu.device, h.gpuBuffer as GPUBuffer, n));
        expect(new Uint8Array(await readBuffer(gpu.device, d.gpuBuffer as GPUBuffer, n)), `${dtype} ${p.key}`).toEqual(
          want,
        );
      }
      releaseFeeds(host);
      releaseFeeds(dev);
    }
    // A wrong value count (a truncated tensor, or one of another shape) is refused on the device path and the host
    // loop with one error, in float32 and float16.
    const st = await checkpoint('F32', 1);
    const hostReader = { tensors: st.tensors, read: (n: string) => st.read(n) };
    for (const type of ['float32', 'float16'] as const) {
      for (const dims of [[38], [36], [37, 2]]) {
        const bad: HeadParam[] = [{ key: 'gamma', input: 'g', dims }];
        const target = { ep: 'webgpu' as const, gpu };
        const [dev, host] = await Promise.all(
          [st, hostReader].map((r) => loadHeadFeeds(r, 'blk', bad, ort, target, undefined, type).catch((e) => e)),
        );
        expect(dev, `${type} [${dims}]`).toMatchObject({ code: 'BAD_CHECKPOINT' });
        expect(host.message).toBe(dev.message);
      }
    }
  });

  it.skipIf(!existsSync(`${FIXTURE}/model.safetensors`))(
    'Vggt.load on WebGPU: NaN or Inf in a block or head weight is BAD_CHECKPOINT naming the tensor',
    async () => {
      const gpu = await testDevice();
      const config = JSON.parse(readFileSync(`${FIXTURE}/config.json`, 'utf8'));
      for (const [name, bad] of [
        ['aggregator.global_blocks.7.mlp.fc1.weight', NaN],
        ['depth_head.scratch.output_conv1.weight', Infinity],
      ] as const) {
        const st = await openSafetensors(await fileSource(`${FIXTURE}/model.safetensors`));
        const entries: Entry[] = [];
        for (const t of st.tensors.values()) {
          const bytes = new Uint8Array(await st.readRaw(t.name));
          if (t.name === name) new Float32Array(bytes.buffer)[5] = bad;
          entries.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], bytes });
        }
        await st.close();
        await expectCode(
          Vggt.load(buildSafetensors(entries), { device: gpu, config }),
          'BAD_CHECKPOINT',
          new RegExp(`${name.replace(/\./g, '\\.')} holds`),
        );
      }
    },
  );
});
