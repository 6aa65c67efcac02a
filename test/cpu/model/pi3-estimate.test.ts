import { describe, expect, it } from 'vitest';
import {
  estimatePi3Memory,
  PI3_CONFIG,
  pi3HeadsMemory,
  pi3HeadsParams,
  pi3TrunkEstimateConfig,
} from '../../../src/model/pi3/estimate.js';
import { pi3HeadsWeightBytes } from '../../../src/model/pi3/heads.js';
import { pi3HeadsInputsGraph } from '../../../src/model/pi3/heads-graph.js';
import { Pi3 } from '../../../src/model/pi3/model.js';
import { estimateMemory } from '../../../src/model/vggt/estimate.js';
import { HAVE_PI3_FIXTURE, loadPi3HeadsFixture, PI3_FIXTURE } from '../../fixtures/pi3-tiny-heads.js';

const GiB = 2 ** 30;

// yyfz233/Pi3 written out from the reference (yyfz/Pi3 pi3/models/pi3.py), not from src: a ViT-L/14 DINOv2 encoder
// (24 × 1024, 4 registers), 36 decoder blocks of width 1024 (16 heads of 64, MLP 4096, q/k norm), 5 register
// tokens, rope100; point/conf decoders TransformerDecoder(in 2048, 1024, 16 heads, out 1024), the camera decoder
// out 512, each 5 blocks of MLP ratio 4; LinearPts3d heads (14² · 3 and 14² · 1 channels), CameraHead(512).
const FULL = {
  encoder: { dim: 1024, depth: 24, heads: 16, mlp: 4096, registers: 4, posGrid: 37 },
  decoder: { dim: 1024, blocks: 36, heads: 16, headDim: 64, mlp: 4096, registers: 5 },
  headDecoder: { inDim: 2048, dim: 1024, depth: 5, heads: 16, mlp: 4096 },
  outDims: { point: 1024, conf: 1024, camera: 512 },
  patch: 14,
};

describe('π³ memory estimate: the heads', () => {
  it('PI3_CONFIG is yyfz233/Pi3 as the reference defines it', () => {
    const { trunk, heads, dims } = PI3_CONFIG;
    expect(trunk).toMatchObject({
      embedDim: FULL.decoder.dim,
      numHeads: FULL.decoder.heads,
      headDim: FULL.decoder.headDim,
      depth: FULL.decoder.blocks / 2,
      decoderDepth: FULL.decoder.blocks,
      mlpHiddenDim: FULL.decoder.mlp,
      patchSize: FULL.patch,
      numRegisterTokens: FULL.decoder.registers,
      patchStartIdx: FULL.decoder.registers,
      headHeads: FULL.headDecoder.heads,
      dino: {
        dim: FULL.encoder.dim,
        depth: FULL.encoder.depth,
        heads: FULL.encoder.heads,
        mlpHiddenDim: FULL.encoder.mlp,
        numRegisters: FULL.encoder.registers,
        posGrid: FULL.encoder.posGrid,
      },
    });
    expect(heads).toEqual({ heads: 16, registers: 5, patchSize: 14, ropeFreq: 100 });
    const { inDim, dim, depth, mlp } = FULL.headDecoder;
    expect(dims.decoders).toEqual({
      point_decoder: { inDim, dim, depth, mlp, outDim: FULL.outDims.point },
      conf_decoder: { inDim, dim, depth, mlp, outDim: FULL.outDims.conf },
      camera_decoder: { inDim, dim, depth, mlp, outDim: FULL.outDims.camera },
    });
    expect(dims.cameraDim).toBe(FULL.outDims.camera);
  });

  it("the heads' parameters: the fixture's head tensors, and 200 772 892 for yyfz233/Pi3 (766 MiB in fp32)", async () => {
    // by hand: per decoder projects 2048·1024 + 1024, 5 blocks of (4·1024 norms + qkv 3·1024² + 3072 + proj 1024² +
    // 1024 + fc1 4096·1024 + 4096 + fc2 1024·4096 + 1024), linear_out (1024 or 512)·1024 + bias; point head
    // 588·1024 + 588, conf 196·1024 + 196; camera head 8 × (512² + 512) + 3·512 + 3 + 9·512 + 9
    const block = 4 * 1024 + 3 * 1024 ** 2 + 3072 + 1024 ** 2 + 1024 + 4096 * 1024 + 4096 + 1024 * 4096 + 1024;
    const decoder = (out: number) => 2048 * 1024 + 1024 + 5 * block + out * 1024 + out;
    const camera = 8 * (512 ** 2 + 512) + 3 * 512 + 3 + 9 * 512 + 9;
    const full = 2 * decoder(1024) + decoder(512) + (588 * 1024 + 588) + (196 * 1024 + 196) + camera;
    expect(full).toBe(200_772_892);
    expect(pi3HeadsParams(PI3_CONFIG.dims, 14)).toBe(full);
    if (!HAVE_PI3_FIXTURE) return;
    const fx = await loadPi3HeadsFixture();
    const { dims } = pi3HeadsInputsGraph(fx.model.tensors, fx.config);
    expect(pi3HeadsParams(dims, fx.config.patchSize) * 4).toBe(pi3HeadsWeightBytes(fx.model.tensors));
  });

  it('at 518², S = 8, fp32 on WebGPU: the heads add their weights and one 8-frame chunk whose scores are the peak', () => {
    const S = 8;
    const T = 5 + 37 * 37; // 1374 tokens per frame
    const e = estimatePi3Memory(PI3_CONFIG, { S, H: 518, W: 518 });
    // frames per head run: ⌊min(L = 2 GiB, 1 GiB) / one frame's scores 16·T²·4⌋ = 8
    const f = Math.floor(GiB / (16 * T * T * 4));
    expect(f).toBe(8);
    expect(e.input.framesChunk).toBe(f);
    const trunkOnly = estimateMemory(pi3TrunkEstimateConfig(PI3_CONFIG.trunk), { S, H: 518, W: 518 });
    const w = e.stages[0]!;
    expect(w.gpuBytes - trunkOnly.stages[0]!.gpuBytes).toBe(200_772_892 * 4);
    // the heads stage: resident weights, the trunk's RoPE tables and its last layer [S, T, 2C] on the GPU, then a
    // decoder block's Softmax: block input, q, k, v [f, T, 1024], scores + probs [f, 16, T, T] and the outputs made
    // so far (local points + conf [f, H, W, 4]); one chunk covers S, so the layer is read in place
    const heads = e.stages.find((s) => s.stage === 'heads')!;
    const rope = 2 * S * T * 64 * 4;
    const layer = S * T * 2048 * 4;
    const phase = 4 * f * T * 1024 * 4 + 2 * f * 16 * T * T * 4 + f * 518 * 518 * 4 * 4;
    expect(heads.gpuBytes).toBe(w.gpuBytes + rope + layer + phase);
    expect(e.gpuBytes).toBe(heads.gpuBytes);
    expect(e.largestBuffer).toMatchObject({ name: expect.stringMatching(/scores/), bytes: f * 16 * T * T * 4 });
  });

  it("the heads' element size is a parameter: fp16 heads halve their weights; fp32 heads after an fp16 trunk take its layer through the host", () => {
    const at = (dtype: 'fp32' | 'fp16', heads: 'fp32' | 'fp16') =>
      estimatePi3Memory(PI3_CONFIG, { S: 8, H: 518, W: 518, dtype }, undefined, heads);
    const weights = (e: ReturnType<typeof at>) => e.stages[0]!.terms.find((t) => /π³ head weights/.test(t.name))!;
    expect(weights(at('fp32', 'fp32')).bytes).toBe(200_772_892 * 4);
    expect(weights(at('fp16', 'fp16')).bytes).toBe(200_772_892 * 2);
    expect(weights(at('fp16', 'fp32')).bytes).toBe(200_772_892 * 4);
    const layer = (e: ReturnType<typeof at>) =>
      e.stages.find((s) => s.stage === 'frame')!.terms.find((t) => /head layers/.test(t.name))!;
    expect(layer(at('fp16', 'fp16'))).toMatchObject({ on: 'gpu', bytes: 8 * 1374 * 2048 * 2 });
    expect(layer(at('fp16', 'fp32'))).toMatchObject({ on: 'host', bytes: 8 * 1374 * 2048 * 4 });
    // a host layer is uploaded per chunk: the chunk's input [f, T, 2C] joins the heads' phases
    const input = (e: ReturnType<typeof at>) =>
      e.stages.find((s) => s.stage === 'heads')!.terms.find((t) => /input \[f,T,2C\]/.test(t.name));
    expect(input(at('fp16', 'fp32'))?.bytes).toBe(8 * 1374 * 2048 * 4);
    expect(input(at('fp16', 'fp16'))).toBeUndefined();
  });

  it('more frames than one chunk: the span is copied per chunk; the wasm EP copies the weights into its heap per run', () => {
    const T = 1374;
    const e = estimatePi3Memory(PI3_CONFIG, { S: 20, H: 518, W: 518 });
    const heads = e.stages.find((s) => s.stage === 'heads')!;
    expect(heads.terms.find((t) => /input \[f,T,2C\]/.test(t.name))!.bytes).toBe(8 * T * 2048 * 4);
    expect(heads.hostBytes).toBeGreaterThanOrEqual(20 * 518 * 518 * 7 * 4); // points, local points, conf
    const wasm = estimatePi3Memory(PI3_CONFIG, { S: 2, H: 518, W: 518, ep: 'wasm' });
    expect(wasm.gpuBytes).toBe(0);
    // frames per run on the wasm EP: ⌊256 MiB / (16·T²·4)⌋ = 2
    expect(wasm.input.framesChunk).toBe(2);
    const wh = wasm.stages.find((s) => s.stage === 'heads')!;
    expect(wh.terms.find((t) => /per-run copy/.test(t.name) && /π³/.test(t.name))).toMatchObject({
      bytes: 200_772_892 * 4,
      on: 'wasm',
    });
    expect(wh.wasmBytes).toBeGreaterThan(200_772_892 * 4 + 2 * 2 * 16 * T * T * 4);
  });

  it('the pre-flight sees the heads: the largest S under a budget is smaller than the trunk alone allows', () => {
    const budget = 6 * GiB;
    const input = { S: 64, H: 518, W: 518 };
    const r = estimatePi3Memory(PI3_CONFIG, input, { maxGpuBytes: budget }).fit!;
    expect(r).toMatchObject({ fits: false, code: 'OUT_OF_MEMORY' });
    expect(estimatePi3Memory(PI3_CONFIG, { ...input, S: r.largestS }).gpuBytes).toBeLessThanOrEqual(budget);
    expect(estimatePi3Memory(PI3_CONFIG, { ...input, S: r.largestS + 1 }).gpuBytes).toBeGreaterThan(budget);
    // the heads' part alone: the same model without them fits more
    const trunk = pi3TrunkEstimateConfig(PI3_CONFIG.trunk);
    const heads = pi3HeadsMemory(PI3_CONFIG.heads, PI3_CONFIG.dims, 'fp32');
    expect(heads.framesChunk({ S: 1, H: 518, W: 518, ep: 'webgpu', dtype: 'fp32', limitBytes: 2 ** 31 })).toBe(8);
    expect(estimateMemory(trunk, { ...input, S: r.largestS + 1 }).gpuBytes).toBeLessThan(budget);
  });
});

describe.skipIf(!HAVE_PI3_FIXTURE)('π³ memory estimate of a loaded model (pi3-tiny, wasm EP)', () => {
  it("Pi3.estimate is the formula's for the checkpoint's widths and frames per head run", async () => {
    const fx = await loadPi3HeadsFixture();
    const model = await Pi3.load(PI3_FIXTURE, { device: 'wasm' });
    try {
      const { dims } = pi3HeadsInputsGraph(fx.model.tensors, fx.config);
      const input = { S: 2, H: 70, W: 98 };
      const est = model.estimate(input);
      const formula = estimatePi3Memory(
        { trunk: model.config, heads: fx.config, dims },
        { ...input, ep: 'wasm', attention: 'onnx' },
      );
      expect(est.wasmBytes).toBe(formula.wasmBytes);
      expect(est.hostBytes).toBe(formula.hostBytes);
      expect(est.stages[0]!.terms.find((t) => /π³ head weights/.test(t.name))!.bytes).toBe(
        pi3HeadsWeightBytes(fx.model.tensors),
      );
      // a heap one byte short of the estimate does not fit; one frame less does
      const fit = model.estimate(input, { maxWasmBytes: est.wasmBytes - 1 }).fit!;
      expect(fit).toMatchObject({ fits: false, code: 'OUT_OF_MEMORY', largestS: 1 });
    } finally {
      await model.dispose();
    }
  });
});
