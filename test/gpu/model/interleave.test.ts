import { describe, expect, it } from 'vitest';
import { createStorageBuffer, readBuffer } from '../../../src/gpu/buffers.js';
import { interleaveGpu, interleaveHost } from '../../../src/model/trunk/interleave.js';
import { testDevice } from '../../helpers/gpu.js';
import { freshSeed, rng } from '../../helpers/random.js';

/** Random 32-bit words (any bit pattern: NaNs and denormals included, so a float-converting copy would show). */
function words(n: number, rand: () => number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 2 ** 32) >>> 0;
  return out;
}

describe('interleaveGpu: [N, C] ⊕ [N, C] → [N, 2C] on the device', () => {
  // (rows, words): odd sizes; one row; and one past a single grid row of workgroups (32768 · 256 words).
  for (const [N, C] of [
    [7, 5],
    [1, 3],
    [40, 64],
    [4100, 1024],
  ] as const) {
    it(`is bit-identical to the host interleave at N=${N}, C=${C}, reading only the first N·C words of larger buffers`, async () => {
      const { device } = await testDevice();
      const rand = rng(freshSeed(`interleave ${N}x${C}`));
      // ORT's buffers may be larger than the tensor: the tail must not leak into the result.
      const a = words(N * C + 13, rand);
      const b = words(N * C + 13, rand);
      const [ba, bb] = [createStorageBuffer(device, a), createStorageBuffer(device, b)];
      const out = interleaveGpu(device, ba, bb, N, C);
      expect(out.size).toBe(N * 2 * C * 4);
      const got = new Uint32Array(await readBuffer(device, out));
      const f = (u: Uint32Array) => new Float32Array(u.buffer, 0, N * C);
      const want = new Uint32Array(interleaveHost(f(a), f(b), N, C).buffer);
      let diff = 0;
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) diff++;
      expect(diff).toBe(0);
      for (const x of [ba, bb, out]) x.destroy();
    });
  }

  it("host interleave puts each token's a row then b row", () => {
    const a = Float32Array.from([1, 2, 3, 4]);
    const b = Float32Array.from([5, 6, 7, 8]);
    expect([...interleaveHost(a, b, 2, 2)]).toEqual([1, 2, 5, 6, 3, 4, 7, 8]);
  });
});
