import { describe, expect, it } from 'vitest';
import { attentionReference } from '../../../src/attention/reference.js';
import { denseLayout } from '../../../src/attention/layout.js';
import { runAttention } from '../../../src/attention/kernel.js';
import { mustHave, testDevice } from '../../helpers/gpu.js';
import { freshSeed, randn, relError, rng } from '../../helpers/random.js';

/** Fresh q, k, v for B sequences of T tokens, token-major [B·T, H, D]; q scaled so softmax rows are peaked. */
function inputs(B: number, T: number, H: number, D: number, label: string) {
  const rand = rng(freshSeed(label));
  const n = B * T * H * D;
  return { q: randn(n, rand, 2), k: randn(n, rand), v: randn(n, rand) };
}

/** The float64 reference run on each sequence alone, stacked back: attention must never cross sequences. */
function perSequenceReference(
  x: { q: Float32Array; k: Float32Array; v: Float32Array },
  B: number,
  T: number,
  H: number,
  D: number,
): Float64Array {
  const out = new Float64Array(B * T * H * D);
  const w = T * H * D;
  for (let b = 0; b < B; b++) {
    const part = (a: Float32Array) => a.subarray(b * w, (b + 1) * w);
    out.set(attentionReference(part(x.q), part(x.k), part(x.v), { N: T, H, D }), b * w);
  }
  return out;
}

describe('batched dense flash attention (WGSL, batch = frames) vs the float64 reference per sequence', () => {
  // Ragged T (not a multiple of the 128-row / 32- or 64-key tiles), T = 1, T over one row tile, both head dims.
  const shapes: [number, number, number, number][] = [
    [3, 77, 2, 16],
    [2, 200, 2, 64],
    [5, 1, 2, 16],
    [4, 40, 4, 16],
    [2, 131, 3, 64],
  ];
  for (const [B, T, H, D] of shapes) {
    it(`fp32 B=${B} T=${T} H=${H} D=${D} (≤ 1e-5, output poisoned before the run)`, async () => {
      const gpu = await testDevice();
      const x = inputs(B, T, H, D, `batched f32 ${B}x${T}x${H}x${D}`);
      const got = await runAttention(gpu, x, { N: T, H, D, batch: B });
      const ref = perSequenceReference(x, B, T, H, D);
      const e = relError(got, ref);
      console.info(`[batched attention] B=${B} T=${T} H=${H} D=${D}: relError ${e.toExponential(2)}`);
      expect(e).toBeLessThan(1e-5);
      if (B > 1 && T > 1) {
        // The test can fail: attention over all B·T tokens (no frame axis) is far from the per-sequence answer.
        const global = attentionReference(x.q, x.k, x.v, { N: B * T, H, D });
        expect(relError(global, ref)).toBeGreaterThan(1e-2);
      }
    });
  }

  it('fp16 storage B=3 T=61 H=2 D=16 (≤ 1e-2)', async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const [B, T, H, D] = [3, 61, 2, 16];
    const x = inputs(B, T, H, D, 'batched f16');
    const got = await runAttention(gpu, x, { N: T, H, D, batch: B }, { dtype: 'f16' });
    expect(relError(got, perSequenceReference(x, B, T, H, D))).toBeLessThan(1e-2);
  });

  it('rejects a bad batch, wrong-length inputs and a block-sparse layout with batch > 1 (typed errors)', async () => {
    const gpu = await testDevice();
    const x = inputs(2, 8, 1, 16, 'batched errors');
    await expect(runAttention(gpu, x, { N: 8, H: 1, D: 16, batch: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(runAttention(gpu, x, { N: 8, H: 1, D: 16, batch: 3 })).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
    });
    const shape = { N: 8, H: 1, D: 16, batch: 2 };
    await expect(runAttention(gpu, x, shape, { layout: denseLayout({ N: 8, H: 1, D: 16 }) })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
