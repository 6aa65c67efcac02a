// scripts/demo-server.mjs: the demo page's server serves its allow-list (the page, ORT's dist, the repo's models and
// the fixtures) and nothing else; the page's default model and its HeSS file come from the repo alone.
import { mkdtempSync } from 'node:fs';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
// a plain-JS script of the repo (no declarations): its one export, typed here
const serverModule = join(root, 'scripts/demo-server.mjs');
const { createDemoServer } = (await import(serverModule)) as {
  createDemoServer: (o: { root: string; fixtures: string }) => Server;
};

/** GET with an explicit Host header (fetch does not let one be set). */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request(url, { headers: { host } }, (res) => {
      res.resume();
      ok(res.statusCode ?? 0);
    });
    req.on('error', fail);
    req.end();
  });
}

describe('demo server allow-list', () => {
  // an empty fixtures folder: a fresh clone has no ../shared
  const server = createDemoServer({ root, fixtures: mkdtempSync(join(tmpdir(), 'hess-demo-fixtures-')) });
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it("serves the page's default model, its config and its calibrated HeSS file from the repo's models folder", async () => {
    const hess = await fetch(`${base}/models/vggt-synth/hess.json`);
    expect(hess.status).toBe(200);
    const file = (await hess.json()) as { format: string; layers: number; heads: number };
    expect([file.format, file.layers, file.heads]).toEqual(['hess-scores', 24, 4]);
    expect((await fetch(`${base}/models/vggt-synth/config.json`)).status).toBe(200);
    const range = await fetch(`${base}/models/vggt-synth/model.safetensors`, { headers: { range: 'bytes=0-7' } });
    expect(range.status).toBe(206);
    expect((await range.arrayBuffer()).byteLength).toBe(8);
  });

  it('refuses what is not on the list, traversal, and a foreign Host', async () => {
    for (const path of [
      '/package.json',
      '/src/index.ts',
      '/models/../package.json',
      '/.git/HEAD',
      '/models/%2e%2e/LICENSE',
    ]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${base}/fixtures/vggt-tiny/model.safetensors`)).status).toBe(404); // empty fixtures folder
    expect(await statusWithHost(`${base}/models/vggt-synth/hess.json`, 'evil.example')).toBe(403);
  });
});
