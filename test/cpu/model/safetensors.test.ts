import { expectCode } from '../../helpers/errors.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  blobSource,
  bytesSource,
  fileSource,
  openSafetensors,
  urlSource,
  type ByteSource,
  type Safetensors,
} from '../../../src/model/source/safetensors.js';
import { assemble, buildSafetensors, f32Bytes } from './st-helpers.js';

const FIXTURES = resolve(process.cwd(), '../shared/fixtures/vggt-tiny');
const MODEL = join(FIXTURES, 'model.safetensors');
const IO = join(FIXTURES, 'io.safetensors');

/** Byte-exact comparison without vitest's per-index deep equality (too slow/large for MB-sized arrays). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const u16 = (vals: number[]) => new Uint8Array(new Uint16Array(vals).buffer);

describe('safetensors: dtypes and conversion', () => {
  const file = buildSafetensors(
    [
      { name: 'f32', dtype: 'F32', shape: [2, 2], bytes: f32Bytes([1, -2.5, 3e-8, 1e30]) },
      { name: 'f16', dtype: 'F16', shape: [7], bytes: u16([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00, 0x7e00]) },
      { name: 'bf16', dtype: 'BF16', shape: [3], bytes: u16([0x3f80, 0xc020, 0x4049]) },
      { name: 'f64', dtype: 'F64', shape: [2], bytes: new Uint8Array(new Float64Array([Math.PI, -1e-3]).buffer) },
      { name: 'i64', dtype: 'I64', shape: [2], bytes: new Uint8Array(new BigInt64Array([-5n, 1n << 40n]).buffer) },
      { name: 'i32', dtype: 'I32', shape: [2], bytes: new Uint8Array(new Int32Array([-7, 123456]).buffer) },
      { name: 'u8', dtype: 'U8', shape: [3], bytes: new Uint8Array([0, 128, 255]) },
      { name: 'bool', dtype: 'BOOL', shape: [2], bytes: new Uint8Array([1, 0]) },
      { name: 'e4m3', dtype: 'F8_E4M3', shape: [4], bytes: new Uint8Array([0x38, 0x7e, 0x01, 0xb8]) },
      { name: 'e5m2', dtype: 'F8_E5M2', shape: [3], bytes: new Uint8Array([0x3c, 0x7c, 0x01]) },
      { name: 'scalar', dtype: 'F32', shape: [], bytes: f32Bytes([42]) },
      { name: 'empty', dtype: 'F32', shape: [0, 5], bytes: new Uint8Array(0) },
    ],
    { format: 'pt', note: 'hello' },
  );

  it('parses names, shapes, offsets and metadata', async () => {
    const st = await openSafetensors(bytesSource(file));
    expect([...st.tensors.keys()]).toEqual([
      'f32',
      'f16',
      'bf16',
      'f64',
      'i64',
      'i32',
      'u8',
      'bool',
      'e4m3',
      'e5m2',
      'scalar',
      'empty',
    ]);
    expect(st.metadata).toEqual({ format: 'pt', note: 'hello' });
    const t = st.tensors.get('f32')!;
    expect(t).toMatchObject({ dtype: 'F32', shape: [2, 2], numel: 4, byteLength: 16, byteOffset: 8 + st.headerLength });
    expect(st.tensors.get('scalar')!.numel).toBe(1);
    expect(st.tensors.get('empty')!.numel).toBe(0);
  });

  it('converts every dtype to float32', async () => {
    const st = await openSafetensors(bytesSource(file));
    expect([...(await st.read('f32'))]).toEqual([...new Float32Array([1, -2.5, 3e-8, 1e30])]);
    const h = await st.read('f16');
    expect([...h.slice(0, 6)]).toEqual([1, -2, 0.5, 65504, 2 ** -24, Infinity]);
    expect(Number.isNaN(h[6])).toBe(true);
    expect([...(await st.read('bf16'))]).toEqual([1, -2.5, 3.140625]);
    expect([...(await st.read('f64'))]).toEqual([Math.fround(Math.PI), Math.fround(-1e-3)]);
    expect([...(await st.read('i64'))]).toEqual([-5, 2 ** 40]);
    expect([...(await st.read('i32'))]).toEqual([-7, 123456]);
    expect([...(await st.read('u8'))]).toEqual([0, 128, 255]);
    expect([...(await st.read('bool'))]).toEqual([1, 0]);
    expect([...(await st.read('e4m3'))]).toEqual([1, 448, 2 ** -9, -1]);
    expect([...(await st.read('e5m2'))]).toEqual([1, Infinity, 2 ** -16]);
    expect([...(await st.read('scalar'))]).toEqual([42]);
    expect((await st.read('empty')).length).toBe(0);
    expect([...(await st.readRaw('u8'))]).toEqual([0, 128, 255]);
  });

  it('rejects unknown tensor names with BAD_CHECKPOINT and honours abort signals', async () => {
    const st = await openSafetensors(bytesSource(file));
    await expectCode(st.read('nope'), 'BAD_CHECKPOINT', /not in the checkpoint/);
    const ac = new AbortController();
    ac.abort();
    await expectCode(st.read('f32', { signal: ac.signal }), 'ABORTED');
    await expectCode(openSafetensors(bytesSource(file), { signal: ac.signal }), 'ABORTED');
  });

  it('accepts header padding spaces and unicode names', async () => {
    const f = buildSafetensors([{ name: 'λ.weight ✓', dtype: 'F32', shape: [1] }], undefined, 13);
    const st = await openSafetensors(bytesSource(f));
    expect(st.tensors.has('λ.weight ✓')).toBe(true);
  });
});

describe('safetensors: hostile headers (targeted)', () => {
  const data = new Uint8Array(16);
  const entry = (o: object) => JSON.stringify({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16], ...o } });
  const cases: [string, Uint8Array, RegExp][] = [
    ['file < 8 bytes', new Uint8Array(5), /smaller than the 8-byte/],
    ['header length > 100 MB', assemble('{}', [], 200_000_000), /exceeds/],
    ['header length with high word', assemble('{}', [], 2 ** 40), /exceeds/],
    ['header length past EOF', assemble('{}', [], 50), /past the end/],
    ['header length 0', assemble('', []), /too small/],
    ['not UTF-8', assemble(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), /UTF-8/],
    ['not JSON', assemble('{"a": nope}'), /JSON/],
    ['trailing garbage', assemble('{} x'), /trailing/],
    ['root is an array', assemble('[]'), /not an object/],
    ['deep nesting', assemble('{"a":' + '['.repeat(50_000) + ']'.repeat(50_000) + '}'), /nested/],
    [
      'duplicate names',
      assemble(
        '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
        [new Uint8Array(2)],
      ),
      /duplicate/,
    ],
    ['unknown dtype', assemble(entry({ dtype: 'F128' }), [data]), /unknown dtype/],
    ['negative shape', assemble(entry({ shape: [-4] }), [data]), /non-negative/],
    ['fractional shape', assemble(entry({ shape: [4.5] }), [data]), /non-negative/],
    ['huge shape', assemble(entry({ shape: [2 ** 40, 2 ** 40] }), [data]), /too large/],
    ['shape not array', assemble(entry({ shape: 4 }), [data]), /not an array/],
    ['negative offset', assemble(entry({ data_offsets: [-16, 0] }), [data]), /begin <= end/],
    ['reversed offsets', assemble(entry({ data_offsets: [16, 0] }), [data]), /begin <= end/],
    ['offsets past data', assemble(entry({ data_offsets: [16, 32] }), [data]), /past the data section/],
    ['size mismatch', assemble(entry({ shape: [3] }), [data]), /expected 12/],
    ['offsets wrong arity', assemble(entry({ data_offsets: [0] }), [data]), /begin, end/],
    ['offsets as strings', assemble(entry({ data_offsets: ['0', '16'] }), [data]), /integers/],
    ['entry not object', assemble('{"a": 3}'), /not an object/],
    ['metadata not strings', assemble('{"__metadata__": {"x": 1}}'), /not a string/],
    ['metadata nested', assemble('{"__metadata__": {"x": {"y": "z"}}}'), /not a string/],
    [
      'overlap',
      assemble(
        '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}',
        [new Uint8Array(6)],
      ),
      /overlap/,
    ],
    ['unterminated string', assemble('{"a'), /unterminated/],
    ['control char in key', assemble('{"a\u0001":1}'), /control/],
    ['bad escape', assemble('{"a\\q":1}'), /escape/],
  ];
  for (const [name, file, msg] of cases) {
    it(`rejects: ${name}`, async () => {
      await expectCode(openSafetensors(bytesSource(file)), 'BAD_CHECKPOINT', msg);
    });
  }

  it('does not let __proto__ names pollute anything', async () => {
    const f = assemble(
      '{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"__metadata__":{"__proto__":"x"}}',
      [new Uint8Array(1)],
    );
    const st = await openSafetensors(bytesSource(f));
    expect(st.tensors.get('__proto__')!.numel).toBe(1);
    expect(Object.getOwnPropertyDescriptor(st.metadata, '__proto__')?.value).toBe('x');
    expect(({} as Record<string, unknown>).dtype).toBeUndefined();
  });
});

describe('safetensors: sources', () => {
  const big = buildSafetensors([
    { name: 'a', dtype: 'F32', shape: [3, 5] },
    { name: 'b', dtype: 'U8', shape: [(17 << 20) + 123] }, // crosses a 16 MiB download block
    { name: 'c', dtype: 'F16', shape: [9] },
  ]);

  /** A fetch mock over `bytes`: honours Range unless `ignoreRange`, streams in `chunk`-byte pieces. */
  function mockFetch(
    bytes: Uint8Array,
    opts: { ignoreRange?: boolean; chunk?: number; status?: number; noTotal?: boolean } = {},
  ) {
    const calls: string[] = [];
    const body = (b: Uint8Array) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          const n = opts.chunk ?? 65536;
          for (let p = 0; p < b.length; p += n) c.enqueue(b.slice(p, p + n));
          c.close();
        },
      });
    const f = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
      init?.signal?.throwIfAborted();
      const range = (init?.headers as Record<string, string> | undefined)?.Range;
      calls.push(`${init?.method ?? 'GET'} ${range ?? ''}`);
      if (opts.status) return new Response('nope', { status: opts.status });
      if (init?.method === 'HEAD')
        return new Response(null, { status: 200, headers: { 'content-length': String(bytes.length) } });
      if (range && !opts.ignoreRange) {
        const m = /bytes=(\d+)-(\d+)/.exec(range)!;
        const a = Number(m[1]);
        const e = Math.min(Number(m[2]), bytes.length - 1);
        return new Response(body(bytes.slice(a, e + 1)), {
          status: 206,
          headers: { 'content-range': `bytes ${a}-${e}/${opts.noTotal ? '*' : bytes.length}` },
        });
      }
      return new Response(body(bytes), { status: 200, headers: { 'content-length': String(bytes.length) } });
    };
    return { fetch: f as typeof fetch, calls };
  }

  async function sameContent(st: Safetensors, ref: Safetensors) {
    expect([...st.tensors.keys()]).toEqual([...ref.tensors.keys()]);
    for (const name of st.tensors.keys()) {
      expect(sameBytes(await st.readRaw(name), await ref.readRaw(name))).toBe(true);
    }
  }

  it('urlSource with Range requests reads tensors by range and reports progress', async () => {
    const { fetch, calls } = mockFetch(big);
    const progress: number[] = [];
    const src = await urlSource('https://example.test/m.safetensors', { fetch, onProgress: (n) => progress.push(n) });
    expect(src.size).toBe(big.length);
    const st = await openSafetensors(src);
    await sameContent(st, await openSafetensors(bytesSource(big)));
    expect(calls[0]).toBe('GET bytes=0-0');
    expect(calls.every((c) => c.includes('bytes='))).toBe(true);
    expect(progress.at(-1)).toBeGreaterThan(17 << 20);
  });

  it('urlSource falls back to HEAD when Content-Range has no total', async () => {
    const { fetch, calls } = mockFetch(big, { noTotal: true });
    const src = await urlSource('https://example.test/m', { fetch });
    expect(src.size).toBe(big.length);
    expect(calls).toContain('HEAD ');
  });

  it('urlSource reads a server that ignores Range front to back from its one response', async () => {
    const { fetch, calls } = mockFetch(big, { ignoreRange: true, chunk: 100_003 });
    let last = 0;
    const src = await urlSource('https://example.test/m', {
      fetch,
      onProgress: (n, t) => ((last = n), expect(t).toBe(big.length)),
    });
    const st = await openSafetensors(src);
    await sameContent(st, await openSafetensors(bytesSource(big)));
    expect(last).toBe(big.length);
    expect(calls.length).toBe(1);
    // Bytes already passed and not kept: a typed error, not a second download.
    await expectCode(src.read((16 << 20) - 10, 20), 'IO_ERROR', /ignores Range/);
    expect(calls.length).toBe(1);
  });

  it('urlSource maps HTTP errors, network errors and aborts to typed errors', async () => {
    await expectCode(
      urlSource('https://example.test/m', { fetch: mockFetch(big, { status: 404 }).fetch }),
      'IO_ERROR',
      /404/,
    );
    const failing = (async () => {
      throw new TypeError('network down');
    }) as unknown as typeof fetch;
    await expectCode(urlSource('https://example.test/m', { fetch: failing }), 'IO_ERROR', /network down/);
    const ac = new AbortController();
    ac.abort();
    await expectCode(
      urlSource('https://example.test/m', { fetch: mockFetch(big).fetch, signal: ac.signal }),
      'ABORTED',
    );
  });

  it('blobSource reads by slice', async () => {
    const st = await openSafetensors(blobSource(new Blob([big])));
    await sameContent(st, await openSafetensors(bytesSource(big)));
  });

  it('fileSource reads by range and reports missing files as IO_ERROR', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hess-st-'));
    try {
      const p = join(dir, 'x.safetensors');
      await writeFile(p, big);
      const src = await fileSource(p);
      const st = await openSafetensors(src);
      await sameContent(st, await openSafetensors(bytesSource(big)));
      await st.close();
      await expectCode(src.read(0, 8), 'DISPOSED');
      await expectCode(fileSource(join(dir, 'missing.safetensors')), 'IO_ERROR', /cannot open/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('sources reject out-of-range reads with INVALID_ARGUMENT', async () => {
    const srcs: ByteSource[] = [bytesSource(big), blobSource(new Blob([big]))];
    for (const s of srcs) {
      await expectCode(s.read(big.length - 2, 4), 'INVALID_ARGUMENT');
      await expectCode(s.read(-1, 1), 'INVALID_ARGUMENT');
    }
  });
});

describe('safetensors: vggt-tiny fixture', () => {
  it('reads model.safetensors with fileSource and bytesSource identically', async () => {
    const { readFile } = await import('node:fs/promises');
    const bytes = new Uint8Array(await readFile(MODEL));
    const src = await fileSource(MODEL);
    const st = await openSafetensors(src);
    const ref = await openSafetensors(bytesSource(bytes));
    try {
      expect(st.tensors.size).toBe(1095);
      expect(st.metadata).toEqual({});
      expect([...st.tensors.values()].every((t) => t.dtype === 'F32')).toBe(true);
      const shape = (n: string) => st.tensors.get(n)?.shape;
      expect(shape('aggregator.frame_blocks.0.attn.qkv.weight')).toEqual([192, 64]);
      expect(shape('aggregator.frame_blocks.23.attn.q_norm.weight')).toEqual([16]);
      expect(shape('aggregator.patch_embed.pos_embed')).toEqual([1, 1370, 64]);
      expect(shape('aggregator.patch_embed.patch_embed.proj.weight')).toEqual([64, 3, 14, 14]);
      expect(shape('aggregator.register_token')).toEqual([1, 2, 4, 64]);
      expect(shape('camera_head.trunk.3.attn.qkv.weight')).toEqual([384, 128]);
      expect(shape('depth_head.scratch.output_conv2.2.weight')).toEqual([2, 32, 1, 1]);
      expect(shape('point_head.scratch.output_conv2.2.weight')).toEqual([4, 32, 1, 1]);
      expect(
        [...st.tensors.keys()].filter((k) => /^aggregator\.frame_blocks\.\d+\.attn\.qkv\.weight$/.test(k)).length,
      ).toBe(24);
      let params = 0;
      for (const t of st.tensors.values()) params += t.numel;
      expect(params).toBe(4_013_240); // config.json param_count
      // the data section is exactly covered (8 + header + data = file size)
      const end = Math.max(...[...st.tensors.values()].map((t) => t.byteOffset + t.byteLength));
      expect(end).toBe(bytes.length);
      for (const name of st.tensors.keys()) {
        const a = await st.read(name);
        const b = await ref.read(name);
        expect(a.length).toBe(st.tensors.get(name)!.numel);
        expect(sameBytes(a, b)).toBe(true);
      }
      const q = await st.read('aggregator.frame_blocks.0.attn.qkv.weight');
      expect(q.every(Number.isFinite)).toBe(true);
    } finally {
      await st.close();
    }
  });

  it('reads io.safetensors (F64 → F32)', async () => {
    const src = await fileSource(IO);
    const st = await openSafetensors(src);
    try {
      expect(st.tensors.size).toBe(11);
      expect(st.tensors.get('images')).toMatchObject({ dtype: 'F64', shape: [3, 3, 70, 98] });
      expect(st.tensors.get('pose_enc')!.shape).toEqual([3, 9]);
      expect(st.tensors.get('depth')!.shape).toEqual([3, 70, 98, 1]);
      expect(st.tensors.get('aggregated.23')!.shape).toEqual([3, 40, 128]);
      const img = await st.read('images');
      expect(img.length).toBe(3 * 3 * 70 * 98);
      expect(Math.min(...img)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...img)).toBeLessThanOrEqual(1);
      const raw = await st.readRaw('pose_enc');
      const f64 = new Float64Array(raw.slice().buffer);
      expect([...(await st.read('pose_enc'))]).toEqual([...f64].map(Math.fround));
    } finally {
      await st.close();
    }
  });
});
