import { describe, expect, it } from 'vitest';
import type { Tensor } from 'onnxruntime-web';
import { toF16 } from '../../../src/attention/f16.js';
import { CameraHead, cameraHeadInputsGraph } from '../../../src/model/vggt/camera-head.js';
import { DptHead, type DptHeadSpec, dptFrameBytes, dptHeadInputsGraph } from '../../../src/model/vggt/dpt-head.js';
import { gatherSpans } from '../../../src/model/trunk/head-inputs.js';
import { HeadParams, loadHeadFeeds } from '../../../src/model/heads/head-params.js';
import { loadPrefixed } from '../../../src/model/heads/heads-common.js';
import { Graph } from '../../../src/onnx/builder.js';
import { loadOrt } from '../../../src/runtime/ort.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';
import { freshSeed, randn, rng } from '../../helpers/random.js';

// The float16 head graphs' structure (what runs in float16, what in float32) and the host side of feeding them.
// Their numerics need shader-f16: test/gpu/model/heads-fp16.test.ts (and bench/fp16.bench.ts for the parts).

/** The element type of every value the graph declares or casts to, by name. */
function castTargets(g: Graph): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of g.nodeList)
    if (n.op === 'Cast')
      out.set(n.outputs[0]!, (n.attrs.to as { value: number }).value ?? (n.attrs.to as unknown as number));
  return out;
}
const F32 = 1;

describe('float16 head graphs', () => {
  it('camera head: float16 inputs, LayerNorms and Softmax on float32 casts, pose_enc float32; fp32 graph has no Cast', async () => {
    const { model, cfg } = await loadFixture();
    const g32 = cameraHeadInputsGraph(model.tensors, cfg.camera!, 4, 'camera_head').graph;
    expect(g32.nodeList.filter((n) => n.op === 'Cast')).toEqual([]); // fp32 (and calibration's graphs) unchanged
    const { graph: g, params } = cameraHeadInputsGraph(model.tensors, cfg.camera!, 4, 'camera_head', {
      type: 'float16',
    });
    expect(params.length).toBe(g32.inputList.length - 1);
    expect(new Set(g.inputList.map((v) => v.dtype))).toEqual(new Set(['float16']));
    expect(g.outputList.map((v) => [v.name, v.dtype])).toEqual([['pose_enc', 'float32']]);
    const casts = castTargets(g);
    for (const op of ['LayerNormalization', 'Softmax']) {
      const nodes = g.nodeList.filter((n) => n.op === op);
      expect(nodes.length, op).toBeGreaterThan(0);
      for (const n of nodes) expect(casts.get(n.inputs[0]!), `${op} input`).toBe(F32);
    }
    // by default the scores come from a float16 MatMul and are cast; with the 'attention' part the MatMul itself
    // runs on float32 q, k and feeds the Softmax directly
    const softmaxFrom = (gr: Graph) => {
      const producer = new Map(gr.nodeList.flatMap((n) => n.outputs.map((o) => [o, n.op] as const)));
      return new Set(gr.nodeList.filter((n) => n.op === 'Softmax').map((n) => producer.get(n.inputs[0]!)));
    };
    expect(softmaxFrom(g)).toEqual(new Set(['Cast']));
    const ga = cameraHeadInputsGraph(model.tensors, cfg.camera!, 4, 'camera_head', {
      type: 'float16',
      fp32Parts: ['attention'],
    }).graph;
    expect(softmaxFrom(ga)).toEqual(new Set(['MatMul']));
  });

  it('DPT head: float16 layers, weights and position tables; the activations read float32; outputs float32', async () => {
    const { model, cfg } = await loadFixture();
    const spec: DptHeadSpec = {
      kind: 'point',
      head: cfg.pointHead!,
      dimIn: 2 * cfg.embedDim,
      patchSize: cfg.patchSize,
      patchStartIdx: cfg.patchStartIdx,
    };
    const g32 = dptHeadInputsGraph(model.tensors, spec, 'point_head').graph;
    expect(g32.nodeList.filter((n) => n.op === 'Cast')).toEqual([]);
    const { graph: g } = dptHeadInputsGraph(model.tensors, spec, 'point_head', { type: 'float16' });
    expect(new Set(g.inputList.map((v) => v.dtype))).toEqual(new Set(['float16']));
    expect(g.outputList.map((v) => v.dtype)).toEqual(['float32', 'float32']);
    const casts = castTargets(g);
    for (const n of g.nodeList.filter((x) => x.op === 'LayerNormalization')) expect(casts.get(n.inputs[0]!)).toBe(F32);
    // every Exp (inv_log's and the confidence's) is computed on float32: its input is a float32 cast or a slice/Abs of one
    const producer = new Map(g.nodeList.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    const isF32 = (v: string): boolean => {
      const n = producer.get(v);
      if (!n) return false;
      if (n.op === 'Cast') return casts.get(v) === F32;
      return ['Slice', 'Abs'].includes(n.op) && isF32(n.inputs[0]!);
    };
    const exps = g.nodeList.filter((n) => n.op === 'Exp');
    expect(exps.length).toBe(2);
    for (const n of exps) expect(isF32(n.inputs[0]!)).toBe(true);
    // without the 'activation' part they read float16 and only the outputs are cast
    const gNone = dptHeadInputsGraph(model.tensors, spec, 'point_head', { type: 'float16', fp32Parts: [] }).graph;
    const castsNone = castTargets(gNone);
    const producerNone = new Map(gNone.nodeList.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    for (const n of gNone.nodeList.filter((x) => x.op === 'Exp')) {
      let v = n.inputs[0]!;
      while (['Slice', 'Abs'].includes(producerNone.get(v)!.op)) v = producerNone.get(v)!.inputs[0]!;
      expect(producerNone.get(v)!.op).toBe('Conv'); // straight from the float16 conv
    }
    // the outputs are float32 casts of the float16 activations (an Identity names each graph output)
    const outCast = (o: string) => {
      const n = producerNone.get(o)!;
      return n.op === 'Identity' ? castsNone.get(n.inputs[0]!) : castsNone.get(o);
    };
    expect(gNone.outputList.map((o) => outCast(o.name))).toEqual([F32, F32]);
  });

  it('a float16 DPT frame is about half a float32 one (the frame chunk doubles)', async () => {
    const { cfg } = await loadFixture();
    const spec: DptHeadSpec = {
      kind: 'depth',
      head: cfg.depthHead!,
      dimIn: 2 * cfg.embedDim,
      patchSize: 14,
      patchStartIdx: 5,
    };
    const vggt1b = {
      ...spec,
      head: { features: 256, outChannels: [256, 512, 1024, 1024] as const, outputDim: 2 },
      dimIn: 2048,
    };
    expect(dptFrameBytes(vggt1b, 518, 518, undefined, 'float16')).toBe(128 * 518 * 518 * 2);
    expect(dptFrameBytes(vggt1b, 518, 518)).toBe(128 * 518 * 518 * 4);
  });
});

describe('feeding float16 heads from the host', () => {
  it('host floats are narrowed per span (bit-equal to toF16 of those rows); float16 host tensors are widened for fp32 heads', async () => {
    const ort = await loadOrt();
    const rand = rng(freshSeed('heads-fp16 gatherSpans'));
    const x = randn(6 * 10, rand);
    const wasm = { ep: 'wasm' as const };
    const t16 = gatherSpans(ort, wasm, x, [0, 20, 50], 10, [3, 10], 'float16').tensor;
    expect(t16.type).toBe('float16');
    const want = toF16(Float32Array.from([...x.subarray(0, 10), ...x.subarray(20, 30), ...x.subarray(50, 60)]));
    expect([...(t16.data as Uint16Array)]).toEqual([...want]);
    const one = gatherSpans(ort, wasm, x, [10], 20, [2, 10], 'float16').tensor;
    expect([...(one.data as Uint16Array)]).toEqual([...toF16(x.subarray(10, 30))]);
    // a float16 CPU tensor to a float32 head: widened exactly
    const half = new ort.Tensor('float16', toF16(x), [6, 10]) as Tensor;
    const wide = gatherSpans(ort, wasm, half, [10], 10, [1, 10]).tensor;
    expect(wide.type).toBe('float32');
    const back = gatherSpans(ort, wasm, wide.data as Float32Array, [0], 10, [1, 10], 'float16').tensor;
    expect([...(back.data as Uint16Array)]).toEqual([...toF16(x.subarray(10, 20))]);
  });

  it("fp16 heads need WebGPU: dtype 'fp16' on the wasm EP is INVALID_ARGUMENT; float16 feeds and baked float16 weights are refused", async () => {
    const { model, cfg } = await loadFixture();
    const spec: DptHeadSpec = {
      kind: 'depth',
      head: cfg.depthHead!,
      dimIn: 2 * cfg.embedDim,
      patchSize: cfg.patchSize,
      patchStartIdx: cfg.patchStartIdx,
    };
    await expect(CameraHead.create(model, cfg.camera!, { ep: 'wasm' }, { dtype: 'fp16' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(DptHead.create(model, spec, { ep: 'wasm' }, { dtype: 'fp16' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    const { params } = cameraHeadInputsGraph(model.tensors, cfg.camera!, 1, 'camera_head', { type: 'float16' });
    await expect(
      loadHeadFeeds(model, 'camera_head', params, await loadOrt(), { ep: 'wasm' }, undefined, 'float16'),
    ).rejects.toThrow(/WebGPU/);
    const baked = await loadPrefixed(model, 'camera_head');
    expect(() => new HeadParams(new Graph(), 'camera_head', { baked }, 'float16')).toThrow(/float32 only/);
  });
});
