import { describe, expect, it } from 'vitest';
import { mustHave, testDevice } from '../../helpers/gpu.js';
import { fromF16, toF16 } from '../../../src/attention/f16.js';
import { freshSeed, randn, rng } from '../../helpers/random.js';
import { createStorageBuffer, poisonBuffer, readBuffer } from '../../../src/gpu/buffers.js';
import { buildMasksGpu, encodeMaskBuild } from '../../../src/mask/gpu-mask.js';
import { buildMasks, poolBlocks } from '../../../src/mask/wasm.js';
import { PlannerWasm } from '../../../src/wasm/planner-module.js';
import { maskLayout } from '../../../src/mask/layout.js';
import type { MaskInput } from '../../../src/mask/input.js';
import { HessError } from '../../../src/errors.js';

// Outputs are poisoned after encodeMaskBuild creates them and before the submit (queue writes run first), so an
// element the kernels forget to write reads back as the NaN pattern and fails the comparison.
async function gpuMask(inp: MaskInput) {
  const gpu = await testDevice();
  const q = createStorageBuffer(gpu.device, inp.q),
    k = createStorageBuffer(gpu.device, inp.k);
  const enc = gpu.device.createCommandEncoder();
  const m = encodeMaskBuild(gpu, enc, { ...inp, q, k });
  poisonBuffer(gpu.device, m.indices);
  poisonBuffer(gpu.device, m.pooledQ);
  poisonBuffer(gpu.device, m.pooledK);
  gpu.device.queue.submit([enc.finish()]);
  const total = m.offsets[m.offsets.length - 1];
  const indices = new Uint32Array(await readBuffer(gpu.device, m.indices, total * 4));
  const pq = new Uint32Array(await readBuffer(gpu.device, m.pooledQ));
  const pk = new Uint32Array(await readBuffer(gpu.device, m.pooledK));
  m.destroy();
  q.destroy();
  k.destroy();
  return { indices, offsets: m.offsets, pq, pk };
}

describe('WGSL mask builder: bit-identical to the Wasm builder', () => {
  const cases: [number, number, number, number, number, number][] = [
    [3, 5 + 150, 4, 16, 32, 16],
    [2, 5 + 300, 2, 64, 128, 64],
    [4, 5 + 45, 3, 8, 16, 4], // 44 candidate blocks, odd sizes
    [2, 5 + 1700, 1, 4, 8, 1], // 3400 candidate blocks: beyond the workgroup key cache (recompute path)
  ];
  for (const [S, P, H, d, qb, kb] of cases) {
    it(`S=${S} P=${P} H=${H} d=${d} blocks ${qb}/${kb}`, async () => {
      const rand = rng(freshSeed(`gpu mask ${S}x${P}`));
      const L = maskLayout(S, P, qb, kb);
      const K = L.candidateKeyBlocks;
      const budgets = Array.from({ length: H }, (_, h) =>
        h === 0 ? Math.min(2, K) : h === 1 ? K : Math.floor(rand() * (K + 1)),
      );
      const inp: MaskInput = {
        q: randn(S * P * H * d, rand),
        k: randn(S * P * H * d, rand),
        S,
        P,
        heads: H,
        headDim: d,
        budgets,
        queryBlock: qb,
        keyBlock: kb,
      };
      const wasm = await PlannerWasm.load();
      const want = buildMasks(wasm, inp);
      const pooled = poolBlocks(wasm, inp);
      const got = await gpuMask(inp);
      expect(Array.from(got.pq.subarray(0, pooled.q.length))).toEqual(Array.from(new Uint32Array(pooled.q.buffer)));
      expect(Array.from(got.pk.subarray(0, pooled.k.length))).toEqual(Array.from(new Uint32Array(pooled.k.buffer)));
      expect(Array.from(got.offsets)).toEqual(Array.from(want.offsets));
      expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
    });
  }

  it('f16 Q/K (an fp16 model) give the Wasm masks of their f32 widening, bit for bit, windows included', async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const rand = rng(freshSeed('gpu mask f16'));
    const S = 3,
      P = 5 + 200,
      H = 2,
      d = 8;
    const [qh, kh] = [toF16(randn(S * P * H * d, rand)), toF16(randn(S * P * H * d, rand))];
    const inp: MaskInput = {
      q: fromF16(qh),
      k: fromF16(kh),
      S,
      P,
      heads: H,
      headDim: d,
      budgets: [3, 11],
      queryBlock: 16,
      keyBlock: 8,
    };
    const want = buildMasks(await PlannerWasm.load(), inp);
    const q = createStorageBuffer(gpu.device, qh),
      k = createStorageBuffer(gpu.device, kh);
    for (const maxBindingBytes of [undefined, 1024]) {
      const got = await buildMasksGpu(gpu, { ...inp, q, k, dtype: 'f16', maxBindingBytes });
      expect(Array.from(got.offsets)).toEqual(Array.from(want.offsets));
      expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
    }
    q.destroy();
    k.destroy();
  });

  it('Q/K larger than one binding are pooled through windows (forced small binding limit)', async () => {
    const rand = rng(freshSeed('gpu windows'));
    const S = 3,
      P = 5 + 200,
      H = 2,
      d = 8; // rows of 64 B; a 2 KiB window holds 32 rows
    const inp: MaskInput = {
      q: randn(S * P * H * d, rand),
      k: randn(S * P * H * d, rand),
      S,
      P,
      heads: H,
      headDim: d,
      budgets: [3, 11],
      queryBlock: 16,
      keyBlock: 8,
    };
    const gpu = await testDevice();
    const q = createStorageBuffer(gpu.device, inp.q),
      k = createStorageBuffer(gpu.device, inp.k);
    const want = buildMasks(await PlannerWasm.load(), inp);
    expect(await buildMasksGpu(gpu, { ...inp, q, k, maxBindingBytes: 2048 })).toEqual(want);
    await expect(buildMasksGpu(gpu, { ...inp, q, k, maxBindingBytes: 512 })).rejects.toThrow(
      /maxStorageBufferBindingSize/,
    );
    q.destroy();
    k.destroy();
  });

  it('ties (many equal pooled logits) resolve to the lower index exactly as in Wasm', async () => {
    const rand = rng(freshSeed('gpu ties'));
    const S = 2,
      P = 5 + 400,
      H = 2,
      d = 8;
    // Values on a coarse grid: pooled means and logits collide often.
    const grid = (n: number) => Float32Array.from({ length: n }, () => Math.floor(rand() * 3) - 1);
    const inp: MaskInput = {
      q: grid(S * P * H * d),
      k: grid(S * P * H * d),
      S,
      P,
      heads: H,
      headDim: d,
      budgets: [7, 30],
      queryBlock: 32,
      keyBlock: 8,
    };
    const want = buildMasks(await PlannerWasm.load(), inp);
    const got = await gpuMask(inp);
    expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
  });

  it('buildMasksGpu reads back the same BlockMask; bad shapes throw typed errors', async () => {
    const gpu = await testDevice();
    const rand = rng(freshSeed('gpu readback'));
    const S = 2,
      P = 5 + 100,
      H = 2,
      d = 8;
    const inp: MaskInput = {
      q: randn(S * P * H * d, rand),
      k: randn(S * P * H * d, rand),
      S,
      P,
      heads: H,
      headDim: d,
      budgets: [3, 9],
      queryBlock: 16,
      keyBlock: 8,
    };
    const q = createStorageBuffer(gpu.device, inp.q),
      k = createStorageBuffer(gpu.device, inp.k);
    const m = await buildMasksGpu(gpu, { ...inp, q, k });
    expect(m).toEqual(buildMasks(await PlannerWasm.load(), inp));
    await expect(buildMasksGpu(gpu, { ...inp, q, k, S: 3 })).rejects.toThrow(HessError);
    await expect(buildMasksGpu(gpu, { ...inp, q, k, headDim: 256 })).rejects.toThrow(/headDim ≤ 128/);
    q.destroy();
    k.destroy();
  });
});
