/**
 * Persistent cache for the byte ranges {@link urlSource} fetches, so that a multi-GB checkpoint read by HTTP
 * Range requests is downloaded once per browser profile.
 *
 * Every range is stored under a key made of the URL, the range, and the file's *version* (size + ETag, else
 * Last-Modified) as reported by the probe request of each open: a changed file gets new keys, so it is never
 * served stale, and the old version's entries are pruned (Cache API, OPFS). Backends:
 * - `'cache-api'`: `caches.open('hess-vggt-weights')`, one Response per range under a synthetic
 *   `https://hess-vggt.cache/v1/…` URL (never fetched).
 * - `'opfs'`: `navigator.storage.getDirectory()/hess-vggt-weights/<sha256(url)>/<version>-<offset>-<length>`,
 *   one file per range (written with `createWritable`, which commits atomically on close).
 * - `{ dir }` (Node, Deno, Bun): `<dir>/<sha256(url)>/<sha256(version|range)>`, one file per range, each
 *   written to a temporary sibling and renamed into place.
 * - `{ get, put }`: your own store, called with `rangeCacheKey` strings.
 *
 * Every entry is verified: it is stored as the bytes followed by a 16-byte trailer (magic `HVC1`, CRC-32 of the
 * bytes, their length as u64, little-endian) written at store time. An entry whose trailer, length or checksum
 * does not match (a partial write, a corrupted disk, an entry of another format) is dropped and treated as a
 * miss, so it is refetched and rewritten: wrong bytes are never returned. Cached bytes whose length differs from
 * the requested range are a miss too.
 *
 * @example
 * const src = await urlSource(url, { cache: 'opfs' });
 */
import { HessError } from '../../errors.js';
import { writeFileAtomic } from '../../io/atomic-write.js';
import { nodeFs } from '../../io/node-fs.js';

/**
 * A user-supplied cache (e.g. IndexedDB). Keys are strings from `rangeCacheKey`; values are opaque (the
 * range bytes plus a verification trailer): store and return them unchanged.
 */
export interface CustomRangeCache {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Optional: called for an entry that failed verification (it is refetched and put again either way). */
  delete?(key: string): Promise<unknown>;
}

/** A folder on disk (Node, Deno, Bun): one file per entry, written atomically, under `dir`. */
export interface DiskCacheOption {
  dir: string;
}

/** The `cache` option of urlSource and Vggt.load ('auto': the Cache API where it exists, else none). */
export type UrlCacheOption = 'auto' | 'cache-api' | 'opfs' | 'none' | DiskCacheOption | CustomRangeCache;

/** One cached URL as `RangeStore.list` reports it. */
export interface CachedUrl {
  url: string;
  /** The file version the cached ranges belong to (null when its record is missing or unreadable). */
  version: FileVersion | null;
  /** Stored entries (ranges plus the version record) and their bytes as stored (payload + 16-byte trailers). */
  entries: number;
  bytes: number;
}

/** Name of the Cache API cache and of the OPFS directory. */
export const CACHE_NAME = 'hess-vggt-weights';

/** What identifies one version of a remote file: size and the strongest validator the server gave. */
export interface FileVersion {
  size: number;
  /** ETag (preferred) or Last-Modified; '' when the server sent neither (then only the size protects). */
  validator: string;
}

/**
 * The string key of one cached range (or `part = 'meta'` for the last seen version of a URL).
 *
 * @example
 * rangeCacheKey(url, { size: 5e9, validator: '"abc"' }, 'bytes=0-7'); // 'hess-vggt/v1|<url>|5000000000|"abc"|bytes=0-7'
 */
export function rangeCacheKey(url: string, version: FileVersion | null, part: string): string {
  return version ? `hess-vggt/v1|${url}|${version.size}|${version.validator}|${part}` : `hess-vggt/v1|${url}|${part}`;
}

/** A backend as urlSource uses it. */
export interface RangeStore {
  get(url: string, version: FileVersion | null, part: string): Promise<Uint8Array | undefined>;
  put(url: string, version: FileVersion | null, part: string, bytes: Uint8Array): Promise<void>;
  /** Drop every entry of `url` (the file changed); optional. */
  prune?(url: string): Promise<void>;
  /** Drop one entry (it failed verification); optional: a refetch overwrites it anyway. */
  remove?(url: string, version: FileVersion | null, part: string): Promise<void>;
  /** Every cached URL with its entries and bytes; optional (built-in backends have it). */
  list?(): Promise<CachedUrl[]>;
}

// ---------------------------------------------------------------------------------------------------------------
// Entry verification
// ---------------------------------------------------------------------------------------------------------------

const TRAILER = 16;
const MAGIC = 0x31435648; // 'HVC1' little-endian

/** CRC-32 (IEEE, as zlib/PNG), slicing by 8: ~0.4–1 GB/s in V8, cheap next to a download. */
const CRC_TABLES = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++)
    for (let k = 1; k < 8; k++) {
      const p = t[(k - 1) * 256 + n];
      t[k * 256 + n] = (p >>> 8) ^ t[p & 255];
    }
  return t;
})();

/**
 * CRC-32 of `b`, continuing from `prev` (the CRC of preceding bytes, 0 for none).
 *
 * @example
 * crc32(new TextEncoder().encode('123456789')); // 0xcbf43926
 */
export function crc32(b: Uint8Array, prev = 0): number {
  const T = CRC_TABLES;
  let c = ~prev,
    i = 0;
  const n = b.length;
  for (; i + 8 <= n; i += 8) {
    const a = (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) ^ c;
    c =
      T[1792 + (a & 255)] ^
      T[1536 + ((a >>> 8) & 255)] ^
      T[1280 + ((a >>> 16) & 255)] ^
      T[1024 + (a >>> 24)] ^
      T[768 + b[i + 4]] ^
      T[512 + b[i + 5]] ^
      T[256 + b[i + 6]] ^
      T[b[i + 7]];
  }
  for (; i < n; i++) c = T[(c ^ b[i]) & 255] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/**
 * The bytes as stored: payload + trailer (magic, CRC-32 of key then payload, u64 length). The key is in the
 * checksum so that an entry moved or copied under another key (same length, other range) does not verify.
 */
export function sealEntry(key: string, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + TRAILER);
  out.set(bytes);
  const dv = new DataView(out.buffer, bytes.length, TRAILER);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, crc32(bytes, crc32(new TextEncoder().encode(key))), true);
  dv.setUint32(8, bytes.length % 2 ** 32, true);
  dv.setUint32(12, Math.floor(bytes.length / 2 ** 32), true);
  return out;
}

/** The payload of a stored entry, or undefined when its trailer, length or checksum does not match. */
export function openEntry(key: string, entry: Uint8Array): Uint8Array | undefined {
  if (!(entry instanceof Uint8Array) || entry.length < TRAILER) return undefined;
  const n = entry.length - TRAILER;
  const dv = new DataView(entry.buffer, entry.byteOffset + n, TRAILER);
  if (dv.getUint32(0, true) !== MAGIC || dv.getUint32(8, true) + dv.getUint32(12, true) * 2 ** 32 !== n)
    return undefined;
  const payload = entry.subarray(0, n);
  return crc32(payload, crc32(new TextEncoder().encode(key))) === dv.getUint32(4, true) ? payload : undefined;
}

/** Wrap a backend so that every entry is sealed on put and verified on get (a bad one is removed, then a miss). */
function verified(store: RangeStore): RangeStore {
  return {
    async get(url, v, part) {
      const raw = await store.get(url, v, part);
      if (raw === undefined) return undefined;
      const payload = openEntry(rangeCacheKey(url, v, part), raw);
      if (payload === undefined) await store.remove?.(url, v, part).catch(() => undefined);
      return payload;
    },
    put: (url, v, part, bytes) => store.put(url, v, part, sealEntry(rangeCacheKey(url, v, part), bytes)),
    prune: store.prune?.bind(store),
    remove: store.remove?.bind(store),
    list: store.list?.bind(store),
  };
}

/**
 * The URL and version in a stored version record (`part = 'meta'`), verified against its own key; null if it
 * does not verify. urlSource writes `{ size, validator, url }` there, so a listing can name the URL.
 */
export function readMetaEntry(raw: Uint8Array): { url: string; version: FileVersion } | null {
  if (raw.length < TRAILER) return null;
  try {
    const m = JSON.parse(new TextDecoder().decode(raw.subarray(0, raw.length - TRAILER))) as Partial<
      FileVersion & { url: string }
    >;
    if (typeof m.url !== 'string' || !Number.isSafeInteger(m.size) || typeof m.validator !== 'string') return null;
    if (!openEntry(rangeCacheKey(m.url, null, 'meta'), raw)) return null;
    return { url: m.url, version: { size: m.size!, validator: m.validator } };
  } catch {
    return null;
  }
}

const FIX = "free storage (e.g. clear this site's data) or pass cache: 'none'";

/**
 * Map a storage failure to IO_ERROR; quota errors are named as such; the fix says to free storage or disable the cache.
 *
 * @example
 * try { await cache.put(k, b); } catch (e) { throw cacheError('cache write', e); }
 */
export function cacheError(what: string, e: unknown): HessError {
  if (e instanceof HessError) return e;
  const name = typeof e === 'object' && e !== null ? String((e as { name?: unknown }).name ?? '') : '';
  const msg = e instanceof Error ? e.message : String(e);
  const quota = name === 'QuotaExceededError' || (e as { code?: unknown })?.code === 22 || /quota/i.test(msg);
  return new HessError('IO_ERROR', `${what}: ${quota ? 'storage quota exceeded' : 'cache failed'} (${msg})`, FIX, {
    cause: e,
  });
}

function custom(c: CustomRangeCache): RangeStore {
  return {
    get: (url, v, part) => c.get(rangeCacheKey(url, v, part)),
    put: (url, v, part, bytes) => c.put(rangeCacheKey(url, v, part), bytes),
    remove:
      typeof c.delete === 'function'
        ? async (url, v, part) => void (await c.delete!(rangeCacheKey(url, v, part)))
        : undefined,
  };
}

const SYNTHETIC = 'https://hess-vggt.cache/v1/';

async function cacheApi(): Promise<RangeStore> {
  const cache = await caches.open(CACHE_NAME);
  const urlPrefix = (url: string) => `${SYNTHETIC}${encodeURIComponent(url)}/`;
  const req = (url: string, v: FileVersion | null, part: string) =>
    `${urlPrefix(url)}${v ? `${v.size}/${encodeURIComponent(v.validator)}/` : ''}${encodeURIComponent(part)}`;
  return {
    async get(url, v, part) {
      const res = await cache.match(req(url, v, part));
      return res ? new Uint8Array(await res.arrayBuffer()) : undefined;
    },
    async put(url, v, part, bytes) {
      const body = bytes.slice(); // an own ArrayBuffer (the argument may be a view into a larger one)
      await cache.put(
        req(url, v, part),
        new Response(body, { headers: { 'content-length': String(body.byteLength) } }),
      );
    },
    async prune(url) {
      const p = urlPrefix(url);
      for (const k of await cache.keys()) if (k.url.startsWith(p)) await cache.delete(k);
    },
    async remove(url, v, part) {
      await cache.delete(req(url, v, part));
    },
    async list() {
      const byUrl = new Map<string, CachedUrl>();
      for (const k of await cache.keys()) {
        if (!k.url.startsWith(SYNTHETIC)) continue;
        const rest = k.url.slice(SYNTHETIC.length);
        const url = decodeURIComponent(rest.slice(0, rest.indexOf('/')));
        const res = await cache.match(k);
        if (!res) continue;
        const e = byUrl.get(url) ?? { url, version: null, entries: 0, bytes: 0 };
        const isMeta = rest.endsWith('/meta');
        const len = Number(res.headers.get('content-length')); // every entry has a trailer: 0 means no header
        if (isMeta || !Number.isSafeInteger(len) || len <= 0) {
          const body = new Uint8Array(await res.arrayBuffer());
          e.bytes += body.length;
          if (isMeta) e.version = readMetaEntry(body)?.version ?? null;
        } else {
          await res.body?.cancel();
          e.bytes += len;
        }
        e.entries++;
        byUrl.set(url, e);
      }
      return [...byUrl.values()];
    },
  };
}

export async function sha256Hex(s: string): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function opfs(): Promise<RangeStore> {
  const root = await (await navigator.storage.getDirectory()).getDirectoryHandle(CACHE_NAME, { create: true });
  const dirOf = async (url: string, create: boolean) => {
    try {
      return await root.getDirectoryHandle(await sha256Hex(url), { create });
    } catch (e) {
      if ((e as { name?: string })?.name === 'NotFoundError') return null;
      throw e;
    }
  };
  // File names must be short and portable: hash the version, keep the range readable.
  const fileName = async (v: FileVersion | null, part: string) =>
    `${v ? (await sha256Hex(`${v.size}|${v.validator}`)).slice(0, 16) : 'x'}-${part.replace(/[^0-9a-z-]/gi, '_')}`;
  return {
    async get(url, v, part) {
      const dir = await dirOf(url, false);
      if (!dir) return undefined;
      try {
        const fh = await dir.getFileHandle(await fileName(v, part));
        return new Uint8Array(await (await fh.getFile()).arrayBuffer());
      } catch (e) {
        if ((e as { name?: string })?.name === 'NotFoundError') return undefined;
        throw e;
      }
    },
    async put(url, v, part, bytes) {
      const dir = (await dirOf(url, true))!;
      const fh = await dir.getFileHandle(await fileName(v, part), { create: true });
      const w = await fh.createWritable();
      try {
        await w.write(bytes.slice());
        await w.close();
      } catch (e) {
        await w.abort().catch(() => undefined);
        throw e;
      }
    },
    async prune(url) {
      await root.removeEntry(await sha256Hex(url), { recursive: true }).catch(() => undefined);
    },
    async remove(url, v, part) {
      const dir = await dirOf(url, false);
      await dir?.removeEntry(await fileName(v, part)).catch(() => undefined);
    },
    async list() {
      const out: CachedUrl[] = [];
      type Dir = FileSystemDirectoryHandle & { values(): AsyncIterable<FileSystemHandle> };
      for await (const h of (root as Dir).values()) {
        if (h.kind !== 'directory') continue;
        let meta: ReturnType<typeof readMetaEntry> = null;
        let entries = 0,
          bytes = 0;
        for await (const f of (h as Dir).values()) {
          if (f.kind !== 'file') continue;
          const file = await (f as FileSystemFileHandle).getFile();
          entries++;
          bytes += file.size;
          if (f.name === 'x-meta') meta = readMetaEntry(new Uint8Array(await file.arrayBuffer()));
        }
        // The folder is named by the URL's hash: without a readable version record the URL is unknown.
        if (meta && (await sha256Hex(meta.url)) === h.name)
          out.push({ url: meta.url, version: meta.version, entries, bytes });
        else out.push({ url: '', version: null, entries, bytes });
      }
      return out;
    },
  };
}

/**
 * A folder on disk (Node, Deno, Bun): `<dir>/<sha256(url)[:32]>/<sha256(version|part)[:32]>` (the version
 * record: `meta`), each entry written to a temporary sibling and renamed into place, so a crash leaves whole
 * entries or none; file names are hashes, so any URL or range is a safe name.
 */
async function disk(dir: string): Promise<RangeStore> {
  const { fs, path } = await nodeFs('a disk cache');
  await fs.mkdir(dir, { recursive: true });
  const urlDir = async (url: string) => path.join(dir, (await sha256Hex(url)).slice(0, 32));
  const fileOf = async (url: string, v: FileVersion | null, part: string) =>
    path.join(
      await urlDir(url),
      part === 'meta' && !v ? 'meta' : (await sha256Hex(`${v?.size}|${v?.validator}|${part}`)).slice(0, 32),
    );
  const missing = (e: unknown) => (e as { code?: string })?.code === 'ENOENT';
  return {
    async get(url, v, part) {
      try {
        return new Uint8Array(await fs.readFile(await fileOf(url, v, part)));
      } catch (e) {
        if (missing(e)) return undefined;
        throw e;
      }
    },
    async put(url, v, part, bytes) {
      await fs.mkdir(await urlDir(url), { recursive: true });
      await writeFileAtomic(await fileOf(url, v, part), bytes);
    },
    async prune(url) {
      await fs.rm(await urlDir(url), { recursive: true, force: true });
    },
    async remove(url, v, part) {
      await fs.rm(await fileOf(url, v, part), { force: true });
    },
    async list() {
      const out: CachedUrl[] = [];
      for (const d of await fs.readdir(dir, { withFileTypes: true })) {
        if (!d.isDirectory() || !/^[0-9a-f]{32}$/.test(d.name)) continue;
        const sub = path.join(dir, d.name);
        let entries = 0,
          bytes = 0;
        for (const f of await fs.readdir(sub)) {
          if (f.startsWith('.')) continue; // a temporary of a write in progress (or one a crash left behind)
          const st = await fs.stat(path.join(sub, f)).catch(() => null);
          if (!st?.isFile()) continue;
          entries++;
          bytes += st.size;
        }
        const raw = await fs.readFile(path.join(sub, 'meta')).catch(() => null);
        const meta = raw ? readMetaEntry(new Uint8Array(raw)) : null;
        const ok = meta !== null && (await sha256Hex(meta.url)).slice(0, 32) === d.name;
        out.push({ url: ok ? meta.url : '', version: ok ? meta.version : null, entries, bytes });
      }
      return out;
    },
  };
}

/**
 * Resolve the `cache` option to a store, or null for no caching. The default is the Cache API where `caches`
 * exists (browsers, Deno), else none; a default that cannot be opened (e.g. an insecure context) means no cache,
 * while an explicitly requested one that cannot be opened is an IO_ERROR.
 *
 * @example
 * const store = await openRangeStore('opfs'); // RangeStore, or null for 'none'
 */
export async function openRangeStore(opt: UrlCacheOption | undefined): Promise<RangeStore | null> {
  if (opt === 'none') return null;
  if (typeof opt === 'object' && opt !== null && 'dir' in opt) {
    if (typeof opt.dir !== 'string' || opt.dir === '') {
      throw new HessError(
        'INVALID_ARGUMENT',
        'cache.dir must be a folder path',
        "pass cache: { dir: '/path/to/cache' }",
      );
    }
    try {
      return verified(await disk(opt.dir));
    } catch (e) {
      if (e instanceof HessError) throw e;
      throw new HessError(
        'IO_ERROR',
        `cannot open the disk cache ${opt.dir}: ${e instanceof Error ? e.message : String(e)}`,
        "pass a writable folder or cache: 'none'",
        { cause: e },
      );
    }
  }
  if (typeof opt === 'object' && opt !== null) {
    if (typeof opt.get !== 'function' || typeof opt.put !== 'function') {
      throw new HessError(
        'INVALID_ARGUMENT',
        'cache must be a backend name, { dir } or an object with get(key) and put(key, bytes)',
        "pass 'auto', 'cache-api', 'opfs', 'none', { dir } or { get, put }",
      );
    }
    return verified(custom(opt));
  }
  const explicit = opt !== undefined && opt !== 'auto';
  const kind = (explicit ? opt : undefined) ?? (typeof caches !== 'undefined' ? 'cache-api' : 'none');
  if (kind === 'none') return null;
  if (kind !== 'cache-api' && kind !== 'opfs') {
    throw new HessError(
      'INVALID_ARGUMENT',
      `unknown cache ${JSON.stringify(kind)}`,
      "use 'auto', 'cache-api', 'opfs', 'none', { dir } or { get, put }",
    );
  }
  try {
    if (kind === 'cache-api') {
      if (typeof caches === 'undefined') throw new Error('the Cache API (globalThis.caches) is not available here');
      return verified(await cacheApi());
    }
    if (typeof navigator === 'undefined' || typeof navigator.storage?.getDirectory !== 'function') {
      throw new Error('OPFS (navigator.storage.getDirectory) is not available here');
    }
    return verified(await opfs());
  } catch (e) {
    if (!explicit) return null;
    throw new HessError(
      'IO_ERROR',
      `cannot open the ${kind} cache: ${e instanceof Error ? e.message : String(e)}`,
      "use another cache backend or pass cache: 'none'",
      { cause: e },
    );
  }
}
