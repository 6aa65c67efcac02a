// The project's one f16 codec (src/attention/f16.ts), checked on every one of the 65,536 half bit patterns against
// a decoder built another way: assembling the float32 bit pattern field by field.
import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits, fromF16 } from '../../../src/attention/f16.js';
import { toFloat32 } from '../../../src/model/source/safetensors-dtype.js';

/** float32 bits of a half, by moving its fields (subnormal halves are normalised: they are normal in float32). */
function f32BitsOfHalf(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  let e = -14; // subnormal: mant · 2^-24 = 1.f · 2^e after shifting the leading 1 up to bit 10
  while (!(mant & 0x400)) {
    mant <<= 1;
    e--;
  }
  return (sign | ((e + 127) << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

const ALL = Uint16Array.from({ length: 65536 }, (_, h) => h);
const isNaNHalf = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('f16 codec', () => {
  it('decodes all 65,536 halves bit-exactly (NaNs to NaN)', () => {
    const out = fromF16(ALL);
    const bits = new Uint32Array(out.buffer);
    let nans = 0;
    for (let h = 0; h < 65536; h++) {
      if (isNaNHalf(h)) {
        nans++;
        expect(Number.isNaN(out[h])).toBe(true);
        expect(Number.isNaN(f16BitsToF32(h))).toBe(true);
        continue;
      }
      if (bits[h] !== f32BitsOfHalf(h)) expect([h, bits[h].toString(16)]).toEqual([h, f32BitsOfHalf(h).toString(16)]);
      expect(Object.is(f16BitsToF32(h), out[h])).toBe(true);
    }
    expect(nans).toBe(2 * 1023);
  });

  it('encodes every decoded half back to the same bits', () => {
    const out = fromF16(ALL);
    for (let h = 0; h < 65536; h++) {
      if (isNaNHalf(h)) expect(isNaNHalf(f32ToF16Bits(out[h]))).toBe(true);
      else if (f32ToF16Bits(out[h]) !== h) expect([h, f32ToF16Bits(out[h])]).toEqual([h, h]);
    }
  });

  it('is the decoder of F16 checkpoint tensors (little-endian bytes, unaligned views)', () => {
    const bytes = new Uint8Array(1 + 2 * 65536);
    for (let h = 0; h < 65536; h++) {
      bytes[1 + 2 * h] = h & 0xff;
      bytes[2 + 2 * h] = h >>> 8;
    }
    const viaTensor = toFloat32(bytes.subarray(1), 'F16', 65536);
    const direct = fromF16(ALL);
    expect(new Uint32Array(viaTensor.buffer)).toEqual(new Uint32Array(direct.buffer));
  });
});
