import { describe, expect, it } from 'vitest';
import { pi3HeadsFrameBytes, pi3HeadsWeightBytes } from '../../../src/model/pi3/heads.js';
import { pi3HeadsInputsGraph } from '../../../src/model/pi3/heads-graph.js';
import { HAVE_PI3_FIXTURE, loadPi3HeadsFixture } from '../../fixtures/pi3-tiny-heads.js';

// yyfz233/Pi3 is too large to run here, but its heads must build the same way: the fixture's real tensor names,
// with every width scaled from the tiny configuration to the full one, go through the same graph builder.
const HEAD_PREFIXES = /^(point|conf|camera)_(decoder|head)\./;
// tiny → full: 2·decDim 128 → 2048, head width 64 → 1024, qkv 192 → 3072, MLP 256 → 4096, camera 32 → 512
const FULL: Record<number, number> = { 128: 2048, 64: 1024, 192: 3072, 256: 4096, 32: 512 };

async function fullShapes(): Promise<Map<string, { shape: number[] }>> {
  const fx = await loadPi3HeadsFixture();
  const out = new Map<string, { shape: number[] }>();
  for (const [name, t] of fx.model.tensors) {
    if (HEAD_PREFIXES.test(name)) out.set(name, { shape: t.shape.map((d) => FULL[d] ?? d) });
  }
  return out;
}

describe.skipIf(!HAVE_PI3_FIXTURE)('π³ heads at yyfz233/Pi3 widths (graph only, no weights)', () => {
  it('reads widths and depths from the shapes, builds a weight-free graph, sizes frames', async () => {
    const shapes = await fullShapes();
    const config = { heads: 16, registers: 5, patchSize: 14, ropeFreq: 100 };
    const { graph, params, dims } = pi3HeadsInputsGraph(shapes, config);
    for (const k of ['point_decoder', 'conf_decoder'] as const) {
      expect(dims.decoders[k]).toEqual({ inDim: 2048, dim: 1024, depth: 5, mlp: 4096, outDim: 1024 });
    }
    expect(dims.decoders.camera_decoder).toEqual({ inDim: 2048, dim: 1024, depth: 5, mlp: 4096, outDim: 512 });
    expect(dims.cameraDim).toBe(512);
    expect(dims.headDim).toBe(64);
    // every head tensor of the checkpoint is a graph input, none twice, none baked
    const inputs = params.flatMap((g) => g.params.map((p) => p.input));
    expect(new Set(inputs).size).toBe(inputs.length);
    expect(new Set(inputs)).toEqual(new Set(shapes.keys()));
    const weightBytes = 4 * params.flatMap((g) => g.params).reduce((a, p) => a + p.dims.reduce((x, y) => x * y, 1), 0);
    const model = graph.toModel({ opset: 17 }).model;
    console.info(
      `[pi3-heads] full-size heads: ${(weightBytes / 2 ** 20).toFixed(0)} MiB of weights as inputs, graph ${(model.length / 1024).toFixed(0)} KiB`,
    );
    expect(weightBytes).toBeGreaterThan(700 * 2 ** 20);
    expect(pi3HeadsWeightBytes(shapes)).toBe(weightBytes);
    expect(pi3HeadsWeightBytes(new Map([...shapes, ['decoder.0.norm1.weight', { shape: [1024] }]]))).toBe(weightBytes);
    expect(model.length).toBeLessThan(2 ** 20);
    // only small constants are baked (shapes, scales, the RoPE permutation)
    const baked = [...graph.initializers.values()].reduce((a, t) => a + t.data.byteLength, 0);
    expect(baked).toBeLessThan(16 * 1024);
    // at 518×518: T = 5 + 37² = 1374, the largest intermediate is one frame's attention scores
    expect(pi3HeadsFrameBytes(config, dims, 518, 518)).toBe(4 * 16 * 1374 * 1374);
    // in float16 the weights take half the bytes; the scores stay float32 (the Softmax reads them so), and so the
    // largest intermediate, while the decoders' [T, ·] activations are half (at 14×14: T = 6, the MLP hidden wins)
    expect(pi3HeadsWeightBytes(shapes, 'float16')).toBe(weightBytes / 2);
    expect(pi3HeadsFrameBytes(config, dims, 518, 518, 'float16')).toBe(4 * 16 * 1374 * 1374);
    expect(pi3HeadsFrameBytes(config, dims, 14, 14)).toBe(4 * 6 * 4096);
    expect(pi3HeadsFrameBytes(config, dims, 14, 14, 'float16')).toBe(2 * 6 * 4096);
  });

  it('a head count that does not divide the width, a missing or misshapen tensor are typed errors', async () => {
    const shapes = await fullShapes();
    const config = { heads: 16, registers: 5, patchSize: 14, ropeFreq: 100 };
    expect(() => pi3HeadsInputsGraph(shapes, { ...config, heads: 12 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    const missing = new Map(shapes);
    missing.delete('camera_head.fc_rot.weight');
    expect(() => pi3HeadsInputsGraph(missing, config)).toThrow(expect.objectContaining({ code: 'BAD_CHECKPOINT' }));
    const wrong = new Map(shapes);
    wrong.set('point_head.proj.weight', { shape: [3 * 16 * 16, 1024] });
    expect(() => pi3HeadsInputsGraph(wrong, config)).toThrow(expect.objectContaining({ code: 'BAD_CHECKPOINT' }));
    const noBlocks = new Map([...shapes].filter(([k]) => !k.startsWith('conf_decoder.blocks.')));
    expect(() => pi3HeadsInputsGraph(noBlocks, config)).toThrow(expect.objectContaining({ code: 'BAD_CHECKPOINT' }));
  });
});
