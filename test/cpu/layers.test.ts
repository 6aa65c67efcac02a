// One-way layering of src/ (scripts/check-layers.mjs, also `npm run lint:layers`): no file or folder cycles, no
// upward import, bench/ independent of test/. The checker itself is tested on small graphs so it can fail.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without declarations
import { checkLayers, cycles, importsOf, unitOf } from '../../scripts/check-layers.mjs';

describe('layering', () => {
  it('src/ imports point one way', () => {
    expect(checkLayers()).toEqual([]);
  });

  it('finds static, type, re-export and dynamic imports, not commented ones', () => {
    const text = [
      "import { a } from './a';",
      "import type { B } from '../b/b';",
      "export * from './c';",
      "export { d } from './d';",
      "import './side';",
      "const m = await import('./lazy');",
      "import x from 'node:fs';",
      "// import { no } from './commented';",
      "/* import { no2 } from './block'; */",
    ].join('\n');
    expect(importsOf(text)).toEqual(['./a', '../b/b', './c', './d', './side', './lazy']);
  });

  it('finds cycles, including self-loops, and only cycles', () => {
    const g = new Map<string, Set<string>>([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['a'])],
      ['e', new Set(['e'])],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c'], ['e']]);
    expect(
      cycles(
        new Map([
          ['a', new Set(['b'])],
          ['b', new Set()],
        ]),
      ),
    ).toEqual([]);
  });

  it('names a file by its folder under src/', () => {
    expect(unitOf('src/model/vggt/model.ts')).toBe('model');
    expect(unitOf('src/errors.ts')).toBe('errors');
  });
});
