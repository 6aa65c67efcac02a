// Loading checkpoints by URL from a real HTTP server on 127.0.0.1 (node:http, started and stopped here): Range
// requests with read-ahead, coalescing and bounded parallelism, retries of failed ranges, a server that ignores
// Range (read front to back; a typed error for bytes no longer held; any order with a cache), directory URLs with
// config.json, and Vggt.load from a directory URL.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openCheckpointUrl } from '../../../src/model/source/checkpoint.js';
import { openSafetensors, urlSource, type Safetensors } from '../../../src/model/source/safetensors.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import { vggtConfigJson, writeRandomVggt, type RandomVggtShape } from '../../../bench/random-vggt.js';
import { expectCode } from '../../helpers/errors.js';
import { startServer, type TestServer } from '../../helpers/http-server.js';
import { freshSeed, rng } from '../../helpers/random.js';

const SMALL: RandomVggtShape = {
  dim: 32,
  heads: 2,
  depth: 24,
  dinoDepth: 1,
  predictionHeads: {
    cameraHeads: 2,
    trunkDepth: 1,
    features: 16,
    outChannels: [8, 16, 32, 32],
    depthHead: true,
    pointHead: true,
  },
};

let root: string;
let srv: TestServer;
let file: Buffer;
/** sha1 of every tensor's bytes, from the file on disk. */
let expected: Map<string, string>;
const sha1 = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hess-url-'));
  await writeRandomVggt(join(root, 'vggt'), SMALL, { seed: freshSeed('url-loading model') });
  await mkdir(join(root, 'noconfig'));
  file = await readFile(join(root, 'vggt/model.safetensors'));
  await writeFile(join(root, 'noconfig/model.safetensors'), file);
  const n = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + n).toString()) as Record<string, { data_offsets: [number, number] }>;
  expected = new Map(
    Object.entries(header)
      .filter(([k]) => k !== '__metadata__')
      .map(([k, v]) => [k, sha1(file.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]))]),
  );
  srv = await startServer(root);
});
afterAll(async () => {
  await srv?.close();
  await rm(root, { recursive: true, force: true });
});
beforeEach(() => {
  srv.log.length = 0;
  srv.peakInFlight = 0;
  srv.ranges = true;
  srv.fail = undefined;
});

/** Read every tensor in `order` and check its bytes against the file. */
async function readAll(st: Safetensors, order = [...st.tensors.keys()]): Promise<void> {
  expect(new Set(order)).toEqual(new Set(expected.keys()));
  for (const name of order) expect(sha1(await st.readRaw(name)), name).toBe(expected.get(name));
}

function shuffled<T>(xs: T[], seed: number): T[] {
  const r = rng(seed);
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('urlSource on a Range server', () => {
  it('reads every tensor right in any order, coalescing neighbours, with bounded parallelism and full progress', async () => {
    const progress: number[] = [];
    const url = `${srv.base}vggt/model.safetensors`;
    const src = await urlSource(url, {
      parallel: 3,
      readAhead: 256 << 10,
      partSize: 64 << 10,
      onProgress: (n) => progress.push(n),
    });
    const st = await openSafetensors(src);
    // 200 tensors in random order (each a request of its own, so not all ~1,100), then the rest in file order.
    const names = [...st.tensors.keys()];
    const some = new Set(shuffled(names, freshSeed('url-loading order')).slice(0, 200));
    await readAll(st, [...some, ...names.filter((n) => !some.has(n))]);
    const gets = srv.log.filter((l) => l.startsWith('GET'));
    expect(gets.every((l) => /bytes=\d+-\d+$/.test(l))).toBe(true);
    expect(srv.peakInFlight).toBeLessThanOrEqual(3);
    expect(srv.peakInFlight).toBeGreaterThan(1);
    expect(progress.every((p, i) => i === 0 || p >= progress[i - 1])).toBe(true);
    expect(progress.at(-1)).toBe(file.length);

    // In file order, neighbouring small tensors share requests: far fewer requests than tensors.
    srv.log.length = 0;
    const inOrder = await openSafetensors(await urlSource(url, { parallel: 4 }));
    await readAll(inOrder);
    expect(srv.log.length).toBeLessThan(st.tensors.size / 10);
    // A tensor larger than partSize comes in parallel parts.
    srv.log.length = 0;
    const big = [...inOrder.tensors.values()].sort((a, b) => b.byteLength - a.byteLength)[0];
    const parts = await urlSource(url, { partSize: 4096, readAhead: 0 });
    const got = await parts.read(big.byteOffset, big.byteLength);
    expect(sha1(got)).toBe(expected.get(big.name));
    expect(srv.log.length - 1).toBe(Math.ceil(big.byteLength / 4096));
  });

  it('retries a failed range (503, then served) and gives up on a 404 or after the retries', async () => {
    const url = `${srv.base}vggt/model.safetensors`;
    const seen = new Set<string>();
    srv.fail = (_p, range) => {
      if (range === 'bytes=0-0' || seen.has(range)) return undefined;
      seen.add(range);
      return 503; // every range fails once
    };
    const st = await openSafetensors(await urlSource(url, { retryDelayMs: 1 }));
    await readAll(st);
    expect(srv.log.length).toBeGreaterThan(2 * seen.size - 1);

    srv.fail = (_p, range) => (range === 'bytes=0-0' ? undefined : 404);
    srv.log.length = 0;
    const src = await urlSource(url, { retryDelayMs: 1 });
    await expectCode(src.read(8, 100), 'IO_ERROR', /HTTP 404/);
    expect(srv.log.length).toBe(2); // the probe and one attempt: a 404 is not retried

    srv.fail = (_p, range) => (range === 'bytes=0-0' ? undefined : 503);
    srv.log.length = 0;
    const flaky = await urlSource(url, { retries: 2, retryDelayMs: 1 });
    await expectCode(flaky.read(8, 100), 'IO_ERROR', /HTTP 503.*after 3 attempts/);
    expect(srv.log.length).toBe(4);
  });
});

describe('urlSource on a server that ignores Range', () => {
  it('reads front to back from the one response, keeps passed-over tensors within the window, else a typed error', async () => {
    srv.ranges = false;
    const url = `${srv.base}vggt/model.safetensors`;
    const st = await openSafetensors(await urlSource(url));
    await readAll(st);
    expect(srv.log).toEqual(['GET /vggt/model.safetensors bytes=0-0']);

    // Skipping ahead keeps what it passed (window large enough), so a reversed pair reads right.
    const names = [...st.tensors.keys()];
    const st2 = await openSafetensors(await urlSource(url));
    await readAll(st2, [names[5], names[3], names[4], ...names.slice(0, 3), ...names.slice(6)]);

    // A tiny window: going back past it is an IO_ERROR that says why and what to do.
    const st3 = await openSafetensors(await urlSource(url, { streamWindow: 16 }));
    const last = names.at(-1)!;
    expect(sha1(await st3.readRaw(last))).toBe(expected.get(last));
    await expectCode(st3.readRaw(names[0]), 'IO_ERROR', /ignores Range.*Range support/);
    await st3.close();
  });

  it('with a cache, any order works: passed-over tensors go to the cache, not to memory', async () => {
    srv.ranges = false;
    const store = new Map<string, Uint8Array>();
    const cache = {
      get: async (k: string) => store.get(k),
      put: async (k: string, b: Uint8Array) => void store.set(k, b.slice()),
    };
    const st = await openSafetensors(await urlSource(`${srv.base}vggt/model.safetensors`, { cache, streamWindow: 0 }));
    await readAll(st, [...st.tensors.keys()].reverse());
    expect(store.size).toBeGreaterThanOrEqual(st.tensors.size);
    expect(srv.log.length).toBe(1);
  });
});

describe('openCheckpointUrl in Node on a server that ignores Range', () => {
  it('spills passed-over tensors to a temporary file: any read order works, and the file goes on close', async () => {
    srv.ranges = false;
    const spills = async () => (await readdir(tmpdir())).filter((d) => d.startsWith('hess-vggt-spill-')).length;
    const before = await spills();
    const { st } = await openCheckpointUrl(`${srv.base}vggt/`);
    await readAll(st, [...st.tensors.keys()].reverse());
    expect(srv.log.filter((l) => l.startsWith('GET /vggt/model')).length).toBe(1);
    expect(await spills()).toBe(before + 1);
    await st.close();
    expect(await spills()).toBe(before);
  });
});

describe('directory URLs', () => {
  it("'…/dir/' opens dir/model.safetensors with dir/config.json; a file URL reads the config beside it; none is {}", async () => {
    const dir = await openCheckpointUrl(`${srv.base}vggt/`);
    expect(dir.file).toBe(`${srv.base}vggt/model.safetensors`);
    expect(dir.override).toEqual(vggtConfigJson(SMALL));
    await readAll(dir.st);
    const byFile = await openCheckpointUrl(`${srv.base}vggt/model.safetensors?x=1`);
    expect(byFile.override).toEqual(vggtConfigJson(SMALL));
    expect(srv.log).toContain('GET /vggt/config.json');
    const bare = await openCheckpointUrl(`${srv.base}noconfig/`);
    expect(bare.override).toEqual({});
    await expectCode(openCheckpointUrl(`${srv.base}vggt`), 'IO_ERROR', /404/);
  });

  it('Vggt.load from a directory URL reads the config, reports bytes loaded / total, and runs', async () => {
    const events: { loaded?: number; total?: number }[] = [];
    const model = await Vggt.load(`${srv.base}vggt/`, {
      device: 'wasm',
      onProgress: (e) => {
        if (e.stage === 'weights') events.push(e);
      },
    });
    try {
      expect(model.config.assumed).toEqual([]);
      expect(model.config.camera!.heads).toBe(2);
      expect(events.length).toBeGreaterThan(10);
      const total = events[0].total!;
      expect(total).toBeGreaterThan(0);
      expect(events.every((e, i) => e.total === total && (i === 0 || e.loaded! >= events[i - 1].loaded!))).toBe(true);
      const S = 1,
        H = 28,
        W = 28;
      const r = await model.run({ data: new Float32Array(S * 3 * H * W).fill(0.5), S, H, W });
      expect(r.depth!.every(Number.isFinite)).toBe(true);
    } finally {
      await model.dispose();
    }
  });
});
