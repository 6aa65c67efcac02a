import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../../src/model/trunk/aggregator.js';
import type { AttentionCore } from '../../../src/model/trunk/attention-core.js';
import { loadOrt } from '../../../src/runtime/ort.js';
import { relError } from '../../helpers/random.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';

/** softmax(q·kᵀ/√d)·v per head in float64, token-major [N, H, d], rounded to float32. */
function attention64(q: Float32Array, k: Float32Array, v: Float32Array, N: number, H: number, d: number): Float32Array {
  const C = H * d;
  const o = new Float64Array(N * C);
  const s = new Float64Array(N);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < N; i++) {
      let mx = -Infinity;
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let e = 0; e < d; e++) acc += q[i * C + h * d + e] * k[j * C + h * d + e];
        mx = Math.max(mx, (s[j] = acc / Math.sqrt(d)));
      }
      let z = 0;
      for (let j = 0; j < N; j++) z += s[j] = Math.exp(s[j] - mx);
      for (let j = 0; j < N; j++) for (let e = 0; e < d; e++) o[i * C + h * d + e] += (s[j] / z) * v[j * C + h * d + e];
    }
  }
  return Float32Array.from(o);
}

describe('VGGT aggregator modes (wasm EP, vggt-tiny fixture)', () => {
  it("sessions: 'per-block' (weights baked per block) gives the same layers", async () => {
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const t0 = performance.now();
    const agg = await Aggregator.create(model, cfg, { target: { ep: 'wasm' }, sessions: 'per-block' });
    const t1 = performance.now();
    const out = await agg.run(Float32Array.from(await ref('images')), { S, H, W }, { layers: [4, 23] });
    console.info(
      `[aggregator wasm per-block] create ${(t1 - t0).toFixed(0)} ms, run ${(performance.now() - t1).toFixed(0)} ms`,
    );
    for (const l of [4, 23])
      expect(relError(out.layers.get(l)!, await ref(`aggregated.${l}`))).toBeLessThanOrEqual(1e-4);
    await agg.dispose();
  });

  it('a custom AttentionCore (float64 JS attention on the CPU tensors) plugs into the global blocks', async () => {
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const ort = await loadOrt();
    const blocks: number[] = [];
    const core: AttentionCore = {
      async run(q, k, v, N, h, d, ctx) {
        blocks.push(ctx.block);
        expect([ctx.S * ctx.P, q.location]).toEqual([N, 'cpu']);
        const [qa, ka, va] = [q, k, v].map((t) => t.data as Float32Array);
        return new ort.Tensor('float32', attention64(qa, ka, va, N, h, d), [N, h, d]);
      },
      async dispose() {},
    };
    const t0 = performance.now();
    const agg = await Aggregator.create(model, cfg, { target: { ep: 'wasm' }, attention: core });
    const t1 = performance.now();
    const out = await agg.run(Float32Array.from(await ref('images')), { S, H, W }, { layers: [4] });
    console.info(
      `[aggregator wasm custom core] create ${(t1 - t0).toFixed(0)} ms, run ${(performance.now() - t1).toFixed(0)} ms`,
    );
    expect(blocks).toEqual([0, 1, 2, 3, 4]); // blocks after the last requested layer are skipped
    expect(out.layers.size).toBe(1); // only the requested layer is kept
    expect(relError(out.layers.get(4)!, await ref('aggregated.4'))).toBeLessThanOrEqual(1e-4);
    await agg.dispose();
  });

  it('the fixture comparison is sensitive: swapping the first-frame/other-frame token slots breaks layer 0', async () => {
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const swapped = {
      async read(name: string): Promise<Float32Array> {
        const t = await model.read(name);
        if (name !== 'aggregator.camera_token' && name !== 'aggregator.register_token') return t;
        const half = t.length / 2;
        return Float32Array.from([...t.subarray(half), ...t.subarray(0, half)]);
      },
    };
    const agg = await Aggregator.create(swapped, cfg, { target: { ep: 'wasm' } });
    const out = await agg.run(Float32Array.from(await ref('images')), { S, H, W }, { layers: [0] });
    const e = relError(out.layers.get(0)!, await ref('aggregated.0'));
    console.info(`[aggregator wasm swapped slots] layer 0 relError ${e.toExponential(2)}`);
    expect(e).toBeGreaterThan(1e-2);
    await agg.dispose();
  });
});
