/**
 * Inspect and clear the weight cache that {@link Vggt.load} and urlSource fill (`cache: 'cache-api' | 'opfs' |
 * { dir }`; see cache.ts), and ask the browser to keep it (`navigator.storage.persist()`).
 *
 * @example
 * const { urls, bytes } = await weightCache.list({ dir: '.hess-cache' });
 * await weightCache.clear({ dir: '.hess-cache' }, { url: 'https://example.org/vggt/model.safetensors' });
 */
import { HessError } from '../../errors.js';
import { nodeFs } from '../../io/node-fs.js';
import { CACHE_NAME, openRangeStore, type CachedUrl, type RangeStore, type UrlCacheOption } from './cache.js';

/** A backend that can be listed: the built-in ones (a custom store cannot: list your own store directly). */
export type ListableCache = 'cache-api' | 'opfs' | { dir: string };

/** What {@link weightCache.list} returns: one row per cached URL, and the totals. */
export interface WeightCacheListing {
  urls: CachedUrl[];
  entries: number;
  bytes: number;
}

async function open(cache: ListableCache): Promise<Required<Pick<RangeStore, 'list' | 'prune'>>> {
  const ok =
    cache === 'cache-api' || cache === 'opfs' || (typeof cache === 'object' && cache !== null && 'dir' in cache);
  if (!ok) {
    throw new HessError(
      'INVALID_ARGUMENT',
      `cannot list the cache ${typeof cache === 'object' ? 'object' : JSON.stringify(cache)}`,
      "pass 'cache-api', 'opfs' or { dir } (a custom store is listed and cleared by its owner)",
    );
  }
  const store = await openRangeStore(cache as UrlCacheOption);
  return { list: store!.list!.bind(store), prune: store!.prune!.bind(store) };
}

export const weightCache = {
  /**
   * Every cached URL with its file version, entry count and bytes as stored, and the totals.
   * @example console.log((await weightCache.list('opfs')).bytes);
   */
  async list(cache: ListableCache): Promise<WeightCacheListing> {
    const urls = await (await open(cache)).list();
    return { urls, entries: urls.reduce((a, u) => a + u.entries, 0), bytes: urls.reduce((a, u) => a + u.bytes, 0) };
  },

  /**
   * Remove the cached ranges of one URL, or of every URL; returns what was removed.
   * @example await weightCache.clear({ dir: '.hess-cache' });
   */
  async clear(cache: ListableCache, opts: { url?: string | URL } = {}): Promise<WeightCacheListing> {
    const store = await open(cache);
    const all = await store.list();
    const href = opts.url === undefined ? undefined : String(opts.url);
    const gone = href === undefined ? all : all.filter((u) => u.url === href);
    if (href === undefined)
      await clearAll(cache); // also the rows whose URL is unknown (unreadable version record)
    else await store.prune(href);
    return {
      urls: gone,
      entries: gone.reduce((a, u) => a + u.entries, 0),
      bytes: gone.reduce((a, u) => a + u.bytes, 0),
    };
  },

  /**
   * Ask the browser not to evict this origin's storage (the cache) under pressure: true when granted; false
   * where it was refused or the API is absent (Node, Deno, Bun, insecure contexts).
   * @example if (!(await weightCache.persist())) console.warn('the weight cache may be evicted');
   */
  async persist(): Promise<boolean> {
    const storage = (globalThis as { navigator?: { storage?: { persist?: () => Promise<boolean> } } }).navigator
      ?.storage;
    if (typeof storage?.persist !== 'function') return false;
    return storage.persist().then(
      (v) => v === true,
      () => false,
    );
  },
};

/** Everything: the Cache API cache, the OPFS folder, or the disk folder's per-URL subfolders (nothing else there). */
async function clearAll(cache: ListableCache): Promise<void> {
  if (typeof cache === 'object') {
    const { fs, path } = await nodeFs('a disk cache');
    for (const d of await fs.readdir(cache.dir)) {
      if (/^[0-9a-f]{32}$/.test(d)) await fs.rm(path.join(cache.dir, d), { recursive: true, force: true });
    }
  } else if (cache === 'cache-api') {
    const c = await caches.open(CACHE_NAME);
    for (const k of await c.keys()) await c.delete(k);
  } else {
    await (await navigator.storage.getDirectory()).removeEntry(CACHE_NAME, { recursive: true }).catch(() => undefined);
  }
}
