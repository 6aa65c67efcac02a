import { describe, expect, it } from 'vitest';
import { attentionReference } from '../../../src/attention/reference.js';
import { runAttention } from '../../../src/attention/kernel.js';
import { mustHave, testDevice } from '../../helpers/gpu.js';
import { freshSeed, randn, relError, rng } from '../../helpers/random.js';

// Fresh random q, k, v (token-major [N, H, D]); q scaled up so that softmax rows are peaked, not flat.
function inputs(N: number, H: number, D: number, label: string) {
  const rand = rng(freshSeed(label));
  const n = N * H * D;
  return { q: randn(n, rand, 2), k: randn(n, rand), v: randn(n, rand) };
}

describe('dense flash attention (WGSL) vs float64 reference', () => {
  // Ragged N (not a multiple of the 128-row / 32- or 64-key tiles), a single partial tile, N = 1, both head dims.
  const shapes: [number, number, number][] = [
    [200, 2, 64],
    [77, 3, 16],
    [37, 2, 64],
    [1, 2, 16],
    [413, 4, 16],
  ];
  for (const [N, H, D] of shapes) {
    it(`fp32 N=${N} H=${H} D=${D}`, async () => {
      const gpu = await testDevice();
      const x = inputs(N, H, D, `dense f32 ${N}x${H}x${D}`);
      const got = await runAttention(gpu, x, { N, H, D });
      expect(relError(got, attentionReference(x.q, x.k, x.v, { N, H, D }))).toBeLessThan(1e-4);
    });
  }

  it('fp32 with an explicit scale and non-default tiles (rows 32, keys 8)', async () => {
    const gpu = await testDevice();
    const [N, H, D] = [150, 2, 16];
    const x = inputs(N, H, D, 'dense f32 tiles');
    const got = await runAttention(gpu, x, { N, H, D, scale: 0.3 }, { tiling: { rows: 32, keys: 8 } });
    expect(relError(got, attentionReference(x.q, x.k, x.v, { N, H, D, scale: 0.3 }))).toBeLessThan(1e-4);
  });

  for (const [N, H, D] of [
    [300, 2, 64],
    [61, 3, 16],
  ] as const) {
    it(`fp16 storage N=${N} H=${H} D=${D} (≤ 1e-2)`, async () => {
      const gpu = await testDevice();
      if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
      const x = inputs(N, H, D, `dense f16 ${N}x${H}x${D}`);
      const got = await runAttention(gpu, x, { N, H, D }, { dtype: 'f16' });
      expect(relError(got, attentionReference(x.q, x.k, x.v, { N, H, D }))).toBeLessThan(1e-2);
    });
  }
});
