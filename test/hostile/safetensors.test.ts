// Hostile safetensors files through the built package: openSafetensors(bytesSource(...)) and reading every tensor
// must either give exactly the bytes the header points at, or fail with a HessError.
import { describe, expect, it } from 'vitest';
import { BUILT, Tally, report, loadSdk, must, sameBytes } from './cases.js';

const DTYPES = [
  'F64',
  'F32',
  'F16',
  'BF16',
  'I64',
  'I32',
  'I16',
  'I8',
  'U64',
  'U32',
  'U16',
  'U8',
  'BOOL',
  'F8_E4M3',
  'F8_E5M2',
];
const SIZE: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};
const WEIRD: unknown[] = [
  -1,
  0,
  1,
  1.5,
  -0.5,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 64,
  1e308,
  Number.MAX_SAFE_INTEGER,
  '1',
  '',
  null,
  true,
  [],
  {},
  [1, 2],
  [[1]],
  { a: 1 },
  'F32',
  '__proto__',
];

function fileOf(headerText: string | Uint8Array, data: Uint8Array, declared?: bigint): Uint8Array {
  const h = typeof headerText === 'string' ? new TextEncoder().encode(headerText) : headerText;
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** What a file should read as, by an independent parse: tensors (name → raw bytes) or null when it is invalid. */
function oracle(bytes: Uint8Array): Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }> | null {
  if (bytes.length < 8) return null;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > bytes.length - 8) return null;
  let h: unknown;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch {
    return null;
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return null;
  const data = bytes.subarray(8 + n);
  const out = new Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>();
  for (const [name, e] of Object.entries(h as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const t = e as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (
      typeof t !== 'object' ||
      t === null ||
      typeof t.dtype !== 'string' ||
      !(t.dtype in SIZE) ||
      !Array.isArray(t.shape) ||
      !Array.isArray(t.data_offsets)
    )
      return null;
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return null;
    const [a, b] = t.data_offsets as number[];
    if (
      t.data_offsets.length !== 2 ||
      !Number.isSafeInteger(a) ||
      !Number.isSafeInteger(b) ||
      a < 0 ||
      b < a ||
      b > data.length
    )
      return null;
    const numel = (t.shape as number[]).reduce((x, y) => x * y, 1);
    if (numel * SIZE[t.dtype] !== b - a) return null;
    out.set(name, { dtype: t.dtype, shape: t.shape as number[], bytes: data.subarray(a, b) });
  }
  return out;
}

describe.skipIf(!BUILT)('hostile safetensors headers (built package)', () => {
  it('thousands of mutated headers: the exact tensors or a HessError, within bounds', async () => {
    const sdk = await loadSdk();
    const t = new Tally('safetensors', sdk.HessError as never);
    for (let i = 0; i < 2500; i++) {
      // A fresh valid file: 1–5 tensors of random dtypes and small shapes, contiguous.
      const k = 1 + t.int(5);
      const header: Record<string, Record<string, unknown>> = {};
      const chunks: Uint8Array[] = [];
      let off = 0;
      for (let j = 0; j < k; j++) {
        const dtype = t.pick(DTYPES);
        const shape = Array.from({ length: t.int(4) }, () => t.int(5));
        const n = shape.reduce((a, b) => a * b, 1) * SIZE[dtype];
        chunks.push(Uint8Array.from({ length: n }, () => t.int(256)));
        header[`t${j}.${t.int(1000)}`] = { dtype, shape, data_offsets: [off, off + n] };
        off += n;
      }
      if (t.rand() < 0.3) (header as Record<string, unknown>).__metadata__ = { format: 'pt' };
      const data = new Uint8Array(off);
      chunks.reduce((o, c) => (data.set(c, o), o + c.length), 0);
      const names = Object.keys(header).filter((x) => x !== '__metadata__');
      const e = header[t.pick(names)];
      let text: string | undefined;
      let declared: bigint | undefined;
      let file: Uint8Array | undefined;
      const kind = t.int(11);
      switch (kind) {
        case 0:
          e.dtype = t.pick([...WEIRD, 'F128', 'f32', 'F32 ', 'I4']);
          break;
        case 1:
          e.shape = t.pick([
            [2 ** 40, 2 ** 40],
            [2 ** 26, 2 ** 26, 2 ** 26],
            [-1],
            [1.5],
            ['3'],
            null,
            5,
            Array(100).fill(1),
            [t.pick(WEIRD)],
            [1e308],
          ]);
          break;
        case 2:
          e.data_offsets = t.pick([
            [t.pick(WEIRD), t.pick(WEIRD)],
            [0],
            [0, 1, 2],
            null,
            [off, off + 4],
            [4, 0],
            [0, off + 1],
            [-4, 0],
            ['0', '4'],
            [0, 2 ** 53 + 2],
          ]);
          break;
        case 3:
          (header as Record<string, unknown>)[t.pick(['__proto__', 'constructor', '__metadata__', 'toString', ''])] =
            t.pick([{ dtype: 'F32', shape: [1], data_offsets: [0, 4] }, { a: 1 }, 'x', 1, null, {}]);
          break;
        case 4:
          declared = t.pick([0n, 1n, 7n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 53n + 1n, 100_000_001n, BigInt(t.int(300))]);
          break;
        case 5:
          text = t.pick([
            '[]',
            '"x"',
            '1',
            'null',
            '{',
            '{"a":',
            '['.repeat(10000),
            '{"a":'.repeat(5000),
            '{}'.padEnd(50, '\0'),
            '\uFEFF{}',
            '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
          ]);
          break;
        default:
          break; // byte-level below, or valid
      }
      text ??= JSON.stringify(header) + (t.rand() < 0.2 ? ' '.repeat(t.int(9)) : '');
      file = fileOf(text, data, declared);
      if (kind === 6) for (let f = 1 + t.int(4); f > 0; f--) file[8 + t.int(file.length - 8)] ^= 1 << t.int(8); // header/data bit flips
      if (kind === 7) file = file.subarray(0, t.int(file.length)); // truncation
      if (kind === 8) {
        const h = new TextEncoder().encode(text);
        h[t.int(h.length)] = t.int(256);
        file = fileOf(h, data, declared);
      } // raw byte in the JSON
      const bytes = file;
      const expected = oracle(bytes);
      await t.run(`kind ${kind}`, async () => {
        const st = await sdk.openSafetensors(sdk.bytesSource(bytes));
        // Accepted: it must be what an independent parse of the same bytes says, tensor by tensor.
        must(expected, 'accepted a file an independent parse rejects');
        must(st.tensors.size === expected.size, `tensor count ${st.tensors.size} vs ${expected.size}`);
        for (const [name, info] of st.tensors) {
          const want = expected.get(name);
          must(
            want && info.dtype === want.dtype && JSON.stringify(info.shape) === JSON.stringify(want.shape),
            `${name}: header fields`,
          );
          must(sameBytes(await st.readRaw(name), want.bytes), `${name}: bytes`);
        }
      });
    }
    report(t);
    expect(t.failures, t.failures.slice(0, 10).join('\n')).toEqual([]);
    expect(t.cases).toBe(2500);
  });
});
