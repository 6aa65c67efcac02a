// urlSource's persistent range cache: Cache API (through a fake `caches` global), custom {get, put} stores,
// version changes, quota errors, truncated entries and aborts. The network is a fake fetch that records calls.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  openSafetensors,
  urlSource,
  type Safetensors,
  type UrlSourceOptions,
} from '../../../src/model/source/safetensors.js';
import { CACHE_NAME, crc32, openEntry, rangeCacheKey, sealEntry } from '../../../src/model/source/cache.js';
import { expectCode } from '../../helpers/errors.js';
import { fakeCaches } from '../../helpers/fake-caches.js';
import { freshSeed, randomF32, rng } from '../../helpers/random.js';
import { buildSafetensors } from './st-helpers.js';

const URL1 = 'https://example.test/vggt/model.safetensors';

/** A random checkpoint (fresh per call; seed logged by freshSeed). */
function randomFile(label: string): Uint8Array {
  const rand = rng(freshSeed(label));
  const f = (n: number) => new Uint8Array(randomF32(n, rand).buffer);
  return buildSafetensors([
    { name: 'w', dtype: 'F32', shape: [7, 13], bytes: f(91) },
    { name: 'b', dtype: 'F32', shape: [13], bytes: f(13) },
    { name: 'e', dtype: 'U8', shape: [1000 + Math.floor(rand() * 100)], bytes: undefined },
  ]);
}

/** A Range-capable server over a mutable file with an ETag (or Last-Modified) that counts requests. */
function server(file: { bytes: Uint8Array; etag?: string; lastModified?: string }) {
  const calls: string[] = [];
  const f = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    init?.signal?.throwIfAborted();
    const range = (init?.headers as Record<string, string> | undefined)?.Range ?? '';
    calls.push(`${init?.method ?? 'GET'} ${range}`);
    const headers: Record<string, string> = {};
    if (file.etag) headers.etag = file.etag;
    if (file.lastModified) headers['last-modified'] = file.lastModified;
    const m = /bytes=(\d+)-(\d+)/.exec(range)!;
    const a = Number(m[1]);
    const e = Math.min(Number(m[2]), file.bytes.length - 1);
    headers['content-range'] = `bytes ${a}-${e}/${file.bytes.length}`;
    return new Response(file.bytes.slice(a, e + 1), { status: 206, headers });
  };
  return { fetch: f as typeof fetch, calls, file };
}

/** Open + read every tensor; returns the raw bytes by name. */
async function readAll(opts: UrlSourceOptions): Promise<Map<string, Uint8Array>> {
  const st: Safetensors = await openSafetensors(await urlSource(URL1, opts));
  const out = new Map<string, Uint8Array>();
  for (const n of st.tensors.keys()) out.set(n, (await st.readRaw(n)).slice());
  return out;
}

function expectSameTensors(got: Map<string, Uint8Array>, file: Uint8Array) {
  // Tensors are laid out in order after the header: their concatenation is the file's data section.
  const parts = [...got.values()];
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const data = file.subarray(file.length - total);
  let o = 0;
  for (const p of parts) {
    expect(Buffer.compare(Buffer.from(p), Buffer.from(data.subarray(o, o + p.byteLength)))).toBe(0);
    o += p.byteLength;
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('urlSource range cache', () => {
  it('defaults to the Cache API: a second open+read fetches only the 1-byte probe, and none with revalidate: false', async () => {
    const fc = fakeCaches();
    vi.stubGlobal('caches', fc.api);
    const srv = server({ bytes: randomFile('cache-api'), etag: '"v1"' });
    const first = await readAll({ fetch: srv.fetch });
    expectSameTensors(first, srv.file.bytes);
    const firstCalls = srv.calls.length;
    expect(firstCalls).toBeGreaterThan(3); // probe + header + one per tensor
    expect(fc.stores.has(CACHE_NAME)).toBe(true);

    srv.calls.length = 0;
    const progress: number[] = [];
    const second = await readAll({ fetch: srv.fetch, onProgress: (n) => progress.push(n) });
    expect(srv.calls).toEqual(['GET bytes=0-0']);
    expect([...second.keys()]).toEqual([...first.keys()]);
    expectSameTensors(second, srv.file.bytes);
    expect(progress.length).toBeGreaterThan(0);

    srv.calls.length = 0;
    const offline = await readAll({ fetch: srv.fetch, revalidate: false });
    expect(srv.calls).toEqual([]);
    expectSameTensors(offline, srv.file.bytes);
  });

  it("a changed ETag refetches the new file and prunes the old version's ranges", async () => {
    const fc = fakeCaches();
    vi.stubGlobal('caches', fc.api);
    const srv = server({ bytes: randomFile('etag-a'), etag: '"a"' });
    expectSameTensors(await readAll({ fetch: srv.fetch }), srv.file.bytes);
    const entriesA = fc.stores.get(CACHE_NAME)!.size;

    srv.file.bytes = randomFile('etag-b');
    srv.file.etag = '"b"';
    srv.calls.length = 0;
    const got = await readAll({ fetch: srv.fetch });
    expectSameTensors(got, srv.file.bytes);
    expect(srv.calls.filter((c) => c !== 'GET bytes=0-0').length).toBeGreaterThan(2);
    // Old entries are gone: the cache holds one version (meta + same number of ranges).
    expect(fc.stores.get(CACHE_NAME)!.size).toBe(entriesA);
    expect([...fc.stores.get(CACHE_NAME)!.keys()].some((k) => k.includes(encodeURIComponent('"a"')))).toBe(false);
  });

  it('a changed Last-Modified (no ETag) also refetches; same size alone would not protect, the validator does', async () => {
    const store = new Map<string, Uint8Array>();
    const cache = {
      get: async (k: string) => store.get(k),
      put: async (k: string, b: Uint8Array) => void store.set(k, b.slice()),
    };
    const bytes = randomFile('lm');
    const srv = server({ bytes, lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT' });
    await readAll({ fetch: srv.fetch, cache });
    // Same size, different contents, new Last-Modified.
    const changed = bytes.slice();
    for (let i = changed.length - 50; i < changed.length; i++) changed[i] ^= 0xff;
    srv.file.bytes = changed;
    srv.file.lastModified = 'Tue, 02 Jan 2024 00:00:00 GMT';
    srv.calls.length = 0;
    expectSameTensors(await readAll({ fetch: srv.fetch, cache }), changed);
    expect(srv.calls.length).toBeGreaterThan(1);
  });

  it('a quota error while caching surfaces as IO_ERROR with a fix-it message, not a truncated tensor', async () => {
    const fc = fakeCaches(600); // room for the meta entry and the header, not for the tensors
    vi.stubGlobal('caches', fc.api);
    const srv = server({ bytes: randomFile('quota'), etag: '"q"' });
    const e = await expectCode(readAll({ fetch: srv.fetch }), 'IO_ERROR', /quota/);
    expect(e.fix).toMatch(/free storage/);
    expect(e.fix).toMatch(/cache: 'none'/);
    // cache: 'none' reads the same file fine and touches no cache.
    const before = fc.used();
    expectSameTensors(await readAll({ fetch: srv.fetch, cache: 'none' }), srv.file.bytes);
    expect(fc.used()).toBe(before);
  });

  it('a custom { get, put } cache is used with documented keys, and a truncated entry is refetched', async () => {
    const store = new Map<string, Uint8Array>();
    const gets: string[] = [];
    const cache = {
      get: async (k: string) => (gets.push(k), store.get(k)),
      put: async (k: string, b: Uint8Array) => void store.set(k, b.slice()),
    };
    const srv = server({ bytes: randomFile('custom'), etag: 'W/"c1"' });
    const first = await readAll({ fetch: srv.fetch, cache });
    expectSameTensors(first, srv.file.bytes);
    const size = srv.file.bytes.length;
    expect(store.has(rangeCacheKey(URL1, null, 'meta'))).toBe(true);
    expect(store.has(rangeCacheKey(URL1, { size, validator: 'W/"c1"' }, 'bytes=0-7'))).toBe(true);

    srv.calls.length = 0;
    expectSameTensors(await readAll({ fetch: srv.fetch, cache }), srv.file.bytes);
    expect(srv.calls).toEqual(['GET bytes=0-0']);

    // Truncate the biggest cached range: the reader must refetch it rather than return short bytes.
    const [bigKey] = [...store.entries()]
      .filter(([k]) => !k.endsWith('|meta'))
      .sort((a, b) => b[1].length - a[1].length)[0];
    store.set(bigKey, store.get(bigKey)!.subarray(0, 10));
    srv.calls.length = 0;
    expectSameTensors(await readAll({ fetch: srv.fetch, cache }), srv.file.bytes);
    expect(srv.calls.length).toBe(2); // probe + the one truncated range
    expect(store.get(bigKey)!.length).toBeGreaterThan(10);
  });

  it('is abort-aware, rejects a server-side change mid-session, and reports unusable backends', async () => {
    const store = new Map<string, Uint8Array>();
    const cache = {
      get: async (k: string) => store.get(k),
      put: async (k: string, b: Uint8Array) => void store.set(k, b.slice()),
    };
    const srv = server({ bytes: randomFile('abort'), etag: '"x"' });
    const ac = new AbortController();
    const st = await openSafetensors(await urlSource(URL1, { fetch: srv.fetch, cache, signal: ac.signal }));
    ac.abort();
    srv.calls.length = 0;
    await expectCode(st.readRaw('w'), 'ABORTED');
    expect(srv.calls).toEqual([]);

    // The file changes after open: a range fetched afterwards carries the new ETag → IO_ERROR, never mixed bytes.
    const src = await urlSource(URL1, { fetch: srv.fetch, cache: 'none' });
    srv.file.etag = '"y"';
    await expectCode(src.read(100, 20), 'IO_ERROR', /changed/);

    // No `caches`/OPFS here: explicitly asking for them is an IO_ERROR; the default silently uses no cache.
    await expectCode(urlSource(URL1, { fetch: srv.fetch, cache: 'opfs' }), 'IO_ERROR', /OPFS/);
    await expectCode(urlSource(URL1, { fetch: srv.fetch, cache: 'cache-api' }), 'IO_ERROR', /Cache API/);
    await expectCode(urlSource(URL1, { fetch: srv.fetch, cache: { get: 1 } as never }), 'INVALID_ARGUMENT');
    expect((await urlSource(URL1, { fetch: srv.fetch })).size).toBe(srv.file.bytes.length);
  });

  it('a quota error from a custom cache is an IO_ERROR too', async () => {
    const cache = {
      get: async () => undefined,
      put: async (k: string) => {
        if (!k.endsWith('|meta')) throw new DOMException('no space', 'QuotaExceededError');
      },
    };
    const srv = server({ bytes: randomFile('custom-quota'), etag: '"z"' });
    await expectCode(readAll({ fetch: srv.fetch, cache }), 'IO_ERROR', /quota/);
  });

  it('every entry is verified: corrupted, truncated, extended or swapped entries are dropped and refetched, never returned', async () => {
    const rand = rng(freshSeed('cache-corrupt'));
    const store = new Map<string, Uint8Array>();
    const deleted: string[] = [];
    const cache = {
      get: async (k: string) => store.get(k),
      put: async (k: string, b: Uint8Array) => void store.set(k, b.slice()),
      delete: async (k: string) => {
        deleted.push(k);
        return store.delete(k);
      },
    };
    const srv = server({ bytes: randomFile('cache-corrupt-file'), etag: '"k"' });
    expectSameTensors(await readAll({ fetch: srv.fetch, cache }), srv.file.bytes);
    const keys = () => [...store.keys()].filter((k) => !k.endsWith('|meta'));
    let trials = 0;
    for (let trial = 0; trial < 60; trial++) {
      const ks = keys();
      const k = ks[Math.floor(rand() * ks.length)];
      const e = store.get(k)!.slice();
      const kind = Math.floor(rand() * 5);
      if (kind === 0)
        e[Math.floor(rand() * e.length)] ^= 1 << Math.floor(rand() * 8); // one bit anywhere (payload or trailer)
      else if (kind === 1) store.set(k, e.subarray(0, Math.floor(rand() * e.length)));
      else if (kind === 2) store.set(k, new Uint8Array([...e, Math.floor(rand() * 256)]));
      else if (kind === 3)
        e.fill(0, 0, Math.max(1, e.length - 16)); // zeroed payload, intact trailer
      else {
        // another range's entry of the same length (or the meta entry) under this key: its checksum names its key
        const other = ks.find((x) => x !== k && store.get(x)!.length === e.length) ?? rangeCacheKey(URL1, null, 'meta');
        store.set(k, store.get(other)!.slice());
      }
      if (kind === 0 || kind === 3) store.set(k, e);
      srv.calls.length = 0;
      deleted.length = 0;
      expectSameTensors(await readAll({ fetch: srv.fetch, cache }), srv.file.bytes);
      expect(deleted).toEqual([k]);
      expect(srv.calls.length).toBe(2); // the probe and the one bad range
      expect(openEntry(k, store.get(k)!)).toBeDefined(); // rewritten, valid again
      trials++;
    }
    expect(trials).toBe(60);
    // A corrupted meta entry is a miss too: the version is written again, the ranges are still served.
    const mk = rangeCacheKey(URL1, null, 'meta');
    store.set(
      mk,
      store.get(mk)!.map((b, i) => (i === 0 ? b ^ 0xff : b)),
    );
    srv.calls.length = 0;
    expectSameTensors(await readAll({ fetch: srv.fetch, cache }), srv.file.bytes);
    expect(srv.calls).toEqual(['GET bytes=0-0']);
    expect(openEntry(mk, store.get(mk)!)).toBeDefined();
  });

  it('Cache API entries are verified too (a flipped byte is deleted and refetched)', async () => {
    const fc = fakeCaches();
    vi.stubGlobal('caches', fc.api);
    const srv = server({ bytes: randomFile('cache-api-corrupt'), etag: '"z"' });
    expectSameTensors(await readAll({ fetch: srv.fetch }), srv.file.bytes);
    const s = fc.stores.get(CACHE_NAME)!;
    for (const [k, v] of s)
      if (!k.endsWith('meta')) {
        const w = v.slice();
        w[3] ^= 0x40;
        s.set(k, w);
      }
    const corrupted = [...s.keys()].filter((k) => !k.endsWith('meta')).length;
    srv.calls.length = 0;
    expectSameTensors(await readAll({ fetch: srv.fetch }), srv.file.bytes);
    // the probe, then the bad ranges refetched (urlSource may coalesce adjacent ranges into fewer requests)
    expect(srv.calls.length).toBeGreaterThan(1);
    expect(srv.calls.length).toBeLessThanOrEqual(1 + corrupted);
    srv.calls.length = 0;
    expectSameTensors(await readAll({ fetch: srv.fetch }), srv.file.bytes);
    expect(srv.calls).toEqual(['GET bytes=0-0']);
  });

  it('entry format: CRC-32 check value, key-bound checksum, length in the trailer', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const rand = rng(freshSeed('crc'));
    for (let t = 0; t < 50; t++) {
      const b = new Uint8Array(Math.floor(rand() * 100)).map(() => Math.floor(rand() * 256));
      const cut = Math.floor(rand() * (b.length + 1));
      expect(crc32(b.subarray(cut), crc32(b.subarray(0, cut)))).toBe(crc32(b)); // chaining
      const e = sealEntry('k1', b);
      expect(Array.from(openEntry('k1', e)!)).toEqual(Array.from(b));
      expect(openEntry('k2', e)).toBeUndefined();
    }
  });
});
