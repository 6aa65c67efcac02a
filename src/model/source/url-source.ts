/**
 * A {@link ByteSource} over an HTTP(S) URL, built for multi-GB checkpoints (VGGT-1B is ~5 GB in fp32) with JS
 * memory bounded whatever the file size:
 *
 * - **Range servers** (HTTP 206): each read is a Range request. Once told the tensors' ranges (`plan`), a read
 *   also starts the next ranges in file order, up to `readAhead` bytes fetched but not yet read, with at most
 *   `parallel` requests in flight; neighbouring small tensors are coalesced into one request (up to `partSize`),
 *   a large tensor is fetched as `partSize` parts in parallel. A failed range (network error, HTTP 408/429/5xx,
 *   short body) is retried `retries` times with exponential backoff (GET of a byte range is idempotent); other
 *   statuses and a changed ETag fail at once. Fetched ranges go through the persistent cache (cache.ts) per range.
 * - **Servers that ignore Range** (HTTP 200 to the probe): the probe's body is the only download. It is read
 *   front to back as reads ask for bytes further on; planned ranges the stream passes over are kept for a later
 *   read: in the cache when there is one, else in `spill` (e.g. a temporary file) when given (either way any
 *   read order works and nothing is held in memory), else in memory up to `streamWindow` bytes (oldest dropped
 *   first). A read of bytes already passed and no longer held fails with
 *   `IO_ERROR` (the fix: a Range-capable server, a cache, or reading in file order): never a silent re-download.
 *
 * Progress (`onProgress(loaded, total)`) counts bytes handed to reads (Range) or received (stream), never more
 * than `total`.
 */
import { HessError, check, throwIfAborted } from '../../errors.js';
import { checkRange, ioError, isAbortError, type ByteRange, type ByteSource } from './byte-source.js';
import { cacheError, openRangeStore, type FileVersion, type RangeStore, type UrlCacheOption } from './cache.js';

/** Options of {@link urlSource}. */
export interface UrlSourceOptions {
  /** fetch implementation (defaults to `globalThis.fetch`). */
  fetch?: typeof fetch;
  /** Called with (bytes loaded so far, total bytes). */
  onProgress?: (loaded: number, total: number) => void;
  /** Aborts the probe, every later range read and a streamed download. */
  signal?: AbortSignal;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /**
   * Persistent cache of the fetched ranges (see src/model/cache.ts): 'auto' (the default: 'cache-api' where
   * `caches` exists, else 'none'), 'cache-api', 'opfs', 'none', `{ dir }` (a folder, Node/Deno/Bun) or your own
   * `{ get(key), put(key, bytes) }`.
   */
  cache?: UrlCacheOption;
  /**
   * true (default): each open sends one 1-byte probe request, and a changed ETag/Last-Modified/size refetches.
   * false: if the cache knows this URL, open without any request (offline use; a changed file is not noticed
   * until a range that is not cached is fetched, which then fails with IO_ERROR).
   */
  revalidate?: boolean;
  /** Range requests in flight at once (default 4). */
  parallel?: number;
  /** Bytes fetched ahead of the reader and not yet read, at most (default 64 MiB; 0 disables read-ahead). */
  readAhead?: number;
  /** Largest coalesced request, and the part size of a large tensor fetched in parallel (default 16 MiB). */
  partSize?: number;
  /** Retries of a failed range request (default 3), after 250 ms, 500 ms, 1 s… (`retryDelayMs` the first). */
  retries?: number;
  retryDelayMs?: number;
  /** Server without Range and no cache: bytes of passed-over tensors kept in memory for later reads (default 64 MiB). */
  streamWindow?: number;
  /**
   * Server without Range and no cache: where passed-over tensors go instead of memory (e.g. a temporary file,
   * see `tempFileSpill` in checkpoint.ts, which Node URL loads use), so that any read order works. Closed with the
   * source.
   */
  spill?: SpillStore;
}

/** Scratch storage for ranges a stream passed over (keys are `bytes=a-b`). */
export interface SpillStore {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
  close?(): Promise<void>;
}

const MiB = 1 << 20;

/**
 * Open an HTTP(S) URL as a byte source (see the module comment for how it fetches).
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
  for (const k of ['parallel', 'partSize'] as const) {
    check(opts[k] === undefined || (Number.isSafeInteger(opts[k]) && opts[k]! > 0), `${k} must be a positive integer`);
  }
  for (const k of ['readAhead', 'retries', 'retryDelayMs', 'streamWindow'] as const) {
    check(opts[k] === undefined || (Number.isFinite(opts[k]) && opts[k]! >= 0), `${k} must be a non-negative number`);
  }
  const { signal } = opts;
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
  /** Record `version` as the URL's current one; a changed file's old ranges are pruned. */
  const remember = async (version: FileVersion) => {
    if (!store) return;
    const prev = await readMeta();
    if (!prev || prev.size !== version.size || prev.validator !== version.validator) {
      try {
        if (prev) await store.prune?.(href);
        await store.put(href, null, 'meta', new TextEncoder().encode(JSON.stringify({ ...version, url: href })));
      } catch (e) {
        throw cacheError(`${href}: cache write`, e);
      }
    }
    throwIfAborted(signal);
  };
  if (store && opts.revalidate === false) {
    const known = await readMeta();
    throwIfAborted(signal);
    if (known) return new RangeReader(href, known, store, doFetch, opts);
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
        throw new HessError(
          'IO_ERROR',
          `${href}: server sent no usable Content-Range/Content-Length`,
          'use a server that reports the file size',
        );
      }
      validator ||= validatorOf(head);
    }
    const version: FileVersion = { size: total, validator };
    await remember(version);
    return new RangeReader(href, version, store, doFetch, opts);
  }
  if (!probe.ok) {
    await probe.body?.cancel().catch(() => undefined);
    throw new HessError(
      'IO_ERROR',
      `${href}: HTTP ${probe.status}`,
      "check the URL and credentials (a directory URL must end in '/')",
    );
  }
  // The server ignored Range: its answer to the probe is the whole file, read front to back on demand.
  const declared = Number(probe.headers.get('content-length') ?? NaN);
  const encoding = probe.headers.get('content-encoding');
  if (!Number.isSafeInteger(declared) || declared < 0 || (encoding && encoding !== 'identity')) {
    await probe.body?.cancel().catch(() => undefined);
    throw new HessError(
      'IO_ERROR',
      `${href}: the server ignores Range requests and sends no usable Content-Length${encoding ? ` (Content-Encoding ${encoding})` : ''}`,
      'serve the checkpoint from a static file server with Range support and without compression',
    );
  }
  const version: FileVersion = { size: declared, validator: validatorOf(probe) };
  await remember(version);
  return new StreamReader(href, probe, version, store, opts);
}

/** ETag, else Last-Modified, else '' (computed the same way for the probe and every range response). */
function validatorOf(res: Response): string {
  return res.headers.get('etag') ?? res.headers.get('last-modified') ?? '';
}

const partKey = (offset: number, length: number) => `bytes=${offset}-${offset + length - 1}`;

function abortable(signal: AbortSignal | undefined, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new HessError('ABORTED', 'operation aborted', '', { cause: signal.reason }));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new HessError('ABORTED', 'operation aborted', '', { cause: signal?.reason }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** One planned range: fetched (or being fetched) ahead of its read. */
interface Slot {
  readonly length: number;
  readonly promise: Promise<Uint8Array>;
  settled: boolean;
}

/** Range reads of one file version: read-ahead, coalescing, bounded parallelism, retries, the range cache. */
class RangeReader implements ByteSource {
  readonly size: number;
  private spans: ByteRange[] = [];
  private spanAt = new Map<number, number>();
  /** Planned ranges fetched or in flight and not yet read, by offset (insertion order = age). */
  private ahead = new Map<number, Slot>();
  private aheadBytes = 0;
  private active = 0;
  private waiting: (() => void)[] = [];
  private loaded = 0;
  /** Current read-ahead: doubles on sequential reads, halves when a range fetched ahead is dropped unread. */
  private window: number;
  private lastSpan = -2;
  private readonly parallel: number;
  private readonly readAhead: number;
  private readonly partSize: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;

  constructor(
    private readonly href: string,
    private readonly version: FileVersion,
    private readonly store: RangeStore | null,
    private readonly doFetch: (range: string | null, method?: string) => Promise<Response>,
    private readonly opts: UrlSourceOptions,
  ) {
    this.size = version.size;
    this.parallel = opts.parallel ?? 4;
    this.readAhead = opts.readAhead ?? 64 * MiB;
    this.partSize = opts.partSize ?? 16 * MiB;
    this.retries = opts.retries ?? 3;
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    this.window = Math.min(this.partSize, this.readAhead);
  }

  async close(): Promise<void> {
    this.ahead.clear();
    this.aheadBytes = 0;
    await this.opts.spill?.close?.();
  }

  plan(ranges: readonly ByteRange[]): void {
    this.spans = ranges
      .filter((r) => r.length > 0 && r.offset + r.length <= this.size)
      .slice()
      .sort((a, b) => a.offset - b.offset);
    this.spanAt = new Map(this.spans.map((r, i) => [r.offset, i]));
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.size, offset, length);
    if (length === 0) return new Uint8Array(0);
    throwIfAborted(this.opts.signal);
    const i = this.spanAt.get(offset);
    let bytes: Uint8Array;
    if (i !== undefined && this.spans[i].length === length) {
      // Sequential access (a range fetched ahead, or the next one in the file) widens the read-ahead.
      if (this.ahead.has(offset) || i === this.lastSpan + 1)
        this.window = Math.min(this.readAhead, Math.max(2 * this.window, this.partSize));
      this.lastSpan = i;
      this.schedule(i);
      const slot = this.ahead.get(offset)!;
      this.ahead.delete(offset);
      this.aheadBytes -= length;
      bytes = await slot.promise;
    } else {
      bytes = (await this.fetchSpans([{ offset, length }]))[0];
    }
    throwIfAborted(this.opts.signal);
    this.loaded = Math.min(this.size, this.loaded + length);
    this.opts.onProgress?.(this.loaded, this.size);
    return bytes;
  }

  /**
   * Make sure span `i` is scheduled, and the spans after it in file order up to the current read-ahead window
   * (adaptive, at most `readAhead` bytes: a reader in file order gets the whole window, one that jumps around
   * little more than what it asks for). Runs of neighbouring unscheduled spans become jobs of at most `partSize` bytes (one request each; a
   * larger span is one job of parallel parts). Bytes fetched ahead and not yet read stay within `readAhead`:
   * the oldest settled ones are dropped first (refetched if read after all).
   */
  private schedule(i: number): void {
    const target = this.spans[i];
    const batch: ByteRange[] = [];
    if (!this.ahead.has(target.offset)) batch.push(target);
    let window = 0;
    for (let k = i + 1; k < this.spans.length; k++) {
      const s = this.spans[k];
      window += s.length;
      if (window > this.window) break;
      if (!this.ahead.has(s.offset)) batch.push(s);
    }
    const held = () => this.aheadBytes - (this.ahead.get(target.offset)?.length ?? 0);
    let need = batch.reduce((a, s) => a + (s === target ? 0 : s.length), 0);
    for (const [off, slot] of this.ahead) {
      if (held() + need <= this.readAhead) break;
      if (!slot.settled || off === target.offset) continue;
      this.ahead.delete(off);
      this.aheadBytes -= slot.length;
      this.window = Math.floor(this.window / 2);
    }
    while (held() + need > this.readAhead && batch.length && batch[batch.length - 1] !== target)
      need -= batch.pop()!.length;
    let group: ByteRange[] = [];
    let groupBytes = 0;
    const flush = () => {
      if (!group.length) return;
      const g = group;
      const results = this.fetchSpans(g);
      g.forEach((s, j) => {
        const slot: Slot = { length: s.length, settled: false, promise: results.then((r) => r[j]) };
        // Settled either way; a failure surfaces when (if) the range is read.
        slot.promise.then(
          () => {
            slot.settled = true;
          },
          () => {
            slot.settled = true;
          },
        );
        this.ahead.set(s.offset, slot);
        this.aheadBytes += s.length;
      });
      group = [];
      groupBytes = 0;
    };
    for (const s of batch) {
      const last = group[group.length - 1];
      if (last && (last.offset + last.length !== s.offset || groupBytes + s.length > this.partSize)) flush();
      group.push(s);
      groupBytes += s.length;
    }
    flush();
  }

  /**
   * Bytes of each span: from the cache where it has them, else fetched (neighbouring misses in one request,
   * a span larger than `partSize` in parallel parts), then written to the cache per span.
   */
  private async fetchSpans(spans: readonly ByteRange[]): Promise<Uint8Array[]> {
    const out: (Uint8Array | undefined)[] = new Array(spans.length);
    const { store, href, version } = this;
    const signal = this.opts.signal;
    if (store) {
      for (const [j, s] of spans.entries()) {
        throwIfAborted(signal);
        let hit: Uint8Array | undefined;
        try {
          hit = await store.get(href, version, partKey(s.offset, s.length));
        } catch (e) {
          throw cacheError(`${href}: cache read`, e);
        }
        // A hit of the wrong length (interrupted write, foreign entry) is a miss: never a truncated tensor.
        if (hit && hit.byteLength === s.length) out[j] = hit;
      }
      throwIfAborted(signal);
    }
    const missing = spans.map((s, j) => ({ s, j })).filter(({ j }) => !out[j]);
    if (missing.length) {
      const first = missing[0].s;
      const lastS = missing[missing.length - 1].s;
      const contiguous = missing.every(
        ({ s }, k) => k === 0 || missing[k - 1].s.offset + missing[k - 1].s.length === s.offset,
      );
      if (missing.length > 1 && contiguous) {
        const buf = await this.fetchBytes(first.offset, lastS.offset + lastS.length - first.offset);
        for (const { s, j } of missing)
          out[j] = buf.subarray(s.offset - first.offset, s.offset - first.offset + s.length);
      } else {
        await Promise.all(
          missing.map(async ({ s, j }) => {
            out[j] = await this.fetchBytes(s.offset, s.length);
          }),
        );
      }
      if (store) {
        for (const { s, j } of missing) {
          throwIfAborted(signal);
          try {
            await store.put(href, version, partKey(s.offset, s.length), out[j]!);
          } catch (e) {
            throw cacheError(`${href}: cache write`, e);
          }
        }
      }
    }
    return out as Uint8Array[];
  }

  /** `length` bytes at `offset`: one request, or `partSize` parts in parallel into one buffer. */
  private async fetchBytes(offset: number, length: number): Promise<Uint8Array> {
    if (length <= this.partSize) return this.limited(() => this.fetchRange(offset, length));
    const out = new Uint8Array(length);
    const parts: Promise<void>[] = [];
    for (let p = 0; p < length; p += this.partSize) {
      const n = Math.min(this.partSize, length - p);
      parts.push(
        this.limited(async () => {
          out.set(await this.fetchRange(offset + p, n), p);
        }),
      );
    }
    await Promise.all(parts);
    return out;
  }

  /** Run `job` when fewer than `parallel` jobs are running. */
  private async limited<T>(job: () => Promise<T>): Promise<T> {
    while (this.active >= this.parallel) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await job();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  /** One Range request, retried on transient failures. */
  private async fetchRange(offset: number, length: number): Promise<Uint8Array> {
    const { href, version } = this;
    const signal = this.opts.signal;
    const part = partKey(offset, length);
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.doFetch(part).catch((e: unknown) => {
          // A network error (IO_ERROR from doFetch) is transient; an abort is not.
          throw e instanceof HessError && e.code === 'IO_ERROR' ? Object.assign(e, { retryable: true }) : e;
        });
        if (res.status === 206 || (res.status === 200 && offset === 0 && length === this.size)) {
          const now = validatorOf(res);
          if (version.validator && now && now !== version.validator) {
            await res.body?.cancel().catch(() => undefined);
            throw new HessError(
              'IO_ERROR',
              `${href} changed on the server (${version.validator} → ${now})`,
              'open the URL again',
            );
          }
          let buf: ArrayBuffer;
          try {
            buf = await res.arrayBuffer();
          } catch (e) {
            if (signal?.aborted || isAbortError(e))
              throw new HessError('ABORTED', 'operation aborted', '', { cause: e });
            throw Object.assign(ioError(`${href}: body of ${part} failed`, e), { retryable: true });
          }
          if (buf.byteLength === length) return new Uint8Array(buf);
          throw Object.assign(
            new HessError('IO_ERROR', `${href}: range ${offset}+${length} returned ${buf.byteLength} bytes`),
            { retryable: true },
          );
        }
        await res.body?.cancel().catch(() => undefined);
        const transient = res.status === 408 || res.status === 429 || res.status >= 500;
        throw Object.assign(new HessError('IO_ERROR', `${href}: range request answered HTTP ${res.status}`), {
          retryable: transient,
        });
      } catch (e) {
        if (!(e instanceof HessError) || e.code === 'ABORTED') throw e;
        if ((e as { retryable?: boolean }).retryable !== true || attempt >= this.retries) {
          if (attempt > 0) e.message += ` (after ${attempt + 1} attempts)`;
          throw e;
        }
      }
      await abortable(signal, this.retryDelayMs * 2 ** attempt);
    }
  }
}

/**
 * A server that ignored Range: the probe's body, read front to back as reads ask for later bytes. Planned ranges
 * passed over are kept (cache, else spill, else a bounded window in memory) for later reads.
 */
class StreamReader implements ByteSource {
  readonly size: number;
  /** Body bytes consumed so far. */
  private pos = 0;
  private reader: ReadableStreamDefaultReader<Uint8Array> | null;
  private leftover: Uint8Array | null = null;
  private spans: ByteRange[] = [];
  private kept = new Map<number, Uint8Array>();
  private keptBytes = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly window: number;
  /** A Response without a body stream (some fetch polyfills): read whole on first use. */
  private bodyless: Response | null;

  constructor(
    private readonly href: string,
    res: Response,
    private readonly version: FileVersion,
    private readonly store: RangeStore | null,
    private readonly opts: UrlSourceOptions,
  ) {
    this.size = version.size;
    this.reader = res.body ? res.body.getReader() : null;
    this.bodyless = res.body ? null : res;
    this.window = opts.streamWindow ?? 64 * MiB;
  }

  plan(ranges: readonly ByteRange[]): void {
    this.spans = ranges
      .filter((r) => r.length > 0 && r.offset + r.length <= this.size)
      .slice()
      .sort((a, b) => a.offset - b.offset);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.size, offset, length);
    // One read at a time: they share the stream.
    const p = this.queue.then(() => this.readNow(offset, length));
    this.queue = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    const r = this.reader;
    this.reader = null;
    this.kept.clear();
    this.keptBytes = 0;
    await r?.cancel().catch(() => undefined);
    await this.opts.spill?.close?.();
  }

  private async readNow(offset: number, length: number): Promise<Uint8Array> {
    throwIfAborted(this.opts.signal);
    if (length === 0) return new Uint8Array(0);
    const part = partKey(offset, length);
    const held = this.kept.get(offset);
    if (held && held.byteLength === length) {
      this.kept.delete(offset);
      this.keptBytes -= length;
      return held;
    }
    const spilled = !this.store && offset < this.pos ? await this.opts.spill?.get(part) : undefined;
    if (spilled && spilled.byteLength === length) return spilled;
    if (this.store) {
      let hit: Uint8Array | undefined;
      try {
        hit = await this.store.get(this.href, this.version, part);
      } catch (e) {
        throw cacheError(`${this.href}: cache read`, e);
      }
      if (hit && hit.byteLength === length) return hit;
    }
    if (offset < this.pos) {
      throw new HessError(
        'IO_ERROR',
        `${this.href}: the server ignores Range requests, so the file is read front to back, and bytes ${offset}+${length} ` +
          `were passed ${this.pos - offset} bytes ago and not kept (window ${this.window} bytes${this.store || this.opts.spill ? '' : ', no cache'})`,
        'serve the checkpoint from a server with Range support (any static file server), pass a cache, or read the tensors in file order',
      );
    }
    await this.skipTo(offset);
    const out = await this.take(length);
    await this.spill(offset, out, false);
    return out;
  }

  /** Consume the stream up to `offset`, keeping the planned ranges that lie wholly in between. */
  private async skipTo(offset: number): Promise<void> {
    while (this.pos < offset) {
      const s = this.spans.find((r) => r.offset >= this.pos && r.offset < offset);
      if (!s) {
        await this.discard(offset - this.pos);
        break;
      }
      if (s.offset > this.pos) await this.discard(s.offset - this.pos);
      if (s.offset + s.length > offset) {
        await this.discard(offset - this.pos);
        break;
      }
      await this.spill(s.offset, await this.take(s.length), true);
    }
  }

  /** Keep a passed-over range: in the cache (also a range that was read, for the next session) or the window. */
  private async spill(offset: number, bytes: Uint8Array, passedOver: boolean): Promise<void> {
    if (this.store) {
      try {
        await this.store.put(this.href, this.version, partKey(offset, bytes.byteLength), bytes);
      } catch (e) {
        throw cacheError(`${this.href}: cache write`, e);
      }
      return;
    }
    if (!passedOver) return;
    if (this.opts.spill) {
      try {
        await this.opts.spill.put(partKey(offset, bytes.byteLength), bytes);
      } catch (e) {
        throw ioError(
          `${this.href}: spilling a passed-over range failed`,
          e,
          'free disk space, or serve the checkpoint with Range support',
        );
      }
      return;
    }
    if (bytes.byteLength > this.window) return;
    this.kept.set(offset, bytes);
    this.keptBytes += bytes.byteLength;
    for (const [off, b] of this.kept) {
      if (this.keptBytes <= this.window) break;
      this.kept.delete(off);
      this.keptBytes -= b.byteLength;
    }
  }

  private async take(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    await this.pull(n, (chunk, at) => out.set(chunk, at));
    return out;
  }

  private discard(n: number): Promise<void> {
    return this.pull(n, () => undefined);
  }

  /** Pass the next `n` body bytes to `sink` (chunk, position within the n). */
  private async pull(n: number, sink: (chunk: Uint8Array, at: number) => void): Promise<void> {
    const { href } = this;
    const signal = this.opts.signal;
    let done = 0;
    while (done < n) {
      if (!this.leftover || this.leftover.byteLength === 0) {
        if (signal?.aborted) {
          await this.close();
          throwIfAborted(signal);
        }
        let value: Uint8Array | undefined;
        try {
          if (this.bodyless) {
            value = new Uint8Array(await this.bodyless.arrayBuffer());
            this.bodyless = null;
          } else if (this.reader) {
            const r = await this.reader.read();
            value = r.done ? undefined : r.value;
          } else {
            throw new HessError('DISPOSED', `${href}: source was closed`);
          }
        } catch (e) {
          if (e instanceof HessError) throw e;
          if (signal?.aborted || isAbortError(e)) throw new HessError('ABORTED', 'operation aborted', '', { cause: e });
          throw ioError(`${href}: download failed`, e);
        }
        if (!value) {
          throw new HessError(
            'IO_ERROR',
            `${href}: body ended at ${this.pos} bytes, Content-Length said ${this.size}`,
            'fetch it again',
          );
        }
        this.leftover = value;
      }
      const k = Math.min(n - done, this.leftover.byteLength);
      sink(this.leftover.subarray(0, k), done);
      this.leftover = this.leftover.subarray(k);
      done += k;
      this.pos += k;
      this.opts.onProgress?.(Math.min(this.pos, this.size), this.size);
    }
  }
}
