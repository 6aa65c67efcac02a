// The demo server (scripts/demo-serve.mjs, started as a subprocess exactly as `npm run demo -- --serve` does) under
// ≥ 1,000 random and hostile raw HTTP requests on 127.0.0.1: it never dies, answers every one with an allowed status,
// and never sends a byte of a file outside its allow-list (the repo, .git, a link pointing out of the fixtures).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostileRng, pick, randomString } from './seed.js';

const root = process.cwd();
const CASES = 1200;
const PARALLEL = 8;
const DEADLINE_MS = 240_000; // stops itself: no case is started after this
const ALLOWED = new Set([400, 403, 404, 302, 200, 206, 416]);

/** One raw request → the status code (or 'none' when the connection closed without a response) and the body. */
function send(port: number, raw: Buffer): Promise<{ status: number | 'none'; body: Buffer }> {
  return new Promise((ok) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1');
    const finish = () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(all.subarray(0, 20).toString('latin1'));
      const head = all.indexOf('\r\n\r\n');
      ok({ status: m ? Number(m[1]) : 'none', body: head >= 0 ? all.subarray(head + 4) : Buffer.alloc(0) });
    };
    // No half-close (the server would drop the request); the server closes after a `Connection: close` response,
    // and a kept-alive one is cut 500 ms after its last byte. No byte within 60 s counts as no response.
    let timer = setTimeout(() => s.destroy(), 60_000);
    s.on('data', (d) => {
      chunks.push(d);
      clearTimeout(timer);
      timer = setTimeout(() => s.destroy(), 500);
    });
    s.on('close', finish);
    s.on('error', () => {});
    s.write(raw);
  });
}

// The requests, generated once from the fixed seed ({PORT} is filled in at send time), so the test title can
// state the count per class.
const { rand } = hostileRng('demo server requests');
const host = () =>
  rand() < 0.5
    ? pick(rand, [`127.0.0.1:{PORT}`, `localhost:{PORT}`, `[::1]:{PORT}`, `LOCALHOST:{PORT}`])
    : pick(rand, [
        'evil.example',
        `evil.example:{PORT}`,
        '127.0.0.1',
        `127.0.0.1:{PORT1}`,
        `localhost.evil.example:{PORT}`,
        '',
        `{PORT}`,
        `127.0.0.1:{PORT}@evil.example`,
        randomString(rand, 12, 'abc.:[]@%1'),
      ]);
const paths = [
  '/',
  '/%',
  '/%%',
  '/%zz',
  '/%E0%A4%A',
  '/%C0%AE%C0%AE/',
  '/..',
  '/../',
  '/../../etc/passwd',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/dist/demo/../../package.json',
  '/dist/demo/%2e%2e/%2e%2e/package.json',
  '/dist/demo/..%2f..%2fpackage.json',
  '/.git/HEAD',
  '/.git',
  '/.git/config',
  '/package.json',
  '/tsconfig.json',
  '/src/index.ts',
  '/node_modules/onnxruntime-web/package.json',
  '/node_modules/onnxruntime-web/dist/../package.json',
  '/node_modules/onnxruntime-web/dist/%2e%2e/package.json',
  '/fixtures/../outside.txt',
  '/fixtures/link-out',
  '/fixtures/dir-out/outside.txt',
  '/fixtures/%00',
  '/fixtures/tiny/model.bin%00.png',
  '//etc/passwd',
  '/fixtures/..%5coutside.txt',
  '/fixtures/tiny/..%5c..%5coutside.txt',
  'http://evil.example/dist/demo/index.html',
  '*',
  '/dist/demo/index.html?x=%',
  '/dist/demo/index.html#frag',
  '/fixtures/tiny/model.bin',
  '/fixtures/tiny/',
  '/fixtures/',
  '/dist/demo/',
  '/dist/demo/index.html',
  '/dist/demo/main.js',
  '/node_modules/onnxruntime-web/dist/ort.webgpu.bundle.min.mjs',
  `/${'a'.repeat(6000)}`,
  '/fixtures/tiny/model.bin/..',
  '/fixtures/./tiny/model.bin',
  '/FIXTURES/tiny/model.bin',
  '/fixtures/ｔｉｎｙ/model.bin',
];
const ranges = [
  '',
  'bytes=0-10',
  'bytes=5-',
  'bytes=4095-',
  'bytes=4096-',
  'bytes=999999999-',
  'bytes=10-5',
  'bytes=-5',
  'bytes=0-0,1-1',
  'garbage',
  'bytes=99999999999999999999-',
  'bytes=0-99999999999999999999',
];
const methods = [
  'GET',
  'GET',
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'PATCH',
  'G\u00c9T',
  'get',
];
const printable = ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~';
const reqs: { label: string; raw: Buffer; path: string; kind: string }[] = [];
for (let i = 0; i < CASES; i++) {
  const r = rand();
  let path: string;
  let kind: string;
  if (r < 0.5) {
    path = pick(rand, paths);
    kind = 'hostile path';
  } else if (r < 0.7) {
    path = `/${pick(rand, ['dist/demo/', 'fixtures/', 'node_modules/onnxruntime-web/dist/', ''])}${randomString(rand, 1 + Math.floor(rand() * 40), printable.replace(' ', ''))}`;
    kind = 'random path';
  } else if (r < 0.85) {
    path = `/${randomString(rand, Math.floor(rand() * 30), '%./\\aZ09:?#~\u00e9')}`;
    kind = 'random path';
  } else {
    path = '';
    kind = 'random request line';
  }
  const h = rand() < 0.1 ? null : host();
  const range = pick(rand, ranges);
  const head =
    kind === 'random request line'
      ? Buffer.concat([
          Buffer.from(
            Array.from({ length: 1 + Math.floor(rand() * 60) }, () => {
              const b = Math.floor(rand() * 256);
              return b === 13 || b === 10 ? 32 : b;
            }),
          ),
          Buffer.from('\r\n'),
        ])
      : Buffer.from(`${pick(rand, methods)} ${path} ${rand() < 0.9 ? 'HTTP/1.1' : 'HTTP/1.0'}\r\n`, 'latin1');
  const headers = `${h === null ? '' : `Host: ${h}\r\n`}${range ? `Range: ${range}\r\n` : ''}${rand() < 0.05 ? 'Upgrade: websocket\r\nConnection: Upgrade\r\n' : 'Connection: close\r\n'}\r\n`;
  reqs.push({
    label: `${head.toString('latin1').trim().slice(0, 120)} | ${headers.replace(/\r\n/g, ' | ')}`,
    raw: Buffer.concat([head, Buffer.from(headers, 'latin1')]),
    path,
    kind,
  });
}
const CLASS_COUNTS = reqs.reduce<Record<string, number>>((c, q) => ((c[q.kind] = (c[q.kind] ?? 0) + 1), c), {});
const TITLE = Object.entries(CLASS_COUNTS)
  .map(([k, n]) => `${n} ${k}s`)
  .join(', ');

describe('demo server: hostile requests (subprocess, 127.0.0.1)', () => {
  let dir: string;
  let server: ChildProcess;
  let port = 0;
  const secrets: string[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hess-demo-fuzz-'));
    const fixtures = join(dir, 'fixtures');
    mkdirSync(join(fixtures, 'tiny'), { recursive: true });
    writeFileSync(join(fixtures, 'tiny', 'model.bin'), randomBytes(4096));
    const outside = `SECRET-OUTSIDE-${randomBytes(8).toString('hex')}`;
    writeFileSync(join(dir, 'outside.txt'), outside);
    symlinkSync(join(dir, 'outside.txt'), join(fixtures, 'link-out'));
    symlinkSync(dir, join(fixtures, 'dir-out'));
    secrets.push(outside, '"name": "hess-vggt"', 'gitdir:', 'ref: refs/', 'root:x:0:0', '"compilerOptions"');
    server = spawn(process.execPath, [resolve(root, 'scripts/demo-serve.mjs'), '--port', '0', '--fixtures', fixtures], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    port = await new Promise<number>((ok, fail) => {
      let out = '';
      server.stdout!.on('data', (d) => {
        out += d;
        const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
        if (m) ok(Number(m[1]));
      });
      server.on('exit', (c) => fail(new Error(`demo server exited (${c}) before listening: ${out}`)));
    });
  });
  afterAll(() => {
    server?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`${CASES} raw requests (${TITLE}): server survives, statuses allowed, nothing outside the allow-list`, async () => {
    const counts: Record<string, number> = {};
    const statuses: Record<string, number> = {};
    const bad: string[] = [];
    const t0 = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < reqs.length && Date.now() - t0 < DEADLINE_MS) {
        const q = reqs[next++];
        const { status, body } = await send(
          port,
          Buffer.from(
            q.raw
              .toString('latin1')
              .replaceAll('{PORT1}', String(port + 1))
              .replaceAll('{PORT}', String(port)),
            'latin1',
          ),
        );
        counts[q.kind] = (counts[q.kind] ?? 0) + 1;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 'none' || !ALLOWED.has(status)) bad.push(`status ${status}: ${q.label}`);
        const text = body.toString('latin1');
        for (const s of secrets) if (text.includes(s)) bad.push(`LEAK of "${s}": ${q.label}`);
        if (status === 200 || status === 206) {
          const decoded = (() => {
            try {
              return decodeURIComponent(new URL(q.path, 'http://x').pathname);
            } catch {
              return '?';
            }
          })();
          if (!/^\/(dist\/demo|node_modules\/onnxruntime-web\/dist|fixtures)\//.test(decoded))
            bad.push(`served outside the allow-list: ${q.label}`);
        }
        expect(server.exitCode, `server died after: ${q.label}`).toBeNull();
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const done = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(
      `[hostile] demo server: ${done} requests in ${((Date.now() - t0) / 1000).toFixed(1)} s, by class ${JSON.stringify(counts)}, statuses ${JSON.stringify(statuses)}`,
    );
    expect(bad.slice(0, 20)).toEqual([]);
    expect(done).toBeGreaterThanOrEqual(1000);
    // …and it still serves normally, with ranges, and refuses a foreign Host.
    const ok = await send(
      port,
      Buffer.from(
        `GET /fixtures/tiny/model.bin HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nRange: bytes=0-9\r\nConnection: close\r\n\r\n`,
      ),
    );
    expect(ok.status).toBe(206);
    expect(ok.body.equals(readFileSync(join(dir, 'fixtures', 'tiny', 'model.bin')).subarray(0, 10))).toBe(true);
    expect(
      (
        await send(
          port,
          Buffer.from(`GET /fixtures/tiny/model.bin HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`),
        )
      ).status,
    ).toBe(403);
    expect(
      (await send(port, Buffer.from(`GET /% HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`))).status,
    ).toBe(400);
    expect(server.exitCode).toBeNull();
  });
});
