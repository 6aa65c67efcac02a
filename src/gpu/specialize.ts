// How our shaders are parameterised, one way. Numbers are WGSL `override` constants, set per pipeline through
// `GPUComputePipelineDescriptor.compute.constants` (getPipeline's `constants`), each named once on the TS side in a
// table the host also uses for its own arithmetic (dispatch sizes, limits): workgroup sizes and the sizes of
// workgroup arrays may be override-expressions. Text is rewritten only where WGSL has no override:
//   - the element type of storage arrays (`alias T = f16;`): a type cannot be overridden;
//   - `enable f16;`: a directive, which must come before any declaration;
//   - the length of function-scope arrays (`const D: u32 = 64u;` sizing `var acc: array<vec4f, D / 4u>`): an
//     override-sized array may only live in workgroup memory (Dawn: "override-sized arrays can only be used in the
//     <workgroup> address space").
// Those rewrites replace a declaration found by its name, so a renamed declaration fails loudly here instead of
// silently compiling the default.

/** What {@link specializeWgsl} rewrites. */
export interface WgslSpecialization {
  /** Prepend `enable f16;` (the device needs shader-f16). */
  f16?: boolean;
  /** `alias NAME = …;` declarations to replace: name → type. */
  aliases?: Readonly<Record<string, string>>;
  /** `const NAME: u32 = …;` declarations to replace: name → value. */
  consts?: Readonly<Record<string, number>>;
}

function replaceDeclaration(source: string, re: RegExp, line: string, what: string): string {
  const hits = source.match(new RegExp(re.source, 'gm'))?.length ?? 0;
  if (hits !== 1) throw new Error(`WGSL: expected one declaration of ${what}, found ${hits}`);
  return source.replace(re, line);
}

/**
 * The variant of a WGSL source for types and function-array sizes that overrides cannot set (see above).
 *
 * @example
 * const code = specializeWgsl(flashWgsl, { f16: true, aliases: { T4: 'vec4<f16>' }, consts: { D: 64 } });
 */
export function specializeWgsl(source: string, spec: WgslSpecialization): string {
  let s = source;
  for (const [name, type] of Object.entries(spec.aliases ?? {})) {
    s = replaceDeclaration(s, new RegExp(`^alias ${name} = [^;]*;`, 'm'), `alias ${name} = ${type};`, `alias ${name}`);
  }
  for (const [name, value] of Object.entries(spec.consts ?? {})) {
    if (!Number.isInteger(value) || value < 0 || value > 2 ** 32 - 1)
      throw new Error(`WGSL: const ${name} = ${value} is not a u32`);
    s = replaceDeclaration(
      s,
      new RegExp(`^const ${name}: u32 = [^;]*;`, 'm'),
      `const ${name}: u32 = ${value}u;`,
      `const ${name}: u32`,
    );
  }
  return spec.f16 ? `enable f16;\n${s}` : s;
}
