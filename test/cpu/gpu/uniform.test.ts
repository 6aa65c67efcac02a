// Uniform structs packed by field name from the shaders' own declarations (src/gpu/uniform.ts). Host code only.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { uniformStruct } from '../../../src/gpu/uniform.js';
import { freshSeed, rng } from '../../helpers/random.js';

const shader = (name: string) => readFileSync(new URL(`../../../shaders/${name}.wgsl`, import.meta.url), 'utf8');

describe('uniformStruct', () => {
  it('lays out scalars and vectors with WGSL alignment (vec3 aligns to 16, is 12 bytes)', () => {
    const s = uniformStruct(
      `struct S {\n  a: u32, // a comment, with a comma\n  b: vec3<f32>,\n  c: f32,\n  d: vec2<i32>,\n  e: vec4f,\n}`,
      'S',
    );
    expect(s.fields.map((f) => [f.name, f.offset])).toEqual([
      ['a', 0],
      ['b', 16],
      ['c', 28],
      ['d', 32],
      ['e', 48],
    ]);
    expect(s.size).toBe(64);
    const bytes = s.pack({ a: 7, b: [0.5, -1, 3], c: 2.25, d: [-3, 4], e: [1, 2, 3, 4] });
    const dv = new DataView(bytes.buffer);
    expect(dv.getUint32(0, true)).toBe(7);
    expect([dv.getFloat32(16, true), dv.getFloat32(20, true), dv.getFloat32(24, true)]).toEqual([0.5, -1, 3]);
    expect(dv.getFloat32(28, true)).toBe(2.25);
    expect([dv.getInt32(32, true), dv.getInt32(36, true)]).toEqual([-3, 4]);
    expect([12, 40, 44].map((o) => dv.getUint32(o, true))).toEqual([0, 0, 0]); // padding stays zero
    expect(uniformStruct('struct T { x: f32 }', 'T').size).toBe(16); // a uniform binding is a multiple of 16 bytes
  });

  it('packs the attention Params exactly as the positional words it replaces (fresh random values)', () => {
    const P = uniformStruct(shader('attention_flash'), 'Params');
    const rand = rng(freshSeed('uniform attention params'));
    for (let i = 0; i < 200; i++) {
      const w = Array.from({ length: 6 }, () => Math.floor(rand() * 2 ** 32));
      const scale = Math.fround((rand() + 0.01) * 2);
      const words = new Uint32Array([...w, new Uint32Array(new Float32Array([scale]).buffer)[0], 0]);
      const packed = P.pack({ n: w[0], h: w[1], qBlock: w[2], kBlock: w[3], nQB: w[4], subPerQB: w[5], scale });
      expect(new Uint32Array(packed.buffer)).toEqual(words);
    }
  });

  it('refuses missing, unknown, out-of-range and mistyped fields', () => {
    const s = uniformStruct('struct S { a: u32, b: i32, c: vec2u, _pad: u32 }', 'S');
    expect(Array.from(new Uint32Array(s.pack({ a: 1, b: -1, c: [2, 3] }).buffer))).toEqual([
      1,
      2 ** 32 - 1,
      2,
      3,
      0,
      0,
      0,
      0,
    ]); // `_` fields are padding
    expect(() => s.pack({ a: 1, c: [2, 3] })).toThrow(/b is missing/);
    expect(() => s.pack({ a: 1, b: 0, c: [2, 3], z: 1 })).toThrow(/no field z/);
    expect(() => s.pack({ a: -1, b: 0, c: [2, 3] })).toThrow(/not a u32/);
    expect(() => s.pack({ a: 1.5, b: 0, c: [2, 3] })).toThrow(/not a u32/);
    expect(() => s.pack({ a: 2 ** 32, b: 0, c: [2, 3] })).toThrow(/not a u32/);
    expect(() => s.pack({ a: 1, b: 2 ** 31, c: [2, 3] })).toThrow(/not a i32/);
    expect(() => s.pack({ a: 1, b: 0, c: [2] })).toThrow(/takes 2/);
    expect(() => uniformStruct('struct S { m: mat2x2<f32> }', 'S')).toThrow(/only u32/);
    expect(() => uniformStruct('struct S { a: u32 }', 'Q')).toThrow(/no struct Q/);
  });

  it('reads the Params of every shader', () => {
    const sizes = Object.fromEntries(
      ['attention_flash', 'gather_rows', 'mask_pool', 'mask_topk', 'matmul'].map((n) => [
        n,
        uniformStruct(shader(n), 'Params').size,
      ]),
    );
    expect(sizes).toEqual({ attention_flash: 32, gather_rows: 16, mask_pool: 48, mask_topk: 32, matmul: 16 });
  });
});
