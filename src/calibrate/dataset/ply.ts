/**
 * Minimal PLY point reader: `format ascii 1.0` and `format binary_little_endian 1.0`, returning the x, y, z
 * properties of the `vertex` element as float32. Other elements and properties (including list properties,
 * e.g. faces) are skipped. Pure; runs anywhere.
 */

/** Thrown by {@link parsePlyPoints} with a human-readable reason; the dataset reader wraps it as BAD_DATASET. */
export class PlyError extends Error {
  override readonly name = 'PlyError';
}

type ScalarType = 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'f32' | 'f64';

const TYPES: Record<string, ScalarType> = {
  char: 'i8',
  int8: 'i8',
  uchar: 'u8',
  uint8: 'u8',
  short: 'i16',
  int16: 'i16',
  ushort: 'u16',
  uint16: 'u16',
  int: 'i32',
  int32: 'i32',
  uint: 'u32',
  uint32: 'u32',
  float: 'f32',
  float32: 'f32',
  double: 'f64',
  float64: 'f64',
};
const SIZE: Record<ScalarType, number> = { i8: 1, u8: 1, i16: 2, u16: 2, i32: 4, u32: 4, f32: 4, f64: 8 };

interface Property {
  name: string;
  type: ScalarType;
  /** Count type for list properties. */
  list?: ScalarType;
}

interface Element {
  name: string;
  count: number;
  props: Property[];
}

function scalar(name: string | undefined): ScalarType {
  const t = name === undefined ? undefined : TYPES[name];
  if (!t) throw new PlyError(`unknown PLY property type "${name}"`);
  return t;
}

function read(view: DataView, off: number, t: ScalarType): number {
  switch (t) {
    case 'i8':
      return view.getInt8(off);
    case 'u8':
      return view.getUint8(off);
    case 'i16':
      return view.getInt16(off, true);
    case 'u16':
      return view.getUint16(off, true);
    case 'i32':
      return view.getInt32(off, true);
    case 'u32':
      return view.getUint32(off, true);
    case 'f32':
      return view.getFloat32(off, true);
    case 'f64':
      return view.getFloat64(off, true);
  }
}

/** Byte offset just past the `end_header` line. */
function headerEnd(bytes: Uint8Array): number {
  const marker = 'end_header';
  const limit = Math.min(bytes.length, 1 << 20);
  outer: for (let i = 0; i + marker.length <= limit; i++) {
    for (let k = 0; k < marker.length; k++) if (bytes[i + k] !== marker.charCodeAt(k)) continue outer;
    let j = i + marker.length;
    while (j < bytes.length && bytes[j] === 0x20) j++;
    if (bytes[j] === 0x0d) j++;
    if (bytes[j] !== 0x0a) throw new PlyError('malformed end_header line');
    return j + 1;
  }
  throw new PlyError('no end_header found (not a PLY file?)');
}

/**
 * Parse a PLY file's vertex positions as flat float32 xyz. Throws {@link PlyError} on anything unsupported
 * or malformed (big-endian files, missing x/y/z, truncated data, non-numeric values).
 *
 * @example
 * const xyz = parsePlyPoints(await fs.readFile('points.ply'));
 */
export function parsePlyPoints(bytes: Uint8Array): Float32Array {
  const end = headerEnd(bytes);
  const header = new TextDecoder('utf-8').decode(bytes.subarray(0, end));
  const lines = header
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (lines[0] !== 'ply') throw new PlyError('missing "ply" magic line');
  let format = '';
  const elements: Element[] = [];
  for (const line of lines.slice(1)) {
    const tok = line.split(/\s+/);
    if (tok[0] === 'format') {
      format = tok[1] ?? '';
      if (tok[2] !== '1.0') throw new PlyError(`unsupported PLY version ${tok[2]}`);
    } else if (tok[0] === 'element') {
      const count = Number(tok[2]);
      if (!Number.isInteger(count) || count < 0) throw new PlyError(`bad element count in "${line}"`);
      elements.push({ name: tok[1] ?? '', count, props: [] });
    } else if (tok[0] === 'property') {
      const el = elements[elements.length - 1];
      if (!el) throw new PlyError('property before any element');
      if (tok[1] === 'list') el.props.push({ name: tok[4] ?? '', list: scalar(tok[2]), type: scalar(tok[3]) });
      else el.props.push({ name: tok[2] ?? '', type: scalar(tok[1]) });
    } else if (tok[0] === 'comment' || tok[0] === 'obj_info' || tok[0] === 'end_header') {
    } else {
      throw new PlyError(`unexpected PLY header line "${line}"`);
    }
  }
  if (format !== 'ascii' && format !== 'binary_little_endian') {
    throw new PlyError(`unsupported PLY format "${format}" (use ascii or binary_little_endian)`);
  }
  const vi = elements.findIndex((e) => e.name === 'vertex');
  if (vi < 0) throw new PlyError('no vertex element');
  const vertex = elements[vi];
  const axes = ['x', 'y', 'z'].map((n) => vertex.props.findIndex((p) => p.name === n));
  if (axes.some((a) => a < 0)) throw new PlyError('vertex element lacks x, y or z');
  for (const a of axes) {
    const p = vertex.props[a];
    if (p.list || (p.type !== 'f32' && p.type !== 'f64'))
      throw new PlyError('x, y, z must be float or double properties');
  }
  const out = new Float32Array(3 * vertex.count);
  return format === 'ascii'
    ? readAscii(bytes.subarray(end), elements, vi, axes, out)
    : readBinary(bytes.subarray(end), elements, vi, axes, out);
}

function readAscii(body: Uint8Array, elements: Element[], vi: number, axes: number[], out: Float32Array): Float32Array {
  const tokens = new TextDecoder('utf-8')
    .decode(body)
    .split(/\s+/)
    .filter((t) => t.length > 0);
  let k = 0;
  const next = (): number => {
    if (k >= tokens.length) throw new PlyError('PLY data ended early');
    const t = tokens[k++];
    const v = Number(t);
    if (!Number.isNaN(v)) return v;
    // Keep nan/inf spellings as values so that validation can report them as such.
    if (/^[+-]?nan$/i.test(t)) return NaN;
    if (/^[+-]?inf(inity)?$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
    throw new PlyError(`non-numeric PLY value "${t}"`);
  };
  for (let e = 0; e <= vi; e++) {
    const el = elements[e];
    const row = new Float64Array(el.props.length);
    for (let i = 0; i < el.count; i++) {
      el.props.forEach((p, pi) => {
        if (p.list) {
          const n = next();
          for (let j = 0; j < n; j++) next();
        } else row[pi] = next();
      });
      if (e === vi) for (let a = 0; a < 3; a++) out[3 * i + a] = row[axes[a]];
    }
  }
  return out;
}

function readBinary(
  body: Uint8Array,
  elements: Element[],
  vi: number,
  axes: number[],
  out: Float32Array,
): Float32Array {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let off = 0;
  const need = (n: number) => {
    if (off + n > body.byteLength) throw new PlyError('PLY data ended early (truncated file)');
  };
  for (let e = 0; e <= vi; e++) {
    const el = elements[e];
    const fixed = el.props.every((p) => !p.list);
    if (fixed && e < vi) {
      const stride = el.props.reduce((s, p) => s + SIZE[p.type], 0);
      need(stride * el.count);
      off += stride * el.count;
      continue;
    }
    const offsets = new Array<number>(el.props.length).fill(0);
    for (let i = 0; i < el.count; i++) {
      el.props.forEach((p, pi) => {
        if (p.list) {
          need(SIZE[p.list]);
          const n = read(view, off, p.list);
          off += SIZE[p.list];
          need(n * SIZE[p.type]);
          off += n * SIZE[p.type];
        } else {
          need(SIZE[p.type]);
          offsets[pi] = off;
          off += SIZE[p.type];
        }
      });
      if (e === vi) {
        for (let a = 0; a < 3; a++) out[3 * i + a] = read(view, offsets[axes[a]], el.props[axes[a]].type);
      }
    }
  }
  return out;
}

/**
 * Encode flat xyz as a `binary_little_endian` PLY with float x, y, z (handy for fixtures and exports).
 * @example const bytes = encodePlyPoints(xyz);
 */
export function encodePlyPoints(
  xyz: ArrayLike<number>,
  format: 'ascii' | 'binary_little_endian' = 'binary_little_endian',
): Uint8Array {
  const n = Math.floor(xyz.length / 3);
  const header = `ply\nformat ${format} 1.0\nelement vertex ${n}\nproperty float x\nproperty float y\nproperty float z\nend_header\n`;
  const head = new TextEncoder().encode(header);
  if (format === 'ascii') {
    const f = Float32Array.from(xyz);
    const rows: string[] = [];
    for (let i = 0; i < n; i++) rows.push(`${f[3 * i]} ${f[3 * i + 1]} ${f[3 * i + 2]}`);
    const body = new TextEncoder().encode(rows.join('\n') + '\n');
    const out = new Uint8Array(head.length + body.length);
    out.set(head);
    out.set(body, head.length);
    return out;
  }
  const out = new Uint8Array(head.length + 12 * n);
  out.set(head);
  const view = new DataView(out.buffer, head.length);
  for (let i = 0; i < 3 * n; i++) view.setFloat32(4 * i, xyz[i], true);
  return out;
}
