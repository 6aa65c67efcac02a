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
import { HessError, check, throwIfAborted } from '../../errors.js';
import type { ByteRange, ByteSource } from './byte-source.js';
import { DTYPE_SIZE, isDtype, toFloat32, type Dtype } from './safetensors-dtype.js';
import { JsonParser, type Json } from './strict-json.js';

export { blobSource, bytesSource, fileSource, type ByteRange, type ByteSource } from './byte-source.js';
export { urlSource, type UrlSourceOptions } from './url-source.js';
export type { Dtype } from './safetensors-dtype.js';

// ---------------------------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------------------------

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
    root = new JsonParser(text, bad, MAX_JSON_DEPTH).parseDocument();
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
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
        throw bad(`${what}: shape entries must be non-negative integers`);
      numel *= d;
      if (!Number.isSafeInteger(numel)) throw bad(`${what}: shape ${JSON.stringify(shape)} is too large`);
    }
    const offsets = entry.get('data_offsets');
    if (!Array.isArray(offsets) || offsets.length !== 2) throw bad(`${what}: data_offsets must be [begin, end]`);
    const [begin, end] = offsets;
    if (
      typeof begin !== 'number' ||
      typeof end !== 'number' ||
      !Number.isSafeInteger(begin) ||
      !Number.isSafeInteger(end)
    ) {
      throw bad(`${what}: data_offsets must be integers`);
    }
    if (begin < 0 || end < begin) throw bad(`${what}: data_offsets [${begin}, ${end}] are not 0 <= begin <= end`);
    if (end > dataSize)
      throw bad(`${what}: data_offsets end ${end} is past the data section (${dataSize} bytes); truncated file?`);
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
  if (hi !== 0 || lo > MAX_HEADER_BYTES)
    throw bad(`header length ${hi * 2 ** 32 + lo} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLength = lo;
  if (headerLength < 2) throw bad(`header length ${headerLength} is too small`);
  if (8 + headerLength > size)
    throw bad(`header length ${headerLength} runs past the end of the file (${size} bytes); truncated?`);
  const headerBytes = await source.read(8, headerLength);
  if (headerBytes.byteLength !== headerLength) throw new HessError('IO_ERROR', 'source returned a short read');
  throwIfAborted(signal);
  const { tensors, metadata } = parseSafetensorsHeader(headerBytes, 8 + headerLength, size);
  // Tell the source what will be read (sources that fetch read ahead and coalesce along it).
  const ranges: ByteRange[] = [...tensors.values()]
    .filter((t) => t.byteLength > 0)
    .map((t) => ({ offset: t.byteOffset, length: t.byteLength }));
  source.plan?.(ranges.sort((a, b) => a.offset - b.offset));

  const info = (name: string): TensorInfo => {
    const t = tensors.get(name);
    if (!t)
      throw new HessError(
        'BAD_CHECKPOINT',
        `tensor ${describe(name)} is not in the checkpoint`,
        'use a matching checkpoint',
      );
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
