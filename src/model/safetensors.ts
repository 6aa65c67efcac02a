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
import { cacheError, openRangeStore, type FileVersion, type RangeStore, type UrlCacheOption } from './cache';

// ---------------------------------------------------------------------------------------------------------------
// Byte sources
// ---------------------------------------------------------------------------------------------------------------

/** Random-access bytes. `read` must return exactly `length` bytes (it may return a view, do not mutate it). */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Read `length` bytes at `offset` (`offset + length <= size`). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Release the underlying resource (file handle); optional. */
  close?(): Promise<void>;
}

function checkRange(size: number, offset: number, length: number): void {
  check(
    Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= size,
    `read(${offset}, ${length}) is outside the source (size ${size})`,
  );
}

function ioError(what: string, cause: unknown, fix = ''): HessError {
  if (cause instanceof HessError) return cause;
  const msg = cause instanceof Error ? cause.message : String(cause);
  return new HessError('IO_ERROR', `${what}: ${msg}`, fix, { cause });
}

function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

/**
 * A source over bytes already in memory (zero-copy: `read` returns views).
 *
 * @example
 * const st = await openSafetensors(bytesSource(new Uint8Array(await (await fetch(url)).arrayBuffer())));
 */
export function bytesSource(bytes: Uint8Array): ByteSource {
  check(bytes instanceof Uint8Array, 'bytesSource expects a Uint8Array');
  return {
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(bytes.byteLength, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/**
 * A source over a local file (Node, Deno, Bun), read by range through a `node:fs/promises` file handle.
 * Call `close()` when done.
 *
 * @example
 * const src = await fileSource('/models/vggt/model.safetensors');
 * try { const st = await openSafetensors(src); } finally { await src.close?.(); }
 */
export async function fileSource(path: string | URL): Promise<ByteSource> {
  type Fs = typeof import('node:fs/promises');
  let fs: Fs;
  try {
    const spec = 'node:fs/promises'; // not a literal import: keeps browser bundles free of node builtins
    fs = (await import(/* @vite-ignore */ spec)) as Fs;
  } catch (e) {
    throw new HessError('IO_ERROR', 'fileSource needs node:fs (Node, Deno or Bun)', 'in a browser use urlSource() or blobSource()', {
      cause: e,
    });
  }
  let fh: Awaited<ReturnType<Fs['open']>>;
  let size: number;
  try {
    fh = await fs.open(path, 'r');
  } catch (e) {
    throw ioError(`cannot open ${String(path)}`, e, 'check that the file exists and is readable');
  }
  try {
    size = (await fh.stat()).size;
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw ioError(`cannot stat ${String(path)}`, e);
  }
  let closed = false;
  return {
    size,
    async read(offset, length) {
      checkRange(size, offset, length);
      if (closed) throw new HessError('DISPOSED', 'fileSource was closed');
      const out = new Uint8Array(length);
      let done = 0;
      try {
        while (done < length) {
          const n = Math.min(length - done, 1 << 30);
          const { bytesRead } = await fh.read(out, done, n, offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
      } catch (e) {
        throw ioError(`read failed on ${String(path)}`, e);
      }
      if (done !== length) {
        throw new HessError('IO_ERROR', `${String(path)}: short read at ${offset} (${done}/${length} bytes); file changed?`);
      }
      return out;
    },
    async close() {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}

/**
 * A source over a browser `Blob`/`File` (reads `blob.slice(a, b).arrayBuffer()`).
 *
 * @example
 * input.onchange = async () => { const st = await openSafetensors(blobSource(input.files![0])); };
 */
export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    async read(offset, length) {
      checkRange(blob.size, offset, length);
      let buf: ArrayBuffer;
      try {
        buf = await blob.slice(offset, offset + length).arrayBuffer();
      } catch (e) {
        throw ioError('blob read failed', e);
      }
      if (buf.byteLength !== length) throw new HessError('IO_ERROR', `blob short read at ${offset} (${buf.byteLength}/${length})`);
      return new Uint8Array(buf);
    },
  };
}

/** Options of {@link urlSource}. */
export interface UrlSourceOptions {
  /** fetch implementation (defaults to `globalThis.fetch`). */
  fetch?: typeof fetch;
  /** Called with (bytes received so far, total bytes). */
  onProgress?: (loaded: number, total: number) => void;
  /** Aborts the probe, every later range read and a full download. */
  signal?: AbortSignal;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /**
   * Persistent cache of the fetched ranges (see src/model/cache.ts): 'cache-api' (default where `caches`
   * exists), 'opfs', 'none' (default elsewhere) or your own `{ get(key), put(key, bytes) }`. Only used when the
   * server honours Range requests.
   */
  cache?: UrlCacheOption;
  /**
   * true (default): each open sends one 1-byte probe request, and a changed ETag/Last-Modified/size refetches.
   * false: if the cache knows this URL, open without any request (offline use; a changed file is not noticed
   * until a range that is not cached is fetched, which then fails with IO_ERROR).
   */
  revalidate?: boolean;
}

/** Block size used to keep a full (non-Range) download in bounded chunks. */
const DOWNLOAD_BLOCK = 16 << 20;

/**
 * A source over an HTTP(S) URL using `Range` requests. If the server ignores `Range` (answers 200), the body
 * is streamed once and kept in 16 MiB chunks (never one ArrayBuffer), and reads are served from memory.
 *
 * @example
 * const src = await urlSource('https://huggingface.co/facebook/VGGT-1B/resolve/main/model.safetensors',
 *   { onProgress: (n, t) => console.log(n / t) });
 * const st = await openSafetensors(src);
 * // browsers: ranges are cached (Cache API by default); a second load only sends a 1-byte probe
 * const cached = await urlSource(url, { cache: 'opfs' });
 */
export async function urlSource(url: string | URL, opts: UrlSourceOptions = {}): Promise<ByteSource> {
  const f = opts.fetch ?? globalThis.fetch;
  check(typeof f === 'function', 'urlSource needs fetch', 'pass { fetch } or use a runtime with fetch');
  const { signal, onProgress } = opts;
  const href = String(url);
  const doFetch = async (range: string | null, method = 'GET'): Promise<Response> => {
    throwIfAborted(signal);
    const headers: Record<string, string> = { ...opts.headers };
    if (range) headers.Range = range;
    try {
      return await f(href, { method, headers, signal });
    } catch (e) {
      if (signal?.aborted || isAbortError(e)) throw new HessError('ABORTED', 'operation aborted', '', { cause: e });
      throw ioError(`fetch ${href} failed`, e, 'check the URL and the network (and CORS in browsers)');
    }
  };

  const store = await openRangeStore(opts.cache);
  const readMeta = async (): Promise<FileVersion | null> => {
    let raw: Uint8Array | undefined;
    try {
      raw = await store!.get(href, null, 'meta');
    } catch (e) {
      throw cacheError(`${href}: cache read`, e);
    }
    if (!raw) return null;
    try {
      const m = JSON.parse(new TextDecoder().decode(raw)) as FileVersion;
      return Number.isSafeInteger(m.size) && m.size >= 0 && typeof m.validator === 'string' ? m : null;
    } catch {
      return null; // unreadable entry: behave as a miss
    }
  };
  if (store && opts.revalidate === false) {
    const known = await readMeta();
    throwIfAborted(signal);
    if (known) return rangeSource(href, known, store, doFetch, signal, onProgress);
  }

  const probe = await doFetch('bytes=0-0');
  if (probe.status === 206) {
    let total = NaN;
    const cr = probe.headers.get('content-range');
    const m = cr ? /\/\s*(\d+)\s*$/.exec(cr) : null;
    if (m) total = Number(m[1]);
    await probe.body?.cancel().catch(() => undefined);
    let validator = validatorOf(probe);
    if (!Number.isSafeInteger(total)) {
      // 206 without a total size: ask with HEAD.
      const head = await doFetch(null, 'HEAD');
      await head.body?.cancel().catch(() => undefined);
      total = Number(head.headers.get('content-length'));
      if (!head.ok || !Number.isSafeInteger(total)) {
        throw new HessError('IO_ERROR', `${href}: server sent no usable Content-Range/Content-Length`, 'use a server that reports the file size');
      }
      validator ||= validatorOf(head);
    }
    const version: FileVersion = { size: total, validator };
    if (store) {
      const prev = await readMeta();
      if (!prev || prev.size !== version.size || prev.validator !== version.validator) {
        try {
          if (prev) await store.prune?.(href); // the file changed: drop the old version's ranges
          await store.put(href, null, 'meta', new TextEncoder().encode(JSON.stringify(version)));
        } catch (e) {
          throw cacheError(`${href}: cache write`, e);
        }
      }
      throwIfAborted(signal);
    }
    return rangeSource(href, version, store, doFetch, signal, onProgress);
  }
  if (!probe.ok) {
    await probe.body?.cancel().catch(() => undefined);
    throw new HessError('IO_ERROR', `${href}: HTTP ${probe.status}`, 'check the URL (and credentials)');
  }
  // Server ignored Range: stream the whole body into bounded blocks.
  return streamIntoBlocks(probe, href, signal, onProgress);
}

/** ETag, else Last-Modified, else '' (computed the same way for the probe and every range response). */
function validatorOf(res: Response): string {
  return res.headers.get('etag') ?? res.headers.get('last-modified') ?? '';
}

/** Range reads of one file version, served from `store` when it has them and written to it when not. */
function rangeSource(
  href: string,
  version: FileVersion,
  store: RangeStore | null,
  doFetch: (range: string | null, method?: string) => Promise<Response>,
  signal: AbortSignal | undefined,
  onProgress: ((loaded: number, total: number) => void) | undefined,
): ByteSource {
  const total = version.size;
  let loaded = 0;
  return {
    size: total,
    async read(offset, length) {
      checkRange(total, offset, length);
      if (length === 0) return new Uint8Array(0);
      const part = `bytes=${offset}-${offset + length - 1}`;
      if (store) {
        throwIfAborted(signal);
        let hit: Uint8Array | undefined;
        try {
          hit = await store.get(href, version, part);
        } catch (e) {
          throw cacheError(`${href}: cache read`, e);
        }
        throwIfAborted(signal);
        // A hit of the wrong length (interrupted write, foreign entry) is a miss: never a truncated tensor.
        if (hit && hit.byteLength === length) {
          loaded += length;
          onProgress?.(loaded, total);
          return hit;
        }
      }
      const res = await doFetch(part);
      if (res.status !== 206 && !(res.status === 200 && offset === 0 && length === total)) {
        await res.body?.cancel().catch(() => undefined);
        throw new HessError('IO_ERROR', `${href}: range request answered HTTP ${res.status}`);
      }
      const now = validatorOf(res);
      if (version.validator && now && now !== version.validator) {
        await res.body?.cancel().catch(() => undefined);
        throw new HessError('IO_ERROR', `${href} changed on the server (${version.validator} → ${now})`, 'open the URL again');
      }
      let buf: ArrayBuffer;
      try {
        buf = await res.arrayBuffer();
      } catch (e) {
        if (signal?.aborted || isAbortError(e)) throw new HessError('ABORTED', 'operation aborted', '', { cause: e });
        throw ioError(`${href}: body read failed`, e);
      }
      if (buf.byteLength !== length) {
        throw new HessError('IO_ERROR', `${href}: range ${offset}+${length} returned ${buf.byteLength} bytes`);
      }
      const bytes = new Uint8Array(buf);
      if (store) {
        throwIfAborted(signal);
        try {
          await store.put(href, version, part, bytes);
        } catch (e) {
          throw cacheError(`${href}: cache write`, e);
        }
      }
      loaded += length;
      onProgress?.(loaded, total);
      return bytes;
    },
  };
}

async function streamIntoBlocks(
  res: Response,
  href: string,
  signal: AbortSignal | undefined,
  onProgress: ((loaded: number, total: number) => void) | undefined,
): Promise<ByteSource> {
  const declared = Number(res.headers.get('content-length'));
  const total = Number.isSafeInteger(declared) && declared > 0 ? declared : NaN;
  const blocks: Uint8Array[] = [];
  const starts: number[] = [];
  let cur: Uint8Array | null = null;
  let curFill = 0;
  let loaded = 0;
  const flush = () => {
    if (cur && curFill > 0) {
      starts.push(loaded - curFill);
      blocks.push(curFill === cur.byteLength ? cur : cur.subarray(0, curFill));
    }
    cur = null;
    curFill = 0;
  };
  const push = (chunk: Uint8Array) => {
    let p = 0;
    while (p < chunk.byteLength) {
      if (!cur) {
        const remaining = Number.isNaN(total) ? DOWNLOAD_BLOCK : Math.max(1, Math.min(DOWNLOAD_BLOCK, total - loaded));
        cur = new Uint8Array(remaining);
      }
      const n = Math.min(cur.byteLength - curFill, chunk.byteLength - p);
      cur.set(chunk.subarray(p, p + n), curFill);
      curFill += n;
      p += n;
      loaded += n;
      if (curFill === cur.byteLength) flush();
    }
  };
  try {
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        if (signal?.aborted) {
          await reader.cancel().catch(() => undefined);
          throwIfAborted(signal);
        }
        const { done, value } = await reader.read();
        if (done) break;
        push(value);
        onProgress?.(loaded, Number.isNaN(total) ? loaded : total);
      }
    } else {
      push(new Uint8Array(await res.arrayBuffer()));
    }
  } catch (e) {
    if (e instanceof HessError) throw e;
    if (signal?.aborted || isAbortError(e)) throw new HessError('ABORTED', 'operation aborted', '', { cause: e });
    throw ioError(`${href}: download failed`, e);
  }
  flush();
  if (!Number.isNaN(total) && loaded !== total) {
    throw new HessError('IO_ERROR', `${href}: body has ${loaded} bytes, Content-Length said ${total}`);
  }
  return chunkedSource(blocks, starts, loaded);
}

/** A source over consecutive in-memory blocks (`starts[i]` = offset of `blocks[i]`). */
function chunkedSource(blocks: Uint8Array[], starts: number[], size: number): ByteSource {
  const find = (offset: number): number => {
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  return {
    size,
    async read(offset, length) {
      checkRange(size, offset, length);
      if (length === 0) return new Uint8Array(0);
      let i = find(offset);
      const inFirst = offset - starts[i];
      if (inFirst + length <= blocks[i].byteLength) return blocks[i].subarray(inFirst, inFirst + length);
      const out = new Uint8Array(length);
      let done = 0;
      let pos = inFirst;
      while (done < length) {
        const b = blocks[i];
        const n = Math.min(b.byteLength - pos, length - done);
        out.set(b.subarray(pos, pos + n), done);
        done += n;
        i++;
        pos = 0;
      }
      return out;
    },
  };
}

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
