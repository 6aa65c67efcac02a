/**
 * Streaming, bounds-checked reader for the safetensors format
 * (`u64 LE header length` · `JSON header` · `raw little-endian tensor bytes`).
 *
 * The reader never holds the whole file in one ArrayBuffer: it reads the header, then each tensor by byte
 * range from a {@link ByteSource} (memory, file handle, HTTP Range requests or a browser Blob). VGGT-1B is
 * ~5 GB in fp32, far beyond what a single ArrayBuffer can hold in most engines.
 *
 * Header parsing is written for hostile input: every malformed header ends in
 * `HessError('BAD_CHECKPOINT')`, never a RangeError, TypeError, stack overflow or hang.
 *
 * @example
 * const st = await openSafetensors(await fileSource('model.safetensors'));
 * const w = await st.read('aggregator.frame_blocks.0.attn.qkv.weight'); // Float32Array
 */
import { HessError, check, throwIfAborted } from '../errors';
import type { ByteRange, ByteSource } from './byte-source';

export { blobSource, bytesSource, fileSource, type ByteRange, type ByteSource } from './byte-source';
export { urlSource, type UrlSourceOptions } from './url-source';

// ---------------------------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------------------------

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

/** One tensor of the file. `byteOffset` is absolute (from the start of the file). */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Number of elements (product of shape; 1 for a scalar). */
  readonly numel: number;
  /** Absolute byte offset in the file. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** An opened safetensors file. */
export interface Safetensors {
  /** Tensors by name, in header order. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** The `__metadata__` string map ({} when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Size of the JSON header in bytes (the data section starts at `8 + headerLength`). */
  readonly headerLength: number;
  /** Read a tensor converted to float32 (F16/BF16/F64/F8/int types are converted; I64/U64 may lose precision). */
  read(name: string, opts?: { signal?: AbortSignal }): Promise<Float32Array>;
  /** Read a tensor's raw little-endian bytes (may be a view into the source; do not mutate). */
  readRaw(name: string, opts?: { signal?: AbortSignal }): Promise<Uint8Array>;
  /** Close the source (file handle), if it can be closed. */
  close(): Promise<void>;
}

/** Largest accepted JSON header (the Rust reference uses the same 100 MB bound). */
export const MAX_HEADER_BYTES = 100_000_000;
/** Largest accepted tensor rank. */
const MAX_RANK = 64;
/** JSON nesting allowed in a header (root object → entry object → array is 3). */
const MAX_JSON_DEPTH = 8;

function bad(message: string, cause?: unknown): HessError {
  return new HessError(
    'BAD_CHECKPOINT',
    `safetensors: ${message}`,
    'the file is not a valid safetensors checkpoint (truncated or corrupt download?); fetch it again',
    cause === undefined ? undefined : { cause },
  );
}

// --- a small strict JSON parser: duplicate keys rejected, depth bounded, objects as Maps (no __proto__ games) ---

type Json = null | boolean | number | string | Json[] | JsonObject;
type JsonObject = Map<string, Json>;

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class JsonParser {
  private i = 0;
  constructor(private readonly s: string) {}

  parseDocument(): Json {
    const v = this.value(0);
    this.ws();
    if (this.i !== this.s.length) throw bad(`header JSON has trailing data at character ${this.i}`);
    return v;
  }

  private ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  private value(depth: number): Json {
    if (depth > MAX_JSON_DEPTH) throw bad(`header JSON nested deeper than ${MAX_JSON_DEPTH}`);
    this.ws();
    const s = this.s;
    const c = s[this.i];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === 't' && s.startsWith('true', this.i)) return (this.i += 4), true;
    if (c === 'f' && s.startsWith('false', this.i)) return (this.i += 5), false;
    if (c === 'n' && s.startsWith('null', this.i)) return (this.i += 4), null;
    NUMBER_RE.lastIndex = this.i;
    const m = NUMBER_RE.exec(s);
    if (m && m[0].length > 0) {
      this.i += m[0].length;
      return Number(m[0]);
    }
    throw bad(c === undefined ? 'header JSON ends early' : `header JSON: unexpected character at ${this.i}`);
  }

  private object(depth: number): JsonObject {
    const out: JsonObject = new Map();
    this.i++; // {
    this.ws();
    if (this.s[this.i] === '}') return this.i++, out;
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') throw bad(`header JSON: expected a key at ${this.i}`);
      const key = this.string();
      if (out.has(key)) throw bad(`duplicate key ${JSON.stringify(key)} in header`);
      this.ws();
      if (this.s[this.i] !== ':') throw bad(`header JSON: expected ':' at ${this.i}`);
      this.i++;
      out.set(key, this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') throw bad(`header JSON: expected ',' or '}' at ${this.i - 1}`);
    }
  }

  private array(depth: number): Json[] {
    const out: Json[] = [];
    this.i++; // [
    this.ws();
    if (this.s[this.i] === ']') return this.i++, out;
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') throw bad(`header JSON: expected ',' or ']' at ${this.i - 1}`);
    }
  }

  private string(): string {
    const s = this.s;
    const start = this.i; // at the opening quote
    let i = start + 1;
    let escaped = false;
    for (;;) {
      if (i >= s.length) throw bad('header JSON: unterminated string');
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) throw bad(`header JSON: control character in string at ${i}`);
      if (c === 0x5c) {
        escaped = true;
        i += 2;
      } else i++;
    }
    this.i = i + 1;
    const raw = s.slice(start, i + 1);
    if (!escaped) return raw.slice(1, -1);
    try {
      return JSON.parse(raw) as string; // validates the escapes
    } catch (e) {
      throw bad(`header JSON: bad escape in string at ${start}`, e);
    }
  }
}

function isDtype(v: unknown): v is Dtype {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, v);
}

function describe(name: string): string {
  const s = JSON.stringify(name);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Parse and validate a header (the JSON bytes between the length prefix and the data section).
 * Exposed for tests and tools; {@link openSafetensors} is the usual entry point.
 *
 * @example
 * const { tensors } = parseSafetensorsHeader(headerBytes, 8 + headerBytes.length, fileSize);
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  dataStart: number,
  fileSize: number,
): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch (e) {
    throw bad('header is not valid UTF-8', e);
  }
  let root: Json;
  try {
    root = new JsonParser(text).parseDocument();
  } catch (e) {
    if (e instanceof HessError) throw e;
    throw bad('header is not valid JSON', e); // e.g. a RangeError from an engine limit
  }
  if (!(root instanceof Map)) throw bad('header JSON is not an object');

  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  const spans: { begin: number; end: number; name: string }[] = [];

  for (const [name, entry] of root) {
    if (name === '__metadata__') {
      if (!(entry instanceof Map)) throw bad('__metadata__ must be an object of strings');
      const md: [string, string][] = [];
      for (const [k, v] of entry) {
        if (typeof v !== 'string') throw bad(`__metadata__[${describe(k)}] is not a string`);
        md.push([k, v]);
      }
      metadata = Object.fromEntries(md);
      continue;
    }
    const what = `tensor ${describe(name)}`;
    if (!(entry instanceof Map)) throw bad(`${what}: entry is not an object`);
    const dtype = entry.get('dtype');
    if (!isDtype(dtype)) throw bad(`${what}: unknown dtype ${describe(String(dtype))}`);
    const shape = entry.get('shape');
    if (!Array.isArray(shape)) throw bad(`${what}: shape is not an array`);
    if (shape.length > MAX_RANK) throw bad(`${what}: rank ${shape.length} > ${MAX_RANK}`);
    let numel = 1;
    for (const d of shape) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw bad(`${what}: shape entries must be non-negative integers`);
      numel *= d;
      if (!Number.isSafeInteger(numel)) throw bad(`${what}: shape ${JSON.stringify(shape)} is too large`);
    }
    const offsets = entry.get('data_offsets');
    if (!Array.isArray(offsets) || offsets.length !== 2) throw bad(`${what}: data_offsets must be [begin, end]`);
    const [begin, end] = offsets;
    if (typeof begin !== 'number' || typeof end !== 'number' || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end)) {
      throw bad(`${what}: data_offsets must be integers`);
    }
    if (begin < 0 || end < begin) throw bad(`${what}: data_offsets [${begin}, ${end}] are not 0 <= begin <= end`);
    if (end > dataSize) throw bad(`${what}: data_offsets end ${end} is past the data section (${dataSize} bytes); truncated file?`);
    const byteLength = numel * DTYPE_SIZE[dtype];
    if (!Number.isSafeInteger(byteLength) || end - begin !== byteLength) {
      throw bad(`${what}: ${end - begin} bytes for ${dtype}${JSON.stringify(shape)} (expected ${byteLength})`);
    }
    tensors.set(name, {
      name,
      dtype,
      shape: Object.freeze(shape.slice() as number[]),
      numel,
      byteOffset: dataStart + begin,
      byteLength,
    });
    spans.push({ begin, end, name });
  }

  // No two tensors may share bytes (zero-length tensors occupy nothing).
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let maxEnd = 0;
  let maxName = '';
  for (const s of spans) {
    if (s.end === s.begin) continue;
    if (s.begin < maxEnd) throw bad(`tensors ${describe(maxName)} and ${describe(s.name)} overlap`);
    maxEnd = s.end;
    maxName = s.name;
  }
  return { tensors, metadata };
}

/**
 * Open a safetensors file: read and validate the header (one or two small reads); tensors are read on demand.
 *
 * @example
 * const st = await openSafetensors(await urlSource(url));
 * for (const t of st.tensors.values()) console.log(t.name, t.dtype, t.shape);
 */
export async function openSafetensors(source: ByteSource, opts: { signal?: AbortSignal } = {}): Promise<Safetensors> {
  const { signal } = opts;
  throwIfAborted(signal);
  const size = source.size;
  check(Number.isSafeInteger(size) && size >= 0, 'source.size must be a non-negative integer');
  if (size < 8) throw bad(`file is ${size} bytes, smaller than the 8-byte header length`);
  const prefix = await source.read(0, 8);
  if (prefix.byteLength !== 8) throw new HessError('IO_ERROR', 'source returned a short read');
  throwIfAborted(signal);
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  if (hi !== 0 || lo > MAX_HEADER_BYTES) throw bad(`header length ${hi * 2 ** 32 + lo} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLength = lo;
  if (headerLength < 2) throw bad(`header length ${headerLength} is too small`);
  if (8 + headerLength > size) throw bad(`header length ${headerLength} runs past the end of the file (${size} bytes); truncated?`);
  const headerBytes = await source.read(8, headerLength);
  if (headerBytes.byteLength !== headerLength) throw new HessError('IO_ERROR', 'source returned a short read');
  throwIfAborted(signal);
  const { tensors, metadata } = parseSafetensorsHeader(headerBytes, 8 + headerLength, size);
  // Tell the source what will be read (sources that fetch read ahead and coalesce along it).
  const ranges: ByteRange[] = [...tensors.values()].filter((t) => t.byteLength > 0).map((t) => ({ offset: t.byteOffset, length: t.byteLength }));
  source.plan?.(ranges.sort((a, b) => a.offset - b.offset));

  const info = (name: string): TensorInfo => {
    const t = tensors.get(name);
    if (!t) throw new HessError('BAD_CHECKPOINT', `tensor ${describe(name)} is not in the checkpoint`, 'use a matching checkpoint');
    return t;
  };
  const readRaw = async (name: string, o: { signal?: AbortSignal } = {}): Promise<Uint8Array> => {
    const t = info(name);
    throwIfAborted(o.signal ?? signal);
    const bytes = await source.read(t.byteOffset, t.byteLength);
    if (bytes.byteLength !== t.byteLength) throw new HessError('IO_ERROR', `short read of tensor ${describe(name)}`);
    throwIfAborted(o.signal ?? signal);
    return bytes;
  };
  return {
    tensors,
    metadata,
    headerLength,
    readRaw,
    async read(name, o = {}) {
      const t = info(name);
      return toFloat32(await readRaw(name, o), t.dtype, t.numel);
    },
    async close() {
      await source.close?.();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Conversion
// ---------------------------------------------------------------------------------------------------------------

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Copy `bytes` into a fresh aligned buffer in host byte order. */
function alignedHostOrder(bytes: Uint8Array, elemSize: number): ArrayBuffer {
  const copy = bytes.slice();
  if (!LITTLE_ENDIAN && elemSize > 1) {
    for (let i = 0; i < copy.length; i += elemSize) copy.subarray(i, i + elemSize).reverse();
  }
  return copy.buffer;
}

let f16Table: Float32Array | null = null;
/** float16 bit pattern → float32, for all 65536 patterns. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const man = h & 0x3ff;
    if (exp === 0) t[h] = sign * man * 2 ** -24;
    else if (exp === 31) t[h] = man ? NaN : sign * Infinity;
    else t[h] = sign * (1 + man / 1024) * 2 ** (exp - 15);
  }
  return (f16Table = t);
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
    throw new HessError('BAD_CHECKPOINT', `tensor data is ${bytes.byteLength} bytes, expected ${numel * size} for ${dtype}`);
  }
  const buf = alignedHostOrder(bytes, size);
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'F64':
      return Float32Array.from(new Float64Array(buf));
    case 'F16': {
      const t = halfTable();
      const src = new Uint16Array(buf);
      const out = new Float32Array(numel);
      for (let i = 0; i < numel; i++) out[i] = t[src[i]];
      return out;
    }
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
