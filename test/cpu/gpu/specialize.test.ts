// The text specialisation kept for what WGSL overrides cannot set (src/gpu/specialize.ts). Host code only.
import { describe, expect, it } from 'vitest';
import { specializeWgsl } from '../../../src/gpu/specialize.js';

describe('specializeWgsl', () => {
  const src =
    'alias T4 = vec4<f32>; // storage type\nconst D: u32 = 64u;\nconst D4: u32 = D / 4u;\noverride BQ: u32;\n';

  it('replaces declarations by name and prepends enable f16', () => {
    const s = specializeWgsl(src, { f16: true, aliases: { T4: 'vec4<f16>' }, consts: { D: 16 } });
    expect(s).toBe(
      'enable f16;\nalias T4 = vec4<f16>; // storage type\nconst D: u32 = 16u;\nconst D4: u32 = D / 4u;\noverride BQ: u32;\n',
    );
    expect(specializeWgsl(src, {})).toBe(src);
  });

  it('fails loudly on a missing declaration or a non-u32 value', () => {
    expect(() => specializeWgsl(src, { consts: { BQ: 64 } })).toThrow(/one declaration of const BQ/);
    expect(() => specializeWgsl(src, { aliases: { T: 'f16' } })).toThrow(/alias T\b/);
    expect(() => specializeWgsl(src, { consts: { D: -1 } })).toThrow(/not a u32/);
  });
});
