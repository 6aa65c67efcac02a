import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blockParams } from '../../../src/model/estimate/terms.js';
import {
  cameraHeadParams,
  checkMemoryFit,
  dptHeadParams,
  estimateMemory,
  VGGT_1B_CONFIG,
} from '../../../src/model/vggt/estimate.js';
import { FIXTURE, loadFixture } from '../../../bench/vggt-tiny.js';
import { MAX_TOKENS } from '../../../src/mask/layout.js';

const GiB = 2 ** 30;
const haveFixture = existsSync(`${FIXTURE}/model.safetensors`);

describe('memory estimate: parameter terms', () => {
  it.skipIf(!haveFixture)("weight terms equal the fixture checkpoint's tensor sizes", async () => {
    const { model, cfg } = await loadFixture();
    const numel = (pred: (n: string) => boolean) =>
      [...model.tensors.values()].filter((t) => pred(t.name)).reduce((a, t) => a + t.numel, 0);
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

  it("the largest buffer: a DPT chunk's full-res maps up to S = 32, then a DINO MLP-hidden token chunk (no scores on WebGPU)", () => {
    // DPT frames per run: ⌊min(L = 2 GiB, 1 GiB) / 128·518²·4⌋ = 7 at 518²
    const f = Math.floor(GiB / (128 * 518 * 518 * 4));
    expect(f).toBe(7);
    expect(at(8).largestBuffer).toMatchObject({
      name: expect.stringMatching(/full-res/),
      bytes: f * 128 * 518 * 518 * 4,
    });
    expect(at(8).input.framesChunk).toBe(f);
    // token rows per chunk n = ⌊L / (4·max(3C, M))⌋ = ⌊2³¹ / (4·4096)⌋ = 131072; once S·T passes n the MLP hidden
    // chunk [n, M] is the largest buffer, n·M·4 = L exactly (fp32) and half of it in fp16
    const n = Math.floor(2 ** 31 / (4 * 4096));
    expect(at(100).largestBuffer).toMatchObject({ name: expect.stringMatching(/MLP hidden/), bytes: n * 4096 * 4 });
    expect(at(100, { dtype: 'fp16' }).largestBuffer.bytes).toBe(n * 4096 * 2);
    // a smaller limit shrinks the chunks (and the DPT frames) with it
    expect(at(40, { limitBytes: 2 ** 28 }).largestBuffer.bytes).toBeLessThanOrEqual(2 ** 28);
    expect(at(40, { limitBytes: 2 ** 28 }).input.chunkTokens).toBe(2 ** 28 / (4 * 4096));
    for (const stage of at(32).stages) expect(stage.terms.some((t) => /scores|probs/.test(t.name))).toBe(false);
  });

  it("the attention cores' whole [S·P, C] tensors bound S: ⌊L / (max(P,T)·C·4)⌋ = 381 at 2 GiB, 763 at 4 GiB", () => {
    const perFrame = 1374 * 1024 * 4; // P = T = 1374 at 518², counted at 4 bytes/element as Aggregator.run does
    const [s2, s4] = [2, 4].map((g) => Math.floor((g * GiB) / perFrame));
    expect([s2, s4]).toEqual([381, 763]);
    const r2 = checkMemoryFit(
      VGGT_1B_CONFIG,
      { S: 400, H: 518, W: 518 },
      { maxStorageBufferBindingSize: 2 * GiB, maxBufferSize: 8 * GiB },
    );
    expect(r2).toMatchObject({ fits: false, code: 'LIMIT_TOO_SMALL', largestS: s2 });
    expect(
      checkMemoryFit(VGGT_1B_CONFIG, { S: 800, H: 518, W: 518 }, { maxStorageBufferBindingSize: 4 * GiB }).largestS,
    ).toBe(s4);
    // fp16 does not move the bound: the check counts 4 bytes/element
    expect(
      checkMemoryFit(
        VGGT_1B_CONFIG,
        { S: 400, H: 518, W: 518, dtype: 'fp16' },
        { maxStorageBufferBindingSize: 2 * GiB },
      ).largestS,
    ).toBe(s2);
    expect(
      checkMemoryFit(VGGT_1B_CONFIG, { S: s2, H: 518, W: 518 }, { maxStorageBufferBindingSize: 2 * GiB }).fits,
    ).toBe(true);
  });

  it('with no limit that stops it, the largest S is the most frames one run can hold (2^28 tokens), sparse too', () => {
    const P = VGGT_1B_CONFIG.patchStartIdx + 37 * 37;
    const most = Math.floor(MAX_TOKENS / P);
    for (const policy of ['dense', 'hess'] as const) {
      for (const limits of [{}, { maxWasmBytes: 4 * GiB }]) {
        const r = checkMemoryFit(VGGT_1B_CONFIG, { S: 8, H: 518, W: 518, policy }, limits);
        expect(r).toEqual({ fits: true, largestS: most });
      }
    }
    // a budget still bounds it below that
    expect(
      checkMemoryFit(VGGT_1B_CONFIG, { S: 8, H: 518, W: 518, policy: 'hess' }, { maxGpuBytes: 80e9 }).largestS,
    ).toBeLessThan(most);
  });

  it('a GPU budget gives OUT_OF_MEMORY and the largest S that fits it', () => {
    const budget = 16e9;
    const r = checkMemoryFit(VGGT_1B_CONFIG, { S: 200, H: 518, W: 518 }, { maxGpuBytes: budget });
    expect(r.fits).toBe(false);
    expect(r.code).toBe('OUT_OF_MEMORY');
    expect(r.largestS).toBeGreaterThan(0);
    expect(at(r.largestS).gpuBytes).toBeLessThanOrEqual(budget);
    expect(at(r.largestS + 1).gpuBytes).toBeGreaterThan(budget);
  });

  it("grows with S; fp16 halves the aggregator's and the heads' terms; a sparse policy adds the kernel's scratch", () => {
    const S = [1, 2, 8, 32].map((s) => at(s).gpuBytes);
    for (let i = 1; i < S.length; i++) expect(S[i]!).toBeGreaterThan(S[i - 1]!);
    const f32 = at(8),
      f16 = at(8, { dtype: 'fp16' });
    const term = (e: typeof f32, name: RegExp) => e.stages[0]!.terms.find((t) => name.test(t.name))!.bytes;
    expect(term(f16, /aggregator block weights/)).toBe(term(f32, /aggregator block weights/) / 2);
    for (const h of [/camera head weights/, /depth head weights/, /point head weights/])
      expect(term(f16, h)).toBe(term(f32, h) / 2);
    // head weights are GPU inputs on WebGPU: the camera head's 216 M parameters are 0.86 GB of them in fp32
    expect(term(f32, /camera head weights/)).toBe(cameraHeadParams(VGGT_1B_CONFIG.camera!) * 4);
    // the frame stage's activations (without the weights; with the head layers handed over on the GPU in the
    // model's dtype) halve in fp16
    const frame = (e: typeof f32) => {
      const st = e.stages.find((s) => s.stage === 'frame')!;
      expect(st.terms.find((t) => /head layers/.test(t.name))!.on).toBe('gpu');
      return st.gpuBytes - e.stages[0]!.gpuBytes;
    };
    expect(frame(f16) / frame(f32)).toBeCloseTo(0.5, 2);
    // a DPT head's chunk doubles in fp16 (half the bytes per frame) and its per-chunk maps stay the same size
    expect(f16.input.framesChunk).toBe(Math.floor(GiB / (128 * 518 * 518 * 2))); // 15 (fp32: 7)
    const heads = (e: typeof f32) => e.stages.find((s) => s.stage === 'heads')!;
    expect(heads(f16).gpuBytes).toBeLessThan(heads(f32).gpuBytes * 0.6);
    expect(at(8, { policy: 'hess' }).stages.find((s) => s.stage === 'attention')!.gpuBytes).toBeGreaterThan(
      f32.stages.find((s) => s.stage === 'attention')!.gpuBytes,
    );
    // resident weights: 1.26 B parameters less DINO's unused tensors, fp32 (~4.4 GiB)
    expect(f32.stages[0]!.gpuBytes / GiB).toBeGreaterThan(4.3);
    expect(f32.stages[0]!.gpuBytes / GiB).toBeLessThan(4.7);
    expect(() => at(1, { dtype: 'fp16', ep: 'wasm', attention: 'onnx' })).toThrow(/WebGPU/);
  });

  it("fp16 meets the issue's targets: ≤ 3 GB at S = 1, ≤ 8 GB at S = 32, S = 100 within 24 GB", () => {
    const gb = (S: number) => at(S, { dtype: 'fp16' }).gpuBytes / 1e9;
    expect(gb(1)).toBeLessThan(3);
    expect(gb(32)).toBeLessThan(8);
    expect(gb(100)).toBeLessThan(24);
    // at S = 1 the resident weights dominate: aggregator and heads, all float16
    const w = at(1, { dtype: 'fp16' }).stages[0]!.gpuBytes;
    expect(w / at(1).stages[0]!.gpuBytes).toBeCloseTo(0.5, 2);
  });

  it("chunkTokens shrinks only the per-chunk terms (the attention core's whole tensors stay)", () => {
    const whole = at(32),
      chunked = at(32, { chunkTokens: 4096 });
    const g = (e: typeof whole, stage: string) => e.stages.find((s) => s.stage === stage)!.gpuBytes;
    expect(g(chunked, 'global')).toBeLessThan(g(whole, 'global'));
    expect(g(chunked, 'dino')).toBeLessThan(g(whole, 'dino'));
    expect(g(chunked, 'attention')).toBe(g(whole, 'attention'));
  });

  it('the wasm EP runs local blocks on f frames at a time, f = max(1, min(S, ⌊256 MiB/(4·H·T²)⌋, ⌊rows/T⌋))', () => {
    const T = 1374;
    const f = Math.max(
      1,
      Math.min(
        8,
        Math.floor((256 * 2 ** 20) / (4 * 16 * T * T)),
        Math.floor(Math.floor((256 * 2 ** 20) / (4 * 4096)) / T),
      ),
    );
    expect(f).toBe(2);
    const e = estimateMemory(VGGT_1B_CONFIG, { S: 8, H: 518, W: 518, ep: 'wasm' });
    const scores = e.stages.find((s) => s.stage === 'frame')!.terms.find((t) => /local attention scores/.test(t.name))!;
    expect(scores).toMatchObject({ bufferBytes: f * 16 * T * T * 4, on: 'wasm' });
  });

  it('the wasm EP puts the dense global scores [H,N,N] in the wasm heap', () => {
    const e = estimateMemory(VGGT_1B_CONFIG, { S: 2, H: 518, W: 350, ep: 'wasm' });
    expect(e.gpuBytes).toBe(0);
    const N = 2 * (5 + 37 * 25);
    expect(e.stages.find((s) => s.stage === 'attention')!.wasmBytes).toBeGreaterThan(2 * 16 * N * N * 4);
    expect(
      checkMemoryFit(VGGT_1B_CONFIG, { S: 200, H: 518, W: 350, ep: 'wasm' }, { maxWasmBytes: 4 * GiB }),
    ).toMatchObject({ fits: false, code: 'OUT_OF_MEMORY' });
  });

  it('rejects shapes that are not multiples of the patch size', () => {
    expect(() => estimateMemory(VGGT_1B_CONFIG, { S: 1, H: 500, W: 518 })).toThrow(/multiples of 14/);
    expect(() => estimateMemory(VGGT_1B_CONFIG, { S: 0, H: 518, W: 518 })).toThrow(/positive integer/);
  });
});
