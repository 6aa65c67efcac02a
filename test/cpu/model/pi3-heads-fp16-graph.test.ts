import { describe, expect, it } from 'vitest';
import { PI3_FP32_PARTS, pi3HeadsInputsGraph } from '../../../src/model/pi3/heads-graph.js';
import { Pi3Heads } from '../../../src/model/pi3/heads.js';
import type { Graph } from '../../../src/onnx/builder.js';
import { HAVE_PI3_FIXTURE, loadPi3HeadsFixture } from '../../fixtures/pi3-tiny-heads.js';

// The float16 π³ heads graph's structure (what runs in float16, what in float32). Its numerics need shader-f16:
// test/gpu/model/pi3-fp16.test.ts (and bench/pi3-fp16.bench.ts for the parts).
const F32 = 1;

/** Whether value `v` is float32: a Cast to float32, or a slice/reshape/… of one. */
function isF32(g: Graph, v: string): boolean {
  const n = g.nodeList.find((x) => x.outputs.includes(v));
  if (!n) return false;
  if (n.op === 'Cast') return ((n.attrs.to as { value: number }).value ?? (n.attrs.to as unknown as number)) === F32;
  return ['Slice', 'Reshape', 'Transpose', 'Squeeze'].includes(n.op) && isF32(g, n.inputs[0]!);
}

describe.skipIf(!HAVE_PI3_FIXTURE)('float16 π³ heads graph', () => {
  it('float16 weights, hidden and RoPE tables; LayerNorms, Softmax and the point exp on float32; outputs float32', async () => {
    const fx = await loadPi3HeadsFixture();
    const g32 = pi3HeadsInputsGraph(fx.model.tensors, fx.config);
    expect(g32.graph.nodeList.filter((n) => n.op === 'Cast')).toEqual([]); // fp32 (and calibration's graphs) unchanged
    const h = pi3HeadsInputsGraph(fx.model.tensors, fx.config, { type: 'float16' });
    const g = h.graph;
    expect(h.params.flatMap((p) => p.params.map((x) => x.input))).toEqual(
      g32.params.flatMap((p) => p.params.map((x) => x.input)),
    );
    expect(Object.fromEntries(g.inputList.filter((v) => v.dtype !== 'float16').map((v) => [v.name, v.dtype]))).toEqual({
      grid: 'int64',
    });
    expect(g.outputList.map((v) => [v.name, v.dtype])).toEqual([
      ['local_points', 'float32'],
      ['conf', 'float32'],
      ['pose_raw', 'float32'],
    ]);
    for (const op of ['LayerNormalization', 'Softmax']) {
      const nodes = g.nodeList.filter((n) => n.op === op);
      expect(nodes.length, op).toBe(op === 'Softmax' ? 15 : 30); // 3 decoders × 5 blocks (× 2 norms)
      for (const n of nodes) expect(isF32(g, n.inputs[0]!), `${op} input`).toBe(true);
    }
    expect(PI3_FP32_PARTS).toEqual(['activation', 'camera']);
    // the camera head computes in float32: each of its weights is cast before use (and none without the part)
    const castOf = (gr: Graph, input: string) =>
      gr.nodeList.some((n) => n.op === 'Cast' && n.inputs[0] === input && isF32(gr, n.outputs[0]!));
    const camera = g.inputList.filter((v) => v.name.startsWith('camera_head.')).map((v) => v.name);
    expect(camera.length).toBeGreaterThan(0);
    for (const name of camera) expect(castOf(g, name), name).toBe(true);
    const exps = g.nodeList.filter((n) => n.op === 'Exp');
    expect(exps.length).toBe(1);
    expect(isF32(g, exps[0]!.inputs[0]!)).toBe(true);
    // without the part, the exp reads float16; with 'attention', the scores' MatMul itself reads float32 q, k
    const none = pi3HeadsInputsGraph(fx.model.tensors, fx.config, { type: 'float16', fp32Parts: [] }).graph;
    expect(isF32(none, none.nodeList.find((n) => n.op === 'Exp')!.inputs[0]!)).toBe(false);
    for (const name of camera) expect(castOf(none, name), name).toBe(false);
    const att = pi3HeadsInputsGraph(fx.model.tensors, fx.config, { type: 'float16', fp32Parts: ['attention'] }).graph;
    const producer = (gr: Graph, v: string) => gr.nodeList.find((n) => n.outputs.includes(v))!.op;
    expect(new Set(g.nodeList.filter((n) => n.op === 'Softmax').map((n) => producer(g, n.inputs[0]!)))).toEqual(
      new Set(['Cast']),
    );
    expect(new Set(att.nodeList.filter((n) => n.op === 'Softmax').map((n) => producer(att, n.inputs[0]!)))).toEqual(
      new Set(['MatMul']),
    );
  });

  it('fp16 needs WebGPU: INVALID_ARGUMENT on the wasm EP', async () => {
    const fx = await loadPi3HeadsFixture();
    await expect(Pi3Heads.create(fx.model, fx.config, { ep: 'wasm' }, { dtype: 'fp16' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
