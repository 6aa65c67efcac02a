import { describe, expect, it } from 'vitest';
import { createStorageBuffer, poisonBuffer, readF32 } from '../../src/gpu/buffers.js';
import { encodeMatmul } from '../../src/gpu/matmul.js';
import { testDevice } from '../helpers/gpu.js';
import { freshSeed, randomF32, relError, rng } from '../helpers/random.js';

function matmulRef(a: Float32Array, b: Float32Array, M: number, N: number, K: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++) {
      const aik = a[i * K + k];
      for (let j = 0; j < N; j++) c[i * N + j] += aik * b[k * N + j];
    }
  return c;
}

describe('WGSL tiled matmul (fp32) vs float64 CPU reference', () => {
  for (const [M, N, K] of [
    [64, 64, 64],
    [37, 53, 29],
    [1, 17, 130],
    [128, 96, 80],
  ]) {
    it(`${M}×${K} · ${K}×${N}`, async () => {
      const { device } = await testDevice();
      const rand = rng(freshSeed(`matmul ${M}x${N}x${K}`));
      const a = randomF32(M * K, rand);
      const b = randomF32(K * N, rand);
      const A = createStorageBuffer(device, a);
      const B = createStorageBuffer(device, b);
      const C = createStorageBuffer(device, M * N * 4);
      poisonBuffer(device, C);
      const enc = device.createCommandEncoder();
      encodeMatmul(device, enc, A, B, C, M, N, K);
      device.queue.submit([enc.finish()]);
      const got = await readF32(device, C, M * N);
      expect(relError(got, matmulRef(a, b, M, N, K))).toBeLessThan(1e-5);
      for (const buf of [A, B, C]) buf.destroy();
    });
  }

  it('rejects bad shapes with a typed error', async () => {
    const { device } = await testDevice();
    const buf = createStorageBuffer(device, 16);
    const enc = device.createCommandEncoder();
    expect(() => encodeMatmul(device, enc, buf, buf, buf, 0, 1, 1)).toThrow(/positive integer/);
    expect(() => encodeMatmul(device, enc, buf, buf, buf, 4, 4, 4)).toThrow(/smaller than its shape/);
  });
});
