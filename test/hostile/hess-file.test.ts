// Hostile HeSS files through the built planner entry: parseHessFile must return exactly the file's valid content
// (shapes, finite non-negative values, rows of `scores` summing to 1) or throw a HessError.
import { describe, expect, it } from 'vitest';
import { BUILT, Tally, report, loadPlanner, must } from './cases.js';

const HOSTILE: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  -1e-308,
  2 ** 53 + 2,
  '',
  'x',
  '1',
  [],
  [1],
  {},
  { a: 1 },
  [[0.5, 0.5]],
  'hess-scores',
  1,
  4096,
  4097,
  1e9,
];

describe.skipIf(!BUILT)('hostile HeSS files (built package)', () => {
  it('mutated JSON files: the validated content or a HessError', async () => {
    const planner = await loadPlanner();
    const t = new Tally('hess-file', planner.HessError as never);
    for (let i = 0; i < 2000; i++) {
      const layers = 1 + t.int(6),
        heads = 1 + t.int(6);
      const row = () => {
        const r = Array.from({ length: heads }, () => t.rand());
        const s = r.reduce((a, b) => a + b, 0);
        return r.map((x) => x / s);
      };
      const file: Record<string, unknown> = {
        format: 'hess-scores',
        version: 1,
        modelId: 'model',
        layers,
        heads,
        lambda: t.rand(),
        terms: {
          camera: Array.from({ length: layers }, () => Array.from({ length: heads }, () => t.rand() * 10)),
          pointCloud: Array.from({ length: layers }, () => Array.from({ length: heads }, () => t.rand())),
        },
        scores: Array.from({ length: layers }, row),
        calibration: { description: 'fuzz', scenes: 1 + t.int(9) },
      };
      const kind = t.int(8);
      const paths: (string | number)[][] = [
        ['format'],
        ['version'],
        ['modelId'],
        ['layers'],
        ['heads'],
        ['lambda'],
        ['terms'],
        ['terms', 'camera'],
        ['terms', 'pointCloud', t.int(layers)],
        ['scores', t.int(layers), t.int(heads)],
        ['scores', t.int(layers)],
        ['calibration', 'scenes'],
        ['calibration'],
      ];
      let text: string | undefined;
      if (kind <= 2) {
        // replace a field (or a cell) with something hostile
        const p = t.pick(paths);
        let o = file as Record<string | number, unknown>;
        for (const k of p.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
        o[p[p.length - 1]] = t.pick(HOSTILE);
      } else if (kind === 3) {
        // delete a field
        const p = t.pick(paths.slice(0, 7));
        delete file[p[0] as string];
      }
      text = JSON.stringify(file);
      if (kind === 4) {
        // a prototype-pollution key in one of the objects
        const at = t.pick(['{"format"', '"terms":{', '"calibration":{']),
          key = t.pick(['__proto__', 'constructor', 'prototype']);
        text = text.replace(at, at.replace('{', `{"${key}":{"x":1},`));
      }
      if (kind === 5) text = text.replace(/0\.\d+/, t.pick(['1e999', '-1e999', 'NaN', '-0', '1e-400', '"0.5"']));
      if (kind === 6) text = text.slice(0, t.int(text.length));
      if (kind === 7 && t.rand() < 0.5) {
        const b = [...text];
        b[t.int(b.length)] = String.fromCharCode(t.int(128));
        text = b.join('');
      }
      const input = text;
      await t.run(`kind ${kind}`, () => {
        const h = planner.parseHessFile(input);
        // Accepted: it must be the file's own, valid content.
        const src = JSON.parse(input) as typeof file;
        must(
          h.layers === src.layers && h.heads === src.heads && h.modelId === src.modelId && h.lambda === src.lambda,
          'scalar fields',
        );
        must(JSON.stringify(h.scores) === JSON.stringify(src.scores), "scores are the file's");
        must(
          JSON.stringify(h.terms) ===
            JSON.stringify({
              camera: (src.terms as { camera: unknown }).camera,
              pointCloud: (src.terms as { pointCloud: unknown }).pointCloud,
            }),
          "terms are the file's",
        );
        must(
          h.scores.length === h.layers &&
            h.scores.every((r) => r.length === h.heads && r.every((x) => Number.isFinite(x) && x >= 0)),
          'shapes and values',
        );
        must(
          h.scores.every((r) => Math.abs(r.reduce((a, b) => a + b, 0) - 1) <= 1e-6),
          'rows sum to 1',
        );
        must(Object.getPrototypeOf(h) === Object.prototype && !Object.hasOwn(h, '__proto__'), 'plain result');
      });
    }
    must(({} as Record<string, unknown>).x === undefined, 'Object.prototype untouched');
    report(t);
    expect(t.failures, t.failures.slice(0, 10).join('\n')).toEqual([]);
    expect(t.cases).toBe(2000);
  });
});
