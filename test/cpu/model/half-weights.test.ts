import { describe, expect, it } from 'vitest';
import { f16BitsToF32, toF16 } from '../../../src/attention/f16.js';
import { bytesSource, openSafetensors } from '../../../src/model/source/safetensors.js';
import { readHalf, transposeHalf } from '../../../src/model/graph/half-weights.js';
import { transposeLinear } from '../../../src/model/graph/ops.js';
import { freshSeed, randomF32, rng } from '../../helpers/random.js';
import { buildSafetensors } from './st-helpers.js';

describe('float16 weights for an fp16 model (readHalf, transposeHalf)', () => {
  const rand = rng(freshSeed('half-weights'));
  const x = randomF32(301, rand, -3, 3);
  const half = toF16(x);
  // BF16 of x: the top 16 bits of each float32 (truncation is fine: any bf16 value is a valid input).
  const bf = new Uint16Array(x.length);
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < x.length; i++) bf[i] = bits[i] >>> 16;

  it('F16 tensors come through bit for bit, F32 is narrowed once, BF16 is rounded to nearest f16', async () => {
    const st = await openSafetensors(
      bytesSource(
        buildSafetensors([
          { name: 'h', dtype: 'F16', shape: [x.length], bytes: new Uint8Array(half.buffer) },
          { name: 'f', dtype: 'F32', shape: [x.length], bytes: new Uint8Array(x.buffer) },
          { name: 'b', dtype: 'BF16', shape: [x.length], bytes: new Uint8Array(bf.buffer) },
        ]),
      ),
    );
    expect(await readHalf(st, 'h')).toEqual(half);
    expect(await readHalf(st, 'f')).toEqual(half);
    const b = await readHalf(st, 'b');
    for (let i = 0; i < x.length; i++) {
      const bv = new Float32Array(new Uint32Array([bf[i] << 16]).buffer)[0];
      // Within half an f16 ulp (2^-11 relative) of the bf16 value, i.e. correctly rounded.
      expect(Math.abs(f16BitsToF32(b[i]) - bv)).toBeLessThanOrEqual(Math.abs(bv) * 2 ** -11 + 2 ** -25);
    }
    // A plain reader (no dtypes, no raw bytes) is narrowed from float32.
    expect(await readHalf({ read: async () => x }, 'any')).toEqual(half);
  });

  it('values beyond ±65504 are refused rather than becoming Inf', async () => {
    await expect(readHalf({ read: async () => new Float32Array([1, 70000]) }, 'w')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('transposeHalf moves the same elements as transposeLinear', () => {
    const [out, inDim] = [7, 43];
    const w = x.subarray(0, out * inDim);
    expect(transposeHalf(toF16(w), out, inDim)).toEqual(toF16(transposeLinear(w, out, inDim)));
  });
});
