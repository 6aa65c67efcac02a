// A minimal in-memory Cache API for tests that stub the `caches` global: `caches.open(name)` → match/put/keys/delete,
// with an optional byte quota over all stores (a put past it throws QuotaExceededError, as browsers do).

export interface FakeCaches {
  /** What to pass to `vi.stubGlobal('caches', …)`. */
  api: { open(name: string): Promise<FakeCache> };
  /** Stored bodies by cache name, then by request URL. */
  stores: Map<string, Map<string, Uint8Array>>;
  /** Bytes stored over all caches. */
  used(): number;
}

export interface FakeCache {
  match(r: RequestInfo | URL): Promise<Response | undefined>;
  put(r: RequestInfo | URL, res: Response): Promise<void>;
  keys(): Promise<Request[]>;
  delete(r: RequestInfo | URL): Promise<boolean>;
}

export function fakeCaches(quota = Infinity): FakeCaches {
  const stores = new Map<string, Map<string, Uint8Array>>();
  const used = () =>
    [...stores.values()].reduce((a, s) => a + [...s.values()].reduce((b, v) => b + v.byteLength, 0), 0);
  const key = (r: RequestInfo | URL) => (typeof r === 'string' ? r : r instanceof URL ? r.href : r.url);
  const api = {
    async open(name: string): Promise<FakeCache> {
      if (!stores.has(name)) stores.set(name, new Map());
      const s = stores.get(name)!;
      return {
        async match(r) {
          const v = s.get(key(r));
          return v ? new Response(v.slice()) : undefined;
        },
        async put(r, res) {
          const v = new Uint8Array(await res.arrayBuffer());
          if (used() + v.byteLength > quota)
            throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
          s.set(key(r), v);
        },
        async keys() {
          return [...s.keys()].map((k) => new Request(k));
        },
        async delete(r) {
          return s.delete(key(r));
        },
      };
    },
  };
  return { api, stores, used };
}
