/**
 * Random-access byte sources for checkpoint reading: memory, a local file, a browser Blob/File (and, in
 * url-source.ts, HTTP). A source reads any range on demand, so no checkpoint is ever held whole in memory.
 */
import { HessError, check } from '../../errors.js';

/** A byte range `[offset, offset + length)`. */
export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/** Random-access bytes. `read` must return exactly `length` bytes (it may return a view, do not mutate it). */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Read `length` bytes at `offset` (`offset + length <= size`). */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Release the underlying resource (file handle, open download); optional. */
  close?(): Promise<void>;
  /**
   * Told once, before the reads: the ranges that will be read (a safetensors file's tensors, sorted by offset).
   * Sources that fetch use it to read ahead, coalesce neighbouring ranges and keep ranges a stream passes over;
   * reads of other ranges still work. Optional.
   */
  plan?(ranges: readonly ByteRange[]): void;
}

/** INVALID_ARGUMENT unless `[offset, offset + length)` lies inside `size` bytes. */
export function checkRange(size: number, offset: number, length: number): void {
  check(
    Number.isSafeInteger(offset) &&
      Number.isSafeInteger(length) &&
      offset >= 0 &&
      length >= 0 &&
      offset + length <= size,
    `read(${offset}, ${length}) is outside the source (size ${size})`,
  );
}

/** An IO_ERROR for a failed operation (a HessError passes through unchanged). */
export function ioError(what: string, cause: unknown, fix = ''): HessError {
  if (cause instanceof HessError) return cause;
  const msg = cause instanceof Error ? cause.message : String(cause);
  return new HessError('IO_ERROR', `${what}: ${msg}`, fix, { cause });
}

/** Whether `e` is a DOM AbortError (fetch and streams reject with one when their signal fires). */
export function isAbortError(e: unknown): boolean {
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
    throw new HessError(
      'IO_ERROR',
      'fileSource needs node:fs (Node, Deno or Bun)',
      'in a browser use urlSource() or blobSource()',
      {
        cause: e,
      },
    );
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
        throw new HessError(
          'IO_ERROR',
          `${String(path)}: short read at ${offset} (${done}/${length} bytes); file changed?`,
        );
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
      if (buf.byteLength !== length)
        throw new HessError('IO_ERROR', `blob short read at ${offset} (${buf.byteLength}/${length})`);
      return new Uint8Array(buf);
    },
  };
}
