// The public surface is a deliberate diff: each entry's exported names and kinds, regenerated from the build, must
// equal the committed api/<entry>.api.md; the stable entry stays small enough to be a promise.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { available, root } from './harness.js';
// @ts-expect-error: a plain .mjs script without declarations
import { ENTRIES, apiReport, reportPath } from '../../scripts/api-report.mjs';

const built = available(resolve(root, 'dist/node/advanced.js'), 'the build with every entry (npm run build)');
const FIX = 'run `node scripts/api-report.mjs` and commit the diff if the change is deliberate';

describe.runIf(built)('API report', () => {
  for (const name of Object.keys(ENTRIES)) {
    it(`${name}: the exports match api/${name}.api.md`, async () => {
      const want = readFileSync(reportPath(name), 'utf8');
      expect(await apiReport(name), `api/${name}.api.md is stale: ${FIX}`).toBe(want);
    });
  }

  it('hess-vggt has at most 80 runtime names and none of the test-only helpers', async () => {
    const main = await import(/* @vite-ignore */ pathToFileURL(resolve(root, 'dist/node/index.js')).href);
    const names = Object.keys(main);
    expect(names.length).toBeGreaterThan(0);
    expect(names.length).toBeLessThanOrEqual(80);
    for (const internal of [
      'poisonBuffer',
      'encodeMatmul',
      'allocateJS',
      'joinPath',
      'Graph',
      'buildGradientGraph',
      'inferShapes',
    ]) {
      expect(names).not.toContain(internal);
    }
  });
});
