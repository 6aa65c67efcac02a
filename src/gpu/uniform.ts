// Uniform structs packed by field name from the shader's own declaration: `uniformStruct(wgsl, 'Params')` reads the
// flat `struct Params { … }` of a WGSL source (scalars and vectors of u32/i32/f32), lays it out with WGSL's alignment
// rules (https://www.w3.org/TR/WGSL/#alignment-and-size) and packs `{ field: value }` objects into its bytes. The
// field list lives in the shader only, so host and shader cannot drift apart: a missing, unknown or mistyped field
// throws instead of shifting every later field by one word.
import { check } from '../errors.js';
import { BufferUsage } from './buffers.js';

/** Element type of a uniform field. */
type Scalar = 'u32' | 'i32' | 'f32';

/** One field of a parsed struct, at its byte offset. */
export interface UniformField {
  readonly name: string;
  readonly scalar: Scalar;
  /** Components: 1 for a scalar, 2–4 for `vecN`. */
  readonly count: number;
  readonly offset: number;
}

/** A flat WGSL struct, laid out; `pack` writes one instance. */
export interface UniformStruct {
  readonly name: string;
  readonly fields: readonly UniformField[];
  /** Bytes of one instance, rounded up to 16 (a uniform binding's size; WGSL's struct size rounds to its alignment). */
  readonly size: number;
  /**
   * Pack `values` (every field by name, numbers for scalars and arrays for vectors) into `size` bytes. Fields whose
   * names start with `_` are padding: they may be left out and are written as 0.
   */
  pack(values: Readonly<Record<string, number | readonly number[]>>): Uint8Array<ArrayBuffer>;
}

// WGSL alignment and size of scalars and vectors: vec2 aligns to 8, vec3 and vec4 to 16 (vec3 is 12 bytes).
const ALIGN = [0, 4, 8, 16, 16];
const TYPE = /^(?:(u32|i32|f32)|vec([234])<(u32|i32|f32)>|vec([234])([uif]))$/;

/**
 * Parse `struct <name> { … }` in `wgsl` and lay it out. Only flat structs of u32/i32/f32 scalars and vectors (what
 * our uniforms hold); anything else throws.
 *
 * @example
 * const Params = uniformStruct('struct Params { n: u32, scale: f32, }', 'Params');
 * const bytes = Params.pack({ n: 300, scale: 0.125 }); // 16 bytes
 */
export function uniformStruct(wgsl: string, name: string): UniformStruct {
  const m = new RegExp(`\\bstruct\\s+${name}\\s*\\{([^}]*)\\}`).exec(wgsl);
  check(m !== null, `WGSL has no struct ${name}`);
  const body = m[1].replace(/\/\/[^\n]*/g, '');
  const fields: UniformField[] = [];
  let offset = 0;
  let structAlign = 4;
  for (const decl of body
    .split(/[,;]/)
    .map((s) => s.trim())
    .filter(Boolean)) {
    const f = /^(\w+)\s*:\s*([\w<>]+)$/.exec(decl.replace(/\s+/g, ' ').replace(/\s*([<>])\s*/g, '$1'));
    check(f !== null, `struct ${name}: cannot read field "${decl}"`);
    const t = TYPE.exec(f[2]);
    check(
      t !== null,
      `struct ${name}: field ${f[1]} has type ${f[2]}; only u32/i32/f32 scalars and vectors are packed`,
    );
    const count = t[1] ? 1 : Number(t[2] ?? t[4]);
    const scalar = (t[1] ?? t[3] ?? { u: 'u32', i: 'i32', f: 'f32' }[t[5] as 'u' | 'i' | 'f']) as Scalar;
    const align = ALIGN[count];
    offset = Math.ceil(offset / align) * align;
    fields.push({ name: f[1], scalar, count, offset });
    offset += 4 * count;
    structAlign = Math.max(structAlign, align);
  }
  check(fields.length > 0, `struct ${name} has no fields`);
  check(new Set(fields.map((f) => f.name)).size === fields.length, `struct ${name} repeats a field name`);
  const size = Math.ceil((Math.ceil(offset / structAlign) * structAlign) / 16) * 16;
  const byName = new Map(fields.map((f) => [f.name, f]));
  return {
    name,
    fields,
    size,
    pack(values) {
      for (const k of Object.keys(values)) check(byName.has(k), `struct ${name} has no field ${k}`);
      const out = new Uint8Array(size);
      const dv = new DataView(out.buffer);
      for (const f of fields) {
        const v = values[f.name] ?? (f.name.startsWith('_') ? 0 : undefined);
        check(v !== undefined, `struct ${name}: field ${f.name} is missing`);
        const comps = typeof v === 'number' ? [v] : v;
        check(
          comps.length === f.count,
          `struct ${name}: field ${f.name} takes ${f.count} value(s), got ${comps.length}`,
        );
        comps.forEach((x, i) => {
          const o = f.offset + 4 * i;
          if (f.scalar === 'f32') dv.setFloat32(o, x, true);
          else {
            const [lo, hi] = f.scalar === 'u32' ? [0, 2 ** 32 - 1] : [-(2 ** 31), 2 ** 31 - 1];
            check(
              Number.isInteger(x) && x >= lo && x <= hi,
              `struct ${name}: field ${f.name} = ${x} is not a ${f.scalar}`,
            );
            if (f.scalar === 'u32') dv.setUint32(o, x, true);
            else dv.setInt32(o, x, true);
          }
        });
      }
      return out;
    },
  };
}

/**
 * A uniform buffer holding one packed instance of `struct`.
 *
 * @example
 * const p = createUniform(device, MatmulParams, { M, N, K });
 */
export function createUniform(
  device: GPUDevice,
  struct: UniformStruct,
  values: Readonly<Record<string, number | readonly number[]>>,
  label?: string,
): GPUBuffer {
  const data = struct.pack(values);
  const buf = device.createBuffer({
    size: data.byteLength,
    usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    label: label ?? struct.name,
  });
  device.queue.writeBuffer(buf, 0, data);
  return buf;
}
