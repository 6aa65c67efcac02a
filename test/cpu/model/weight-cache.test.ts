// Weight caching through Vggt.load: a disk cache folder ({ dir }) filled by a first load from a real HTTP server
// on 127.0.0.1 and served by the second with no weight requests; weightCache.list/clear on it; a corrupted entry
// refetched; and the Cache API backend (a fake `caches` global) listed and cleared, plus persist().
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Vggt, type VggtResult } from '../../../src/model/vggt/model.js';
import { weightCache } from '../../../src/model/source/weight-cache.js';
import { openSafetensors } from '../../../src/model/source/safetensors.js';
import { urlSource } from '../../../src/model/source/url-source.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { fakeCaches } from '../../helpers/fake-caches.js';
import { startServer, type TestServer } from '../../helpers/http-server.js';

const MODEL_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../models/vggt-synth');
let srv: TestServer;
let url: string;
let dir: string;
let fileSize: number;

beforeAll(async () => {
  srv = await startServer(MODEL_DIR);
  url = `${srv.base}model.safetensors`;
  fileSize = (await stat(join(MODEL_DIR, 'model.safetensors'))).size;
});
afterAll(async () => {
  await srv?.close();
});
beforeEach(async () => {
  srv.log.length = 0;
  dir = await mkdtemp(join(tmpdir(), 'hess-wcache-'));
});
afterEach(async () => {
  vi.unstubAllGlobals();
  await rm(dir, { recursive: true, force: true });
});

/** Range GETs of the checkpoint other than the 1-byte probe each open sends. */
const weightGets = () => srv.log.filter((l) => l.startsWith('GET /model.safetensors') && !l.endsWith('bytes=0-0'));

const S = 1,
  H = 28,
  W = 28;
let input: Float32Array;
/** Load with the disk cache, run on fixed random input, dispose. */
async function loadAndRun(): Promise<VggtResult> {
  input ??= Float32Array.from({ length: S * 3 * H * W }, rng(freshSeed('weight-cache input')));
  const model = await Vggt.load(url, { device: 'wasm', cache: { dir } });
  try {
    return await model.run({ data: input, S, H, W });
  } finally {
    await model.dispose();
  }
}

function expectSameOutputs(a: VggtResult, b: VggtResult): void {
  let arrays = 0;
  for (const [k, v] of Object.entries(a)) {
    if (!(v instanceof Float32Array)) continue;
    arrays++;
    const w = (b as unknown as Record<string, unknown>)[k] as Float32Array;
    expect(w.length, k).toBe(v.length);
    expect(
      Buffer.from(w.buffer, w.byteOffset, w.byteLength).equals(Buffer.from(v.buffer, v.byteOffset, v.byteLength)),
      k,
    ).toBe(true);
  }
  expect(arrays).toBeGreaterThanOrEqual(3);
}

describe('Vggt.load with a disk cache ({ dir })', () => {
  it('fetches once, then loads with no weight requests and identical outputs; list and clear', async () => {
    const first = await loadAndRun();
    const fetched = weightGets().length;
    expect(fetched).toBeGreaterThan(0);
    expect(first.depth!.every(Number.isFinite)).toBe(true);

    srv.log.length = 0;
    const second = await loadAndRun();
    expect(weightGets()).toEqual([]);
    expect(srv.log.filter((l) => l.includes('/model.safetensors'))).toEqual(['GET /model.safetensors bytes=0-0']); // the probe
    expectSameOutputs(first, second);

    const listing = await weightCache.list({ dir });
    expect(listing.urls).toHaveLength(1);
    const row = listing.urls[0];
    expect(row.url).toBe(url);
    expect(row.version?.size).toBe(fileSize);
    expect(row.version?.validator).toMatch(/^"/); // the test server's ETag
    // Every weight byte is cached (ranges do not overlap), plus 16 bytes of trailer per entry and the version
    // record (a JSON line of url, size and ETag).
    const onDisk = (await readdir(join(dir, (await readdir(dir))[0]))).length;
    expect(row.entries).toBe(onDisk);
    expect(row.bytes).toBeGreaterThan(fileSize * 0.99);
    expect(row.bytes).toBeLessThanOrEqual(fileSize + 16 * row.entries + JSON.stringify({ ...row.version, url }).length);
    expect(listing).toMatchObject({ entries: row.entries, bytes: row.bytes });

    // Clearing another URL removes nothing; clearing this one empties the cache and the next load fetches again.
    expect((await weightCache.clear({ dir }, { url: `${srv.base}other.safetensors` })).entries).toBe(0);
    expect((await weightCache.list({ dir })).entries).toBe(row.entries);
    const cleared = await weightCache.clear({ dir }, { url });
    expect(cleared).toMatchObject({ entries: row.entries, bytes: row.bytes });
    expect(await weightCache.list({ dir })).toEqual({ urls: [], entries: 0, bytes: 0 });

    srv.log.length = 0;
    const third = await loadAndRun();
    expect(weightGets().length).toBe(fetched);
    expectSameOutputs(first, third);
    expect((await weightCache.clear({ dir })).entries).toBe(row.entries); // clear everything
    expect(await readdir(dir)).toEqual([]);
  });

  it('refetches a corrupted entry (one flipped byte) and rewrites it', async () => {
    const first = await loadAndRun();
    const sub = join(dir, (await readdir(dir))[0]);
    const files = (await readdir(sub)).filter((f) => f !== 'meta');
    const sizes = await Promise.all(files.map(async (f) => (await stat(join(sub, f))).size));
    const victim = files[sizes.indexOf(Math.max(...sizes))]; // the largest entry: certainly weight bytes
    const bytes = await readFile(join(sub, victim));
    const at = Math.floor(rng(freshSeed('weight-cache flip'))() * (bytes.length - 16));
    bytes[at] ^= 0x40;
    await writeFile(join(sub, victim), bytes);

    srv.log.length = 0;
    const second = await loadAndRun();
    expect(weightGets()).toHaveLength(1); // only the bad range
    expectSameOutputs(first, second);
    const rewritten = await readFile(join(sub, victim));
    expect(rewritten[at]).toBe(bytes[at] ^ 0x40);

    srv.log.length = 0;
    await loadAndRun();
    expect(weightGets()).toEqual([]);
  });

  it('rejects an empty dir and a custom store for listing', async () => {
    await expect(Vggt.load(url, { device: 'wasm', cache: { dir: '' } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(weightCache.list({ get: async () => undefined, put: async () => {} } as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

describe('weightCache on the Cache API', () => {
  it('lists the cached ranges of each URL with their bytes, and clears one URL or all', async () => {
    const fc = fakeCaches();
    vi.stubGlobal('caches', fc.api);
    const readEverything = async (u: string) => {
      const st = await openSafetensors(await urlSource(u, { cache: 'cache-api' }));
      for (const name of st.tensors.keys()) await st.readRaw(name);
    };
    await readEverything(url);
    await readEverything(`${url}?copy=2`); // a second URL (the query string makes it another key)
    const stored = [...fc.stores.get('hess-vggt-weights')!.values()];
    const listing = await weightCache.list('cache-api');
    expect(listing.urls.map((u) => u.url).sort()).toEqual([url, `${url}?copy=2`]);
    expect(listing.entries).toBe(stored.length);
    expect(listing.bytes).toBe(stored.reduce((a, v) => a + v.length, 0));
    for (const row of listing.urls) expect(row.version?.size).toBe(fileSize);

    const gone = await weightCache.clear('cache-api', { url });
    expect(gone.urls.map((u) => u.url)).toEqual([url]);
    expect((await weightCache.list('cache-api')).urls.map((u) => u.url)).toEqual([`${url}?copy=2`]);
    srv.log.length = 0;
    await readEverything(`${url}?copy=2`);
    expect(srv.log.filter((l) => l.startsWith('GET') && !l.endsWith('bytes=0-0'))).toEqual([]); // still cached
    await weightCache.clear('cache-api');
    expect(await weightCache.list('cache-api')).toEqual({ urls: [], entries: 0, bytes: 0 });
  });

  it('persist() reports the browser answer, and false where the API is absent', async () => {
    vi.stubGlobal('navigator', { storage: { persist: async () => true } });
    expect(await weightCache.persist()).toBe(true);
    vi.stubGlobal('navigator', {
      storage: {
        persist: async () => {
          throw new Error('denied');
        },
      },
    });
    expect(await weightCache.persist()).toBe(false);
    vi.stubGlobal('navigator', {});
    expect(await weightCache.persist()).toBe(false);
  });

  it('Vggt.load({ persist: true }) asks once and reports the answer as an open event', async () => {
    const persist = vi.fn(async () => true);
    vi.stubGlobal('navigator', { storage: { persist } });
    const events: { stage: string; persisted?: boolean }[] = [];
    const model = await Vggt.load(url, {
      device: 'wasm',
      cache: { dir },
      persist: true,
      onProgress: (e) => events.push(e),
    });
    await model.dispose();
    expect(persist).toHaveBeenCalledTimes(1);
    expect(events.filter((e) => e.persisted !== undefined)).toEqual([{ stage: 'open', persisted: true }]);
  });
});
