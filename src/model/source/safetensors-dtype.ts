/**
 * The element types of the safetensors format: their names, sizes, and decoding of raw little-endian tensor bytes
 * to float32.
 *
 * @example
 * const f = toFloat32(bytes, 'BF16', 12);
 */
import { fromF16 } from '../../attention/f16.js';
import { HessError } from '../../errors.js';

/** Element types of the safetensors format. */
export type Dtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL'
  | 'F8_E4M3'
  | 'F8_E5M2';

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<Dtype, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
});

/** Whether `v` names a {@link Dtype}. */
export function isDtype(v: unknown): v is Dtype {
  return typeof v === 'string' && Object.hasOwn(DTYPE_SIZE, v);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Copy `bytes` into a fresh aligned buffer in host byte order. */
function alignedHostOrder(bytes: Uint8Array, elemSize: number): ArrayBuffer {
  const copy = bytes.slice();
  if (!LITTLE_ENDIAN && elemSize > 1) {
    for (let i = 0; i < copy.length; i += elemSize) copy.subarray(i, i + elemSize).reverse();
  }
  return copy.buffer;
}

function f8Table(kind: 'F8_E4M3' | 'F8_E5M2'): Float32Array {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    if (kind === 'F8_E4M3') {
      const exp = (b >> 3) & 0xf;
      const man = b & 7;
      if (exp === 15 && man === 7) t[b] = NaN;
      else if (exp === 0) t[b] = sign * (man / 8) * 2 ** -6;
      else t[b] = sign * (1 + man / 8) * 2 ** (exp - 7);
    } else {
      const exp = (b >> 2) & 0x1f;
      const man = b & 3;
      if (exp === 31) t[b] = man ? NaN : sign * Infinity;
      else if (exp === 0) t[b] = sign * (man / 4) * 2 ** -14;
      else t[b] = sign * (1 + man / 4) * 2 ** (exp - 15);
    }
  }
  return t;
}

/**
 * Convert raw little-endian tensor bytes to float32.
 *
 * @example
 * const f = toFloat32(await st.readRaw('x'), 'BF16', 12);
 */
export function toFloat32(bytes: Uint8Array, dtype: Dtype, numel: number): Float32Array {
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteLength !== numel * size) {
    throw new HessError(
      'BAD_CHECKPOINT',
      `tensor data is ${bytes.byteLength} bytes, expected ${numel * size} for ${dtype}`,
    );
  }
  const buf = alignedHostOrder(bytes, size);
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'F64':
      return Float32Array.from(new Float64Array(buf));
    case 'F16':
      return fromF16(new Uint16Array(buf));
    case 'BF16': {
      const src = new Uint16Array(buf);
      const out = new Float32Array(numel);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < numel; i++) bits[i] = src[i] << 16;
      return out;
    }
    case 'F8_E4M3':
    case 'F8_E5M2': {
      const t = f8Table(dtype);
      const src = new Uint8Array(buf);
      const out = new Float32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = t[src[i]];
      return out;
    }
    case 'I64': {
      const src = new BigInt64Array(buf);
      const out = new Float32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = Number(src[i]);
      return out;
    }
    case 'U64': {
      const src = new BigUint64Array(buf);
      const out = new Float32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = Number(src[i]);
      return out;
    }
    case 'I32':
      return Float32Array.from(new Int32Array(buf));
    case 'U32':
      return Float32Array.from(new Uint32Array(buf));
    case 'I16':
      return Float32Array.from(new Int16Array(buf));
    case 'U16':
      return Float32Array.from(new Uint16Array(buf));
    case 'I8':
      return Float32Array.from(new Int8Array(buf));
    case 'U8':
    case 'BOOL':
      return Float32Array.from(new Uint8Array(buf));
  }
}
