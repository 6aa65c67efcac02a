// Memory bound of checkpoint loading: while every tensor of a generated checkpoint larger than the bound (~660 MB,
// fresh random weights) is read, JS heap + ArrayBuffers (process.memoryUsage(), sampled every 2 ms and after each
// tensor) stay under 512 MiB, and every tensor's bytes match the file (sha1 per tensor, from a separate streaming
// read of the file). Sources: a local HTTP server on 127.0.0.1 with and without Range, a directory URL, a path
// (fileSource) and a file-backed Blob (blobSource).
import { createHash } from 'node:crypto';
import { createReadStream, openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpointUrl } from '../../../src/model/source/checkpoint.js';
import {
  blobSource,
  fileSource,
  openSafetensors,
  urlSource,
  type ByteSource,
  type Safetensors,
} from '../../../src/model/source/safetensors.js';
import {
  checkpointLayout,
  vggtTensorSpecs,
  writeRandomVggt,
  type RandomVggtShape,
} from '../../../bench/random-vggt.js';
import { startServer, type TestServer } from '../../helpers/http-server.js';
import { freshSeed } from '../../helpers/random.js';

const BOUND = 512 * 2 ** 20;
/** An aggregator at width 512 with 24+24 blocks and 4 DINO blocks: ~660 MB in F32. */
const SHAPE: RandomVggtShape = { dim: 512, heads: 8, depth: 24, dinoDepth: 4 };

let root: string;
let path: string;
let srv: TestServer;
let size: number;
let expected: Map<string, string>;
const results: Record<string, { peakMiB: number; seconds: number }> = {};

/** sha1 per tensor from one sequential pass over the file (bounded memory: 64 KiB chunks). */
async function fileHashes(file: string, st: Safetensors): Promise<Map<string, string>> {
  const order = [...st.tensors.values()].sort((a, b) => a.byteOffset - b.byteOffset);
  const out = new Map<string, string>();
  let k = 0;
  let h = createHash('sha1');
  let pos = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let p = 0;
    while (p < chunk.length && k < order.length) {
      const t = order[k];
      const at = pos + p;
      if (at < t.byteOffset) {
        p += Math.min(chunk.length - p, t.byteOffset - at);
        continue;
      }
      const n = Math.min(chunk.length - p, t.byteOffset + t.byteLength - at);
      h.update(chunk.subarray(p, p + n));
      p += n;
      if (at + n === t.byteOffset + t.byteLength) {
        out.set(t.name, h.digest('hex'));
        h = createHash('sha1');
        k++;
      }
    }
    pos += chunk.length;
  }
  return out;
}

/** Read every tensor (file order) with memory sampled throughout; returns the peak of heapUsed + arrayBuffers. */
async function measuredReadAll(label: string, open: () => Promise<Safetensors>): Promise<void> {
  let peak = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.heapUsed + m.arrayBuffers);
  };
  const timer = setInterval(sample, 2);
  const t0 = performance.now();
  let bytes = 0;
  try {
    const st = await open();
    for (const name of st.tensors.keys()) {
      const raw = await st.readRaw(name);
      expect(createHash('sha1').update(raw).digest('hex'), `${label}: ${name}`).toBe(expected.get(name));
      bytes += raw.byteLength;
      sample();
    }
    await st.close();
  } finally {
    clearInterval(timer);
  }
  expect(bytes).toBeGreaterThan(BOUND); // the checkpoint is larger than the bound
  results[label] = { peakMiB: peak / 2 ** 20, seconds: (performance.now() - t0) / 1000 };
  console.info(
    `[memory] ${label}: peak heapUsed + arrayBuffers ${(peak / 2 ** 20).toFixed(1)} MiB, ${results[label].seconds.toFixed(1)} s`,
  );
  expect(peak).toBeLessThan(BOUND);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hess-mem-'));
  const w = await writeRandomVggt(join(root, 'big'), SHAPE, { seed: freshSeed('memory-bound checkpoint') });
  path = w.file;
  size = w.bytes;
  const st = await openSafetensors(await fileSource(path));
  expected = await fileHashes(path, st);
  await st.close();
  srv = await startServer(root);
});
afterAll(async () => {
  console.info('[memory] summary', JSON.stringify(results));
  await srv?.close();
  await rm(root, { recursive: true, force: true });
});

describe('loading a checkpoint larger than 512 MiB keeps JS heap + ArrayBuffers under 512 MiB', () => {
  it('the generated checkpoint is larger than the bound', () => {
    expect(size).toBe(
      8 +
        checkpointLayout(vggtTensorSpecs(SHAPE), 'F32').header.byteLength +
        checkpointLayout(vggtTensorSpecs(SHAPE), 'F32').dataBytes,
    );
    expect(size).toBeGreaterThan(BOUND * 1.2);
    expect(expected.size).toBe(vggtTensorSpecs(SHAPE).length);
  });

  it('URL, server with Range', async () => {
    srv.ranges = true;
    await measuredReadAll('range', async () => openSafetensors(await urlSource(`${srv.base}big/model.safetensors`)));
  });

  it('URL, server that ignores Range (one streamed response)', async () => {
    srv.ranges = false;
    srv.log.length = 0;
    await measuredReadAll('no-range', async () => openSafetensors(await urlSource(`${srv.base}big/model.safetensors`)));
    expect(srv.log.filter((l) => l.startsWith('GET /big/model')).length).toBe(1);
    srv.ranges = true;
  });

  it('directory URL', async () => {
    await measuredReadAll('directory-url', async () => (await openCheckpointUrl(`${srv.base}big/`)).st);
  });

  it('path (fileSource) and Blob (blobSource over a file-backed Blob)', async () => {
    await measuredReadAll('path', async () => openSafetensors(await fileSource(path)));
    const blob = await openAsBlob(path);
    await measuredReadAll('blob', async () => openSafetensors(blobSource(blob as unknown as Blob) as ByteSource));
  });
});
