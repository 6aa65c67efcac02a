/** Test helpers: build small safetensors files in memory. */
import { DTYPE_SIZE, type Dtype } from '../../../src/model/source/safetensors-dtype.js';

export interface Entry {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** raw little-endian bytes; defaults to a deterministic pattern */
  bytes?: Uint8Array;
}

/** Serialise entries (contiguous, in order) with an optional __metadata__. */
export function buildSafetensors(
  entries: Entry[],
  metadata?: Record<string, string>,
  pad = 0,
): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  const datas: Uint8Array[] = [];
  for (const e of entries) {
    const n = e.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[e.dtype];
    const bytes = e.bytes ?? Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
    if (bytes.length !== n) throw new Error(`bad test entry ${e.name}`);
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + n] };
    off += n;
    datas.push(bytes);
  }
  return assemble(JSON.stringify(header) + ' '.repeat(pad), datas);
}

/** Length prefix + header text + data chunks. */
export function assemble(
  headerText: string | Uint8Array,
  datas: Uint8Array[] = [],
  declaredLength?: number,
): Uint8Array<ArrayBuffer> {
  const h = typeof headerText === 'string' ? new TextEncoder().encode(headerText) : headerText;
  const dataLen = datas.reduce((a, d) => a + d.length, 0);
  const out = new Uint8Array(8 + h.length + dataLen);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(declaredLength ?? h.length), true);
  out.set(h, 8);
  let p = 8 + h.length;
  for (const d of datas) {
    out.set(d, p);
    p += d.length;
  }
  return out;
}

export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
