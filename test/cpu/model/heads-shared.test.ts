import { describe, expect, it } from 'vitest';
import type { CameraHeadConfig } from '../../../src/model/config.js';
import { cameraHeadInputsGraph, CameraHead } from '../../../src/model/vggt/camera-head.js';
import {
  DptHead,
  type DptHeadSpec,
  dptFrameBytes,
  dptHeadGraph,
  dptHeadInputsGraph,
} from '../../../src/model/vggt/dpt-head.js';
import { loadPrefixed } from '../../../src/model/heads/heads-common.js';
import type { Graph } from '../../../src/onnx/builder.js';
import { loadOrt, type Ort } from '../../../src/runtime/ort.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';
import { foldShapes } from '../../helpers/fold-shapes.js';
import { freshSeed, randn, relError, rng } from '../../helpers/random.js';
import { evaluate, type T } from '../onnx/ref-eval.js';

// Head weights are graph inputs: no head graph bakes more than 64 MB, one DPT session serves every image size, and
// frame chunks (sized from a byte budget or forced) give the unchunked result.
const TOL = 1e-4;
const MB64 = 64 * 2 ** 20;

/** onnxruntime-web with InferenceSession.create counted. */
async function countingOrt(): Promise<{ ort: Ort; sessions: () => number }> {
  const ort = await loadOrt();
  let n = 0;
  const create = (...a: Parameters<Ort['InferenceSession']['create']>) => {
    n++;
    return ort.InferenceSession.create(...a);
  };
  return { ort: { ...ort, InferenceSession: { create } } as unknown as Ort, sessions: () => n };
}

/**
 * facebook/VGGT-1B's head tensor shapes, written from ../shared/reference/vggt-architecture.md §5 (not from the
 * graph builders), keyed by full checkpoint name.
 */
function vggt1bHeadShapes(): Map<string, { shape: number[] }> {
  const m = new Map<string, { shape: number[] }>();
  const add = (name: string, shape: number[]) => m.set(name, { shape });
  const c = 'camera_head';
  add(`${c}.empty_pose_tokens`, [1, 1, 9]);
  for (const n of ['token_norm', 'trunk_norm']) {
    add(`${c}.${n}.weight`, [2048]);
    add(`${c}.${n}.bias`, [2048]);
  }
  add(`${c}.embed_pose.weight`, [2048, 9]);
  add(`${c}.embed_pose.bias`, [2048]);
  add(`${c}.poseLN_modulation.1.weight`, [6144, 2048]);
  add(`${c}.poseLN_modulation.1.bias`, [6144]);
  add(`${c}.pose_branch.fc1.weight`, [1024, 2048]);
  add(`${c}.pose_branch.fc1.bias`, [1024]);
  add(`${c}.pose_branch.fc2.weight`, [9, 1024]);
  add(`${c}.pose_branch.fc2.bias`, [9]);
  for (let i = 0; i < 4; i++) {
    const b = `${c}.trunk.${i}`;
    for (const v of ['norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias', 'ls1.gamma', 'ls2.gamma'])
      add(`${b}.${v}`, [2048]);
    for (const [k, o, i2] of [
      ['attn.qkv', 6144, 2048],
      ['attn.proj', 2048, 2048],
      ['mlp.fc1', 8192, 2048],
      ['mlp.fc2', 2048, 8192],
    ] as const) {
      add(`${b}.${k}.weight`, [o, i2]);
      add(`${b}.${k}.bias`, [o]);
    }
  }
  for (const [h, od] of [
    ['depth_head', 2],
    ['point_head', 4],
  ] as const) {
    add(`${h}.norm.weight`, [2048]);
    add(`${h}.norm.bias`, [2048]);
    const oc = [256, 512, 1024, 1024];
    oc.forEach((o, k) => {
      add(`${h}.projects.${k}.weight`, [o, 2048, 1, 1]);
      add(`${h}.projects.${k}.bias`, [o]);
      add(`${h}.scratch.layer${k + 1}_rn.weight`, [256, o, 3, 3]);
    });
    for (const [k, o, ks] of [
      [0, 256, 4],
      [1, 512, 2],
      [3, 1024, 3],
    ] as const) {
      add(`${h}.resize_layers.${k}.weight`, [o, o, ks, ks]);
      add(`${h}.resize_layers.${k}.bias`, [o]);
    }
    for (let r = 1; r <= 4; r++) {
      for (const u of r === 4 ? ['resConfUnit2'] : ['resConfUnit1', 'resConfUnit2']) {
        for (const cv of ['conv1', 'conv2']) {
          add(`${h}.scratch.refinenet${r}.${u}.${cv}.weight`, [256, 256, 3, 3]);
          add(`${h}.scratch.refinenet${r}.${u}.${cv}.bias`, [256]);
        }
      }
      add(`${h}.scratch.refinenet${r}.out_conv.weight`, [256, 256, 1, 1]);
      add(`${h}.scratch.refinenet${r}.out_conv.bias`, [256]);
    }
    add(`${h}.scratch.output_conv1.weight`, [128, 256, 3, 3]);
    add(`${h}.scratch.output_conv1.bias`, [128]);
    add(`${h}.scratch.output_conv2.0.weight`, [32, 128, 3, 3]);
    add(`${h}.scratch.output_conv2.0.bias`, [32]);
    add(`${h}.scratch.output_conv2.2.weight`, [od, 32, 1, 1]);
    add(`${h}.scratch.output_conv2.2.bias`, [od]);
  }
  return m;
}

const numel = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);
const initBytes = (g: Graph) => [...g.initializers.values()].reduce((a, t) => a + t.data.byteLength, 0);

describe('VGGT heads with weights as graph inputs', () => {
  it('at VGGT-1B widths no head graph bakes more than 64 MB, and every weight is an input', () => {
    const shapes = vggt1bHeadShapes();
    const count = (p: string) =>
      [...shapes].filter(([k]) => k.startsWith(`${p}.`)).reduce((a, [, v]) => a + numel(v.shape), 0);
    // the table is the reference's (its parameter counts), so "every weight is an input" below is a real check
    expect([count('camera_head'), count('depth_head'), count('point_head')]).toEqual([
      216_174_610, 32_654_562, 32_654_628,
    ]);

    const cam: CameraHeadConfig = { dim: 2048, heads: 16, headDim: 128, trunkDepth: 4, mlpHiddenDim: 8192, poseDim: 9 };
    const c = cameraHeadInputsGraph(shapes, cam, 4, 'camera_head');
    const graphs = [{ name: 'camera_head', g: c.graph, inputs: c.params.reduce((a, p) => a + numel(p.dims), 0) }];
    for (const [kind, od] of [
      ['depth', 2],
      ['point', 4],
    ] as const) {
      const spec: DptHeadSpec = {
        kind,
        head: { features: 256, outChannels: [256, 512, 1024, 1024], outputDim: od },
        dimIn: 2048,
        patchSize: 14,
        patchStartIdx: 5,
      };
      const d = dptHeadInputsGraph(shapes, spec, `${kind}_head`);
      graphs.push({ name: `${kind}_head`, g: d.graph, inputs: d.params.reduce((a, p) => a + numel(p.dims), 0) });
      // the frame-chunk estimate at 518²: the 128-channel map at image size
      if (kind === 'depth') expect(dptFrameBytes(spec, 518, 518, d.widths)).toBe(4 * 128 * 518 * 518);
    }
    for (const { name, g, inputs } of graphs) {
      const bytes = g.toModel({ opset: 17 }).model.byteLength;
      console.info(
        `[heads 1B] ${name}: serialized ${(bytes / 1024).toFixed(1)} KiB, initializers ${initBytes(g)} B, weight inputs ${((inputs * 4) / 2 ** 20).toFixed(1)} MiB`,
      );
      expect(initBytes(g)).toBeLessThanOrEqual(MB64);
      expect(bytes).toBeLessThanOrEqual(MB64);
      expect(inputs).toBe(count(name));
    }
  });

  it('one DPT session serves two image sizes (fixture reference, then a float64 run at 42×56, then the fixture again)', async () => {
    const fx = await loadFixture();
    const { ort, sessions } = await countingOrt();
    const spec: DptHeadSpec = {
      kind: 'depth',
      head: fx.cfg.depthHead!,
      dimIn: 2 * fx.cfg.embedDim,
      patchSize: fx.cfg.patchSize,
      patchStartIdx: fx.cfg.patchStartIdx,
    };
    const head = await DptHead.create(fx.model, spec, { ep: 'wasm' }, { ort });
    expect(sessions()).toBe(1);
    const refD = await fx.ref('depth');
    const first = await head.run(fx.layers, fx.S, fx.H, fx.W);
    expect(relError(first.values, refD)).toBeLessThan(TOL);

    // a second size (other aspect, even grid: 3×4 instead of 5×7) on fresh random tokens, against the float64
    // interpreter running the graph built for that size with its position tables and resizes baked
    const [S2, H2, W2] = [2, 42, 56];
    const P2 = spec.patchStartIdx + (H2 / 14) * (W2 / 14);
    const C = spec.dimIn;
    const rand = rng(freshSeed('heads-shared second size'));
    const layers = new Map([4, 11, 17, 23].map((l) => [l, randn(S2 * P2 * C, rand)] as const));
    const got = await head.run(layers, S2, H2, W2);
    expect(sessions()).toBe(1);
    const g = foldShapes(dptHeadGraph(await loadPrefixed(fx.model, 'depth_head'), spec, 'depth_head', H2, W2), {
      N: S2,
    });
    const feeds: Record<string, T> = {};
    [4, 11, 17, 23].forEach((l, k) => {
      feeds[`l${k}`] = { dims: [S2, P2, C], data: Float64Array.from(layers.get(l)!) };
    });
    const ref = evaluate(g, feeds);
    const e2 = relError(got.values, ref.get('values')!.data);
    const e2c = relError(got.conf, ref.get('conf')!.data);
    console.info(
      `[heads-shared] second size ${H2}×${W2}: depth relError ${e2.toExponential(3)}, conf ${e2c.toExponential(3)}`,
    );
    expect(got.values.length).toBe(S2 * H2 * W2);
    expect(e2).toBeLessThan(TOL);
    expect(e2c).toBeLessThan(TOL);

    const again = await head.run(fx.layers, fx.S, fx.H, fx.W);
    expect(relError(again.values, refD)).toBeLessThan(TOL);
    expect(sessions()).toBe(1);
    await head.dispose();
  });

  it('frame chunks (forced 1 frame, or sized from a byte budget) equal one unchunked run to 1e-5', async () => {
    const fx = await loadFixture();
    const spec: DptHeadSpec = {
      kind: 'point',
      head: fx.cfg.pointHead!,
      dimIn: 2 * fx.cfg.embedDim,
      patchSize: fx.cfg.patchSize,
      patchStartIdx: fx.cfg.patchStartIdx,
    };
    const whole = await DptHead.create(fx.model, spec, { ep: 'wasm' }, { chunkBytes: 2 ** 40 });
    expect(whole.framesPerRun(fx.H, fx.W)).toBeGreaterThanOrEqual(fx.S);
    const ref = await whole.run(fx.layers, fx.S, fx.H, fx.W);
    const one = await DptHead.create(fx.model, spec, { ep: 'wasm' }, { framesChunk: 1 });
    // a budget of two frames' largest intermediate (plus change): chunks of 2 + 1 over the 3 frames
    const widths = dptHeadInputsGraph(fx.model.tensors, spec, 'point_head').widths;
    const frame = dptFrameBytes(spec, fx.H, fx.W, widths);
    const two = await DptHead.create(fx.model, spec, { ep: 'wasm' }, { chunkBytes: 2 * frame + 100 });
    expect(two.framesPerRun(fx.H, fx.W)).toBe(2);
    for (const h of [one, two]) {
      const r = await h.run(fx.layers, fx.S, fx.H, fx.W);
      const e = relError(r.values, ref.values);
      const ec = relError(r.conf, ref.conf);
      console.info(
        `[heads-shared] ${h.framesPerRun(fx.H, fx.W)}-frame chunks vs unchunked: points ${e.toExponential(3)}, conf ${ec.toExponential(3)}`,
      );
      expect(e).toBeLessThan(1e-5);
      expect(ec).toBeLessThan(1e-5);
    }
    expect(relError(ref.values, await fx.ref('world_points'))).toBeLessThan(TOL);
    for (const h of [whole, one, two]) await h.dispose();
    await expect(one.run(fx.layers, fx.S, fx.H, fx.W)).rejects.toMatchObject({ code: 'DISPOSED' });
  });

  it('the camera head takes the last layer as a Float32Array, a CPU tensor, or the camera tokens alone', async () => {
    const fx = await loadFixture();
    const { ort, sessions } = await countingOrt();
    const head = await CameraHead.create(fx.model, fx.cfg.camera!, { ep: 'wasm' }, { ort });
    expect(sessions()).toBe(1);
    expect(head.weightBytes).toBe(
      4 *
        [...fx.model.tensors].filter(([k]) => k.startsWith('camera_head.')).reduce((a, [, t]) => a + numel(t.shape), 0),
    );
    const ref = await fx.ref('pose_enc');
    const last = fx.layers.get(23)!;
    const C = 2 * fx.cfg.embedDim;
    const tokens = new Float32Array(fx.S * C);
    for (let s = 0; s < fx.S; s++) tokens.set(last.subarray(s * fx.P * C, s * fx.P * C + C), s * C);
    for (const input of [last, new ort.Tensor('float32', last, [fx.S, fx.P, C]), tokens]) {
      expect(relError(await head.run(input, fx.S), ref)).toBeLessThan(TOL);
    }
    await expect(head.run(new ort.Tensor('int32', new Int32Array(4), [4]), 1)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(sessions()).toBe(1);
    await head.dispose();
  });
});
