import { describe, expect, it } from 'vitest';
import { posesFromRaw } from '../../../src/model/pi3/camera-pose.js';
import { pi3HeadsBakedGraph } from '../../../src/model/pi3/heads-graph.js';
import { buildGradientGraph, inferShapes } from '../../../src/onnx/autodiff.js';
import { createSession, loadOrt } from '../../../src/runtime/ort.js';
import { HAVE_PI3_FIXTURE, loadPi3HeadsFixture } from '../../fixtures/pi3-tiny-heads.js';
import { foldShapes } from '../../helpers/fold-shapes.js';
import { freshSeed, randn, rng } from '../../helpers/random.js';
import { evaluate, type T } from '../onnx/ref-eval.js';

// The heads graph built for one image size (weights baked, static shapes), as π³ calibration would differentiate it:
// evaluated in float64 by the independent reference interpreter it reproduces the float64 reference run, and the
// project's reverse mode (buildGradientGraph, run in float32 on the wasm EP) matches float64 central differences.

const OUTS = ['local_points', 'conf', 'pose_raw'] as const;
const maxRel = (got: ArrayLike<number>, ref: ArrayLike<number>) => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(got[i]! - ref[i]!));
    den = Math.max(den, Math.abs(ref[i]!));
  }
  return num / den;
};

describe.skipIf(!HAVE_PI3_FIXTURE)('π³ heads graph for one size: float64 evaluation and reverse mode', () => {
  it('evaluated in float64 by the reference interpreter, it reproduces the reference run', async () => {
    const fx = await loadPi3HeadsFixture();
    const { graph } = await pi3HeadsBakedGraph(fx.model, fx.config, { H: fx.H, W: fx.W });
    expect(graph.inputList.map((v) => v.name)).toEqual(['hidden']);
    const T = fx.hidden64.length / (fx.S * 128);
    const env = evaluate(foldShapes(graph, { N: fx.S }), { hidden: { dims: [fx.S, T, 128], data: fx.hidden64 } });
    const poses = posesFromRaw(env.get('pose_raw')!.data, fx.S);
    const eL = maxRel(env.get('local_points')!.data, await fx.ref('local_points'));
    const eC = maxRel(env.get('conf')!.data, await fx.ref('conf'));
    const eP = maxRel(poses, await fx.ref('camera_poses'));
    console.info(
      `[pi3-heads f64] local_points ${eL.toExponential(2)}, conf ${eC.toExponential(2)}, camera_poses ${eP.toExponential(2)}`,
    );
    // float64 throughout but for the float32 weights (exact) and RoPE tables (rounded once): far below float32 runs
    for (const e of [eL, eC, eP]) expect(e).toBeLessThan(1e-6);
  });

  it('buildGradientGraph ∂/∂hidden of all three outputs matches float64 central differences', async () => {
    const fx = await loadPi3HeadsFixture();
    const r = rng(freshSeed('pi3-heads grad'));
    const { graph } = await pi3HeadsBakedGraph(fx.model, fx.config, { H: fx.H, W: fx.W });
    const T = fx.hidden.length / (fx.S * 128);
    const dims = { N: fx.S };
    const shapes = inferShapes(graph, dims);
    const fwd = foldShapes(graph, dims); // the forward alone, for the finite differences (before the loss is appended)
    // loss = Σ_k <out_k, g_k> with random cotangents g_k (graph inputs)
    const cot: Record<string, Float32Array> = {};
    let loss: string | undefined;
    for (const o of OUTS) {
      const d = shapes.get(o)!.dims;
      cot[o] = randn(
        d.reduce((a, b) => a * b, 1),
        r,
      );
      const gin = graph.input(`g_${o}`, 'float32', d);
      const term = graph.op('ReduceSum', [graph.op('Mul', [o, gin])[0]], { keepdims: 0 })[0];
      loss = loss ? graph.op('Add', [loss, term])[0] : term;
    }
    const vjp = buildGradientGraph(graph, { loss: loss!, wrt: ['hidden'], dims });
    const ort = await loadOrt();
    const session = await createSession(ort, vjp.toModel({ opset: 17 }).model, { ep: 'wasm' });
    const feeds: Record<string, import('onnxruntime-web').Tensor> = {
      hidden: new ort.Tensor('float32', fx.hidden, [fx.S, T, 128]),
    };
    for (const o of OUTS) feeds[`g_${o}`] = new ort.Tensor('float32', cot[o]!, shapes.get(o)!.dims);
    const grad = (await session.run(feeds)).grad_hidden!.data as Float32Array;
    await session.release();

    // float64 central differences of the same loss along random directions (reference interpreter, forward only)
    const lossAt = (h: Float64Array) => {
      const env = evaluate(fwd, { hidden: { dims: [fx.S, T, 128], data: h } } as Record<string, T>);
      return OUTS.reduce((s, o) => s + env.get(o)!.data.reduce((a, v, i) => a + v * cot[o]![i]!, 0), 0);
    };
    const eps = 1e-5;
    for (let k = 0; k < 3; k++) {
      const v = randn(fx.hidden.length, r);
      const at = (sgn: number) => lossAt(Float64Array.from(fx.hidden64, (h, i) => h + sgn * eps * v[i]!));
      const fd = (at(1) - at(-1)) / (2 * eps);
      const an = grad.reduce((a, g, i) => a + g * v[i]!, 0);
      const e = Math.abs(an - fd) / Math.abs(fd);
      console.info(
        `[pi3-heads grad] direction ${k}: VJP ${an.toExponential(6)} vs FD ${fd.toExponential(6)} (rel ${e.toExponential(2)})`,
      );
      expect(e).toBeLessThan(1e-4);
    }
  });
});
