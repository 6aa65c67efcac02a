import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { createStorageBuffer } from '../../../src/gpu/buffers.js';
import {
  createBlockSparsePlan,
  encodeAttention,
  encodeBlockSparseAttention,
  runAttention,
} from '../../../src/attention/kernel.js';
import { type AttentionShape, denseLayout } from '../../../src/attention/layout.js';
import { attentionReference, blockSparseReference, layoutToMask } from '../../../src/attention/reference.js';
import { mustHave, testDevice } from '../../helpers/gpu.js';
import { freshSeed, randn, relError, rng } from '../../helpers/random.js';
import { randomLayout } from './layouts.js';

function inputs(s: AttentionShape, rand: () => number) {
  const n = s.N * s.H * s.D;
  return { q: randn(n, rand, 2), k: randn(n, rand), v: randn(n, rand) };
}

describe('block-sparse attention (WGSL) vs float64 references', () => {
  it('all blocks kept equals dense attention (ragged N=300, 128-token query / 64-token key blocks)', async () => {
    const gpu = await testDevice();
    const shape = { N: 300, H: 2, D: 16 };
    const x = inputs(shape, rng(freshSeed('sparse all-kept')));
    const sparse = await runAttention(gpu, x, shape, { layout: denseLayout(shape) });
    const dense = await runAttention(gpu, x, shape);
    expect(relError(sparse, dense)).toBeLessThan(1e-5);
    expect(relError(sparse, attentionReference(x.q, x.k, x.v, shape))).toBeLessThan(1e-4);
  });

  // Each case: shape, query block, key block, fraction of key blocks kept per head (heads differ), kernel rows.
  const cases: [AttentionShape, number, number, number[], number?][] = [
    [{ N: 517, H: 4, D: 64 }, 128, 64, [1, 0.5, 0.25, 0.1]], // planner defaults, ragged N
    // query block split over 4 workgroups of 32 rows, the last one partly outside the block; key block not a tile multiple
    [{ N: 333, H: 3, D: 16 }, 100, 40, [0.6, 0.3, 0.1], 32],
    [{ N: 50, H: 2, D: 16 }, 128, 64, [1, 1]], // one query block, one key block, both partial
    [{ N: 190, H: 2, D: 16 }, 32, 16, [0.4, 0.15]], // blocks smaller than the tiles
  ];
  for (const [shape, qb, kb, keep, rows] of cases) {
    it(`N=${shape.N} H=${shape.H} D=${shape.D} blocks ${qb}/${kb}, keep per head ${keep.join('/')}: equals the −∞-masked dense reference`, async () => {
      const gpu = await testDevice();
      const rand = rng(freshSeed(`sparse ${shape.N}x${shape.H}x${shape.D} ${qb}/${kb}`));
      const x = inputs(shape, rand);
      const layout = randomLayout(shape, qb, kb, keep, rand);
      const got = await runAttention(gpu, x, shape, { layout, tiling: rows ? { rows } : undefined });
      const masked = attentionReference(x.q, x.k, x.v, shape, layoutToMask(shape, layout));
      expect(relError(got, masked)).toBeLessThan(1e-4);
      // and it is really sparse: with fewer blocks the answer differs from dense attention
      if (keep.some((f) => f < 1))
        expect(relError(got, attentionReference(x.q, x.k, x.v, shape))).toBeGreaterThan(1e-2);
    });
  }

  it('fp16 storage, per-head keeps 0.5/0.2 (≤ 1e-2)', async () => {
    const gpu = await testDevice();
    if (!mustHave(gpu.features.shaderF16, 'shader-f16')) return;
    const shape = { N: 260, H: 2, D: 64 };
    const rand = rng(freshSeed('sparse f16'));
    const x = inputs(shape, rand);
    const layout = randomLayout(shape, 128, 64, [0.5, 0.2], rand);
    const got = await runAttention(gpu, x, shape, { layout, dtype: 'f16' });
    expect(relError(got, blockSparseReference(x.q, x.k, x.v, shape, layout))).toBeLessThan(1e-2);
  });

  it('encodes into a caller encoder on caller buffers, twice in one pass sequence (plan reused)', async () => {
    const gpu = await testDevice();
    const { device } = gpu;
    const shape = { N: 140, H: 2, D: 16 };
    const rand = rng(freshSeed('sparse encode'));
    const x = inputs(shape, rand);
    const layout = randomLayout(shape, 64, 32, [0.5, 0.25], rand);
    const plan = createBlockSparsePlan(gpu, shape, layout);
    const [q, k, v] = [x.q, x.k, x.v].map((a) => createStorageBuffer(device, a));
    const o1 = createStorageBuffer(device, x.q.byteLength);
    const o2 = createStorageBuffer(device, x.q.byteLength);
    device.queue.writeBuffer(o1, 0, new Uint32Array(o1.size / 4).fill(0x7fc00bad));
    device.queue.writeBuffer(o2, 0, new Uint32Array(o2.size / 4).fill(0x7fc00bad));
    const enc = device.createCommandEncoder();
    encodeBlockSparseAttention(gpu, enc, { q, k, v, o: o1 }, plan);
    // the second call reads the first call's output as its V: shows that passes chain on the GPU
    encodeAttention(gpu, enc, { q, k, v: o1, o: o2 }, shape);
    device.queue.submit([enc.finish()]);
    const { readF32 } = await import('../../../src/gpu/buffers.js');
    const got1 = await readF32(device, o1, x.q.length);
    const got2 = await readF32(device, o2, x.q.length);
    const ref1 = blockSparseReference(x.q, x.k, x.v, shape, layout);
    expect(relError(got1, ref1)).toBeLessThan(1e-4);
    expect(relError(got2, attentionReference(x.q, x.k, ref1, shape))).toBeLessThan(1e-4);
    plan.destroy();
    for (const b of [q, k, v, o1, o2]) b.destroy();
  });
});

describe('attention host validation (typed errors before any GPU work)', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return e instanceof HessError ? e.code : `not a HessError: ${String(e)}`;
    }
    return 'no error';
  };

  it('EMPTY_ROW, bad lists, buffer sizes, aliasing, missing shader-f16', async () => {
    const gpu = await testDevice();
    const { device } = gpu;
    const shape = { N: 130, H: 2, D: 16 }; // nQB = 2 (128-token blocks), nKB = 3 (64-token blocks)
    const ok = denseLayout(shape);
    const empty = {
      ...ok,
      offsets: Uint32Array.from([0, 3, 3, 3, 6, 9]),
      indices: Uint32Array.from(ok.indices).slice(0, 9),
    };
    expect(code(() => createBlockSparsePlan(gpu, shape, empty))).toBe('EMPTY_ROW');
    expect(
      code(() =>
        createBlockSparsePlan(gpu, shape, {
          ...ok,
          indices: Uint32Array.from(ok.indices, (v, i) => (i === 4 ? 3 : v)),
        }),
      ),
    ).toBe('INVALID_ARGUMENT');
    expect(code(() => createBlockSparsePlan(gpu, shape, { ...ok, queryBlock: 0 }))).toBe('INVALID_ARGUMENT');

    const n = shape.N * shape.H * shape.D;
    const big = () => createStorageBuffer(device, n * 4);
    const [q, k, v, o] = [big(), big(), big(), big()];
    const small = createStorageBuffer(device, n * 4 - 4);
    const enc = device.createCommandEncoder();
    expect(code(() => encodeAttention(gpu, enc, { q, k, v: small, o }, shape))).toBe('SHAPE_MISMATCH');
    expect(code(() => encodeAttention(gpu, enc, { q, k, v, o: q }, shape))).toBe('INVALID_ARGUMENT');
    expect(code(() => encodeAttention(gpu, enc, { q, k, v, o }, { ...shape, D: 18 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => encodeAttention(gpu, enc, { q, k, v, o }, { ...shape, N: 0 }))).toBe('INVALID_ARGUMENT');
    const noF16 = { ...gpu, features: { ...gpu.features, shaderF16: false } };
    expect(code(() => encodeAttention(noF16, enc, { q, k, v, o }, shape, { dtype: 'f16' }))).toBe('NO_SHADER_F16');
    expect(code(() => encodeAttention(gpu, enc, { q, k, v, o }, shape, { tiling: { keys: 4096 } }))).toMatch(
      /INVALID_ARGUMENT|LIMIT_TOO_SMALL/,
    );
    for (const b of [q, k, v, o, small]) b.destroy();
  });
});
