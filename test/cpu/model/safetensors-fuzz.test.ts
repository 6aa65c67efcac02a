/**
 * Fuzz the safetensors header parser: thousands of mutated files built from a valid one must either parse
 * (and then satisfy every invariant and read cleanly) or fail with HessError('BAD_CHECKPOINT'). Any other
 * exception (RangeError, TypeError, stack overflow, ...) fails the test. Deterministic (seeded PRNG).
 */
import { freshSeed, rng } from '../../helpers/random.js';
import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { DTYPE_SIZE } from '../../../src/model/source/safetensors-dtype.js';
import { bytesSource, openSafetensors } from '../../../src/model/source/safetensors.js';
import { assemble, buildSafetensors } from './st-helpers.js';

const rand = rng(freshSeed('safetensors fuzz'));
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];

const BASE = buildSafetensors(
  [
    { name: 'aggregator.camera_token', dtype: 'F32', shape: [1, 2, 1, 8] },
    { name: 'aggregator.frame_blocks.0.attn.qkv.weight', dtype: 'F16', shape: [24, 8] },
    { name: 'bias', dtype: 'BF16', shape: [24] },
    { name: 'pos', dtype: 'F64', shape: [5, 3] },
    { name: 'idx', dtype: 'I64', shape: [4] },
    { name: 'mask', dtype: 'BOOL', shape: [7] },
    { name: 'scalar', dtype: 'F32', shape: [] },
    { name: 'empty', dtype: 'U8', shape: [0] },
  ],
  { format: 'pt' },
);
const HEADER_LEN = Number(new DataView(BASE.buffer).getBigUint64(0, true));
const HEADER_TEXT = new TextDecoder().decode(BASE.subarray(8, 8 + HEADER_LEN));
const DATA = BASE.subarray(8 + HEADER_LEN);
const HEADER_OBJ = JSON.parse(HEADER_TEXT) as Record<string, { dtype: string; shape: unknown; data_offsets: unknown }>;
const NAMES = Object.keys(HEADER_OBJ).filter((k) => k !== '__metadata__');

const WEIRD_NUMBERS: unknown[] = [
  -1,
  -16,
  0,
  1,
  3.5,
  1e-9,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 64,
  1e308,
  -1e308,
  -0,
  Number.MAX_SAFE_INTEGER,
  '1',
  null,
  true,
  [],
  {},
  [1, 2],
  { a: 1 },
];

/** Replace one field of one entry with something hostile (JSON-level mutation). */
function structural(): Uint8Array {
  const h = structuredClone(HEADER_OBJ) as Record<string, Record<string, unknown>>;
  const name = pick(NAMES);
  const e = h[name];
  switch (int(10)) {
    case 0: // huge / weird shape
      e.shape = pick([
        [2 ** 40, 2 ** 40],
        [2 ** 26, 2 ** 26, 2 ** 26],
        [1e308],
        [-3, 4],
        [int(1000), -int(5)],
        [0.5],
        ['8'],
        Array(100).fill(1),
        7,
        null,
      ]);
      break;
    case 1: // negative / weird offsets
      e.data_offsets = [pick(WEIRD_NUMBERS), pick(WEIRD_NUMBERS)];
      break;
    case 2: {
      // overlapping offsets: move this tensor onto another one's bytes
      const other = h[pick(NAMES)].data_offsets as number[];
      const [a, b] = e.data_offsets as number[];
      const len = b - a;
      const start = Math.max(0, other[0] + int(Math.max(1, other[1] - other[0])) - int(3));
      e.data_offsets = [start, start + len];
      break;
    }
    case 3: // shift offsets slightly
      e.data_offsets = (e.data_offsets as number[]).map((v) => v + pick([-8, -2, -1, 1, 2, 8, DATA.length]));
      break;
    case 4:
      e.dtype = pick(['F128', 'f32', '', 'U4', 'COMPLEX64', 'F32 ', null, 3, 'F8_E4M3', 'U64', 'I8']);
      break;
    case 5: // missing or extra fields
      delete e[pick(['dtype', 'shape', 'data_offsets'])];
      break;
    case 6:
      h[name] = pick(WEIRD_NUMBERS) as Record<string, unknown>;
      break;
    case 7:
      h.__metadata__ = pick([{ a: 1 }, { a: { b: 'c' } }, [], 'x', null, { __proto__: 'y' }, { a: ['b'] }]) as Record<
        string,
        unknown
      >;
      break;
    case 8: // offsets with the wrong arity
      e.data_offsets = pick([[], [0], [0, 1, 2], 'a', null, { 0: 0, 1: 4 }]);
      break;
    default: // shape product inconsistent with the byte count
      e.shape = (e.shape as number[]).length ? (e.shape as number[]).map((d) => d + pick([-1, 1, 2])) : [2];
  }
  const text = JSON.stringify(h);
  // sometimes also claim a bigger data section (so end-offset checks are exercised against a longer file)
  return assemble(text, rand() < 0.3 ? [DATA, new Uint8Array(int(64))] : [DATA]);
}

function byteFlip(): Uint8Array {
  const f = BASE.slice();
  const n = 1 + int(4);
  for (let i = 0; i < n; i++) f[8 + int(HEADER_LEN)] = int(256);
  return f;
}

function lengthLie(): Uint8Array {
  const f = BASE.slice();
  const dv = new DataView(f.buffer);
  const v = pick([
    () => BigInt(HEADER_LEN + 1 + int(20)),
    () => BigInt(Math.max(0, HEADER_LEN - 1 - int(20))),
    () => 0n,
    () => 1n,
    () => BigInt(f.length - 8),
    () => BigInt(f.length - 7),
    () => 100_000_001n,
    () => BigInt(int(2 ** 32)),
    () => (BigInt(int(2 ** 32)) << 32n) | BigInt(int(2 ** 32)),
    () => 0xffffffffffffffffn,
  ])();
  dv.setBigUint64(0, v, true);
  return f;
}

function truncate(): Uint8Array {
  return BASE.slice(0, int(BASE.length + 1));
}

function nonJson(): Uint8Array {
  const header = pick([
    () => Uint8Array.from({ length: 1 + int(200) }, () => int(256)),
    () =>
      new TextEncoder().encode(Array.from({ length: 1 + int(100) }, () => String.fromCharCode(32 + int(95))).join('')),
    () =>
      new TextEncoder().encode(
        pick([
          '[]',
          '"x"',
          '3',
          'null',
          'true',
          '{',
          '}',
          '{"a":}',
          '{,}',
          '{"a":1,}',
          'NaN',
          '{"a":Infinity}',
          '{"a":01}',
          "{'a':1}",
        ]),
      ),
    () => new TextEncoder().encode(HEADER_TEXT.slice(0, int(HEADER_TEXT.length))),
  ])();
  return assemble(header, [DATA]);
}

function deepNesting(): Uint8Array {
  const depth = pick([9, 10, 64, 1000, 100_000, 1 + int(20_000)]);
  const kind = int(3);
  const text =
    kind === 0
      ? '{"a":' + '['.repeat(depth) + ']'.repeat(depth) + '}'
      : kind === 1
        ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
        : '['.repeat(depth); // unbalanced
  return assemble(text, [DATA]);
}

function insertDelete(): Uint8Array {
  const h = Array.from(BASE.subarray(8, 8 + HEADER_LEN));
  const at = int(h.length);
  if (rand() < 0.5) h.splice(at, 1 + int(4));
  else
    h.splice(
      at,
      0,
      ...Array.from({ length: 1 + int(4) }, () =>
        pick([0x22, 0x2c, 0x5b, 0x5d, 0x7b, 0x7d, 0x30, 0x2d, 0x5c, int(256)]),
      ),
    );
  return assemble(Uint8Array.from(h), [DATA]);
}

function badUtf8(): Uint8Array {
  const h = Array.from(BASE.subarray(8, 8 + HEADER_LEN));
  const seq = pick([
    [0xc0, 0xaf],
    [0xed, 0xa0, 0x80],
    [0xf8, 0x88, 0x80, 0x80, 0x80],
    [0xff],
    [0xe2, 0x82],
    [0xef, 0xbb, 0xbf],
    [0xf4, 0x90, 0x80, 0x80],
  ]);
  h.splice(1 + int(h.length - 1), 0, ...seq);
  return assemble(Uint8Array.from(h), [DATA]);
}

function duplicate(): Uint8Array {
  const name = pick(NAMES);
  const entry = JSON.stringify(HEADER_OBJ[name]);
  const text = HEADER_TEXT.replace(/}\s*$/, `,${JSON.stringify(name)}:${entry}}`);
  return assemble(text, [DATA]);
}

const GENERATORS: [string, () => Uint8Array, number][] = [
  ['byteFlip', byteFlip, 300],
  ['lengthLie', lengthLie, 150],
  ['truncate', truncate, 150],
  ['structural', structural, 400],
  ['nonJson', nonJson, 100],
  ['deepNesting', deepNesting, 50],
  ['insertDelete', insertDelete, 100],
  ['badUtf8', badUtf8, 50],
  ['duplicate', duplicate, 20],
];

async function check(file: Uint8Array): Promise<'ok' | 'rejected'> {
  let st;
  try {
    st = await openSafetensors(bytesSource(file));
  } catch (e) {
    if (e instanceof HessError && e.code === 'BAD_CHECKPOINT') return 'rejected';
    throw e;
  }
  // Accepted: every invariant must hold and every tensor must read.
  const spans: [number, number][] = [];
  for (const t of st.tensors.values()) {
    expect(t.byteOffset).toBeGreaterThanOrEqual(8 + st.headerLength);
    expect(t.byteOffset + t.byteLength).toBeLessThanOrEqual(file.length);
    expect(t.byteLength).toBe(t.numel * DTYPE_SIZE[t.dtype]);
    expect(t.shape.reduce((a, b) => a * b, 1)).toBe(t.numel);
    if (t.byteLength) spans.push([t.byteOffset, t.byteOffset + t.byteLength]);
    const f = await st.read(t.name);
    expect(f.length).toBe(t.numel);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
  return 'ok';
}

describe('safetensors header fuzz', () => {
  it('the base file is valid', async () => {
    expect(await check(BASE)).toBe('ok');
  });

  it('≥ 1,000 mutated headers: parse correctly or throw BAD_CHECKPOINT, nothing else', async () => {
    const stats: Record<string, { ok: number; rejected: number }> = {};
    const failures: string[] = [];
    let total = 0;
    for (const [name, gen, n] of GENERATORS) {
      stats[name] = { ok: 0, rejected: 0 };
      for (let i = 0; i < n; i++) {
        const file = gen();
        total++;
        try {
          stats[name][await check(file)]++;
        } catch (e) {
          if (failures.length < 5) {
            const head = new TextDecoder().decode(file.subarray(8, Math.min(file.length, 8 + 300)));
            failures.push(
              `${name}#${i}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} | header: ${head}`,
            );
          } else failures.push(name);
        }
      }
    }
    expect(failures, failures.slice(0, 5).join('\n')).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(1000);
    // every family must actually produce rejections (the generators are not no-ops)
    for (const [name, s] of Object.entries(stats)) expect(s.rejected, name).toBeGreaterThan(0);
  });
});
