import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  blockParams, cameraHeadParams, checkMemoryFit, dptHeadParams, estimateMemory, VGGT_1B_CONFIG,
} from '../../../src/model/vggt/estimate';
import { FIXTURE, loadFixture } from '../../fixtures/vggt-tiny';

const GiB = 2 ** 30;
const haveFixture = existsSync(`${FIXTURE}/model.safetensors`);

describe('memory estimate: parameter terms', () => {
  it.skipIf(!haveFixture)('weight terms equal the fixture checkpoint\'s tensor sizes', async () => {
    const { model, cfg } = await loadFixture();
    const numel = (pred: (n: string) => boolean) => [...model.tensors.values()].filter((t) => pred(t.name)).reduce((a, t) => a + t.numel, 0);
    const dino = blockParams(cfg.dino.dim, cfg.dino.mlpHiddenDim, cfg.dino.headDim, false);
    const agg = blockParams(cfg.embedDim, cfg.mlpHiddenDim, cfg.headDim, true);
    expect(cfg.dino.depth * dino).toBe(numel((n) => n.startsWith('aggregator.patch_embed.blocks.')));
    expect(2 * cfg.depth * agg).toBe(numel((n) => /^aggregator\.(frame|global)_blocks\./.test(n)));
    expect(cameraHeadParams(cfg.camera!)).toBe(numel((n) => n.startsWith('camera_head.')));
    expect(dptHeadParams(cfg.depthHead!, 2 * cfg.embedDim)).toBe(numel((n) => n.startsWith('depth_head.')));
    expect(dptHeadParams(cfg.pointHead!, 2 * cfg.embedDim)).toBe(numel((n) => n.startsWith('point_head.')));
  });

  it('VGGT-1B head terms equal the parameter counts of the architecture reference', () => {
    // ../shared/reference/vggt-architecture.md, parameter table
    expect(cameraHeadParams(VGGT_1B_CONFIG.camera!)).toBe(216_174_610);
    expect(dptHeadParams(VGGT_1B_CONFIG.depthHead!, 2048)).toBe(32_654_562);
    expect(dptHeadParams(VGGT_1B_CONFIG.pointHead!, 2048)).toBe(32_654_628);
  });
});

describe('memory estimate: VGGT-1B at 518²', () => {
  const at = (S: number, extra = {}) => estimateMemory(VGGT_1B_CONFIG, { S, H: 518, W: 518, ...extra });

  it('the largest buffer: a DPT chunk\'s full-res map up to S = 8, then the local-attention scores [S,16,1374,1374]', () => {
    expect(at(8).largestBuffer).toMatchObject({ name: expect.stringMatching(/full-res/), bytes: 8 * 128 * 518 * 518 * 4 });
    expect(at(16).largestBuffer).toMatchObject({ name: expect.stringMatching(/local attention/), bytes: 16 * 16 * 1374 * 1374 * 4 });
  });

  it('a 2 GiB binding fits S ≤ 17, a 4 GiB one S ≤ 35 (the issue\'s S ≥ 18 / S ≥ 36)', () => {
    const r2 = checkMemoryFit(VGGT_1B_CONFIG, { S: 40, H: 518, W: 518 }, { maxStorageBufferBindingSize: 2 * GiB, maxBufferSize: 8 * GiB });
    expect(r2).toMatchObject({ fits: false, code: 'LIMIT_TOO_SMALL', largestS: 17 });
    const r4 = checkMemoryFit(VGGT_1B_CONFIG, { S: 40, H: 518, W: 518 }, { maxStorageBufferBindingSize: 4 * GiB });
    expect(r4.largestS).toBe(35);
    expect(checkMemoryFit(VGGT_1B_CONFIG, { S: 17, H: 518, W: 518 }, { maxStorageBufferBindingSize: 2 * GiB }).fits).toBe(true);
  });

  it('a GPU budget gives OUT_OF_MEMORY and the largest S that fits it', () => {
    const budget = 24e9;
    const r = checkMemoryFit(VGGT_1B_CONFIG, { S: 200, H: 518, W: 518 }, { maxGpuBytes: budget });
    expect(r.fits).toBe(false);
    expect(r.code).toBe('OUT_OF_MEMORY');
    expect(r.largestS).toBeGreaterThan(0);
    expect(at(r.largestS).gpuBytes).toBeLessThanOrEqual(budget);
    expect(at(r.largestS + 1).gpuBytes).toBeGreaterThan(budget);
  });

  it('grows with S; fp16 halves the model terms; a sparse policy adds the kernel\'s scratch', () => {
    const S = [1, 2, 8, 32].map((s) => at(s).gpuBytes);
    for (let i = 1; i < S.length; i++) expect(S[i]!).toBeGreaterThan(S[i - 1]!);
    const f32 = at(8), f16 = at(8, { dtype: 'fp16' });
    expect(f16.gpuBytes / f32.gpuBytes).toBeCloseTo(0.5, 2);
    expect(at(8, { policy: 'hess' }).stages.find((s) => s.stage === 'attention')!.gpuBytes)
      .toBeGreaterThan(f32.stages.find((s) => s.stage === 'attention')!.gpuBytes);
    // resident weights: 1.26 B parameters less DINO's unused tensors, fp32 (~4.7 GiB)
    expect(f32.stages[0]!.gpuBytes / GiB).toBeGreaterThan(4.4);
    expect(f32.stages[0]!.gpuBytes / GiB).toBeLessThan(4.8);
  });

  it('chunkTokens shrinks only the global pre/post and MLP terms', () => {
    const whole = at(32), chunked = at(32, { chunkTokens: 4096 });
    const g = (e: typeof whole) => e.stages.find((s) => s.stage === 'global')!.gpuBytes;
    expect(g(chunked)).toBeLessThan(g(whole));
    expect(chunked.stages.find((s) => s.stage === 'dino')!.gpuBytes).toBe(whole.stages.find((s) => s.stage === 'dino')!.gpuBytes);
  });

  it('the wasm EP puts the dense global scores [H,N,N] in the wasm heap', () => {
    const e = estimateMemory(VGGT_1B_CONFIG, { S: 2, H: 518, W: 350, ep: 'wasm' });
    expect(e.gpuBytes).toBe(0);
    const N = 2 * (5 + 37 * 25);
    expect(e.stages.find((s) => s.stage === 'attention')!.wasmBytes).toBeGreaterThan(2 * 16 * N * N * 4);
    expect(checkMemoryFit(VGGT_1B_CONFIG, { S: 200, H: 518, W: 350, ep: 'wasm' }, { maxWasmBytes: 4 * GiB })).toMatchObject({ fits: false, code: 'OUT_OF_MEMORY' });
  });

  it('rejects shapes that are not multiples of the patch size', () => {
    expect(() => estimateMemory(VGGT_1B_CONFIG, { S: 1, H: 500, W: 518 })).toThrow(/multiples of 14/);
    expect(() => estimateMemory(VGGT_1B_CONFIG, { S: 0, H: 518, W: 518 })).toThrow(/positive integer/);
  });
});
