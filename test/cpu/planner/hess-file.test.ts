// Hostile HeSS files (issue 12): non-finite scores, wrong shapes, huge counts, prototype-pollution keys and
// hostile already-parsed objects are all BAD_HESS_FILE; valid files still parse to plain data.
import { describe, expect, it } from 'vitest';
import { HESS_FILE_LIMITS, parseHessFile } from '../../../src/hess/hess-file.js';
import { expectCode } from '../../helpers/errors.js';

const good = () => ({
  format: 'hess-scores',
  version: 1,
  modelId: 'm',
  layers: 2,
  heads: 2,
  lambda: 0.5,
  terms: {
    camera: [
      [1, 2],
      [3, 4],
    ],
    pointCloud: [
      [1, 1],
      [0, 2],
    ],
  },
  scores: [
    [0.4, 0.6],
    [0.2, 0.8],
  ],
  calibration: { description: 'x', scenes: 3 },
});

describe('parseHessFile on hostile input', () => {
  it('non-finite and out-of-range numbers (text and object input)', async () => {
    for (const text of [
      JSON.stringify(good()).replace('[0.4,0.6]', '[1e999,0.6]'),
      JSON.stringify(good()).replace('[1,2]', '[-1e999,2]'),
      JSON.stringify(good()).replace('"scenes":3', '"scenes":1e300'),
      JSON.stringify(good()).replace('[3,4]', '[1.7e308,1.7e308]'), // finite entries, infinite row sum
      JSON.stringify(good()).replace('"lambda":0.5', '"lambda":null'),
    ])
      await expectCode(() => parseHessFile(text), 'BAD_HESS_FILE');
    for (const mutate of [
      (o: any) => {
        o.scores[0][1] = NaN;
      },
      (o: any) => {
        o.terms.camera[0][0] = Infinity;
      },
      (o: any) => {
        o.lambda = NaN;
      },
      (o: any) => {
        o.layers = Infinity;
      },
      (o: any) => {
        o.scores[1] = new Float64Array([0.2, 0.8]);
      },
    ]) {
      const o = good();
      mutate(o);
      await expectCode(() => parseHessFile(o), 'BAD_HESS_FILE');
    }
  });

  it('huge or inconsistent layer/head counts fail before any allocation', async () => {
    for (const [layers, heads] of [
      [1e9, 16],
      [24, 1e9],
      [4097, 1],
      [2048, 1024],
      [0, 16],
      [-1, 16],
      [2.5, 16],
    ]) {
      await expectCode(() => parseHessFile({ ...good(), layers, heads }), 'BAD_HESS_FILE', /layers|heads/);
    }
    await expectCode(() => parseHessFile({ ...good(), layers: 3 }), 'BAD_HESS_FILE', /3 layers/);
    await expectCode(
      () => parseHessFile('[' + ' '.repeat(HESS_FILE_LIMITS.maxTextLength) + ']'),
      'BAD_HESS_FILE',
      /characters/,
    );
    await expectCode(() => parseHessFile('['.repeat(200_000)), 'BAD_HESS_FILE');
    await expectCode(() => parseHessFile({ ...good(), modelId: 'x'.repeat(5000) }), 'BAD_HESS_FILE', /modelId/);
  });

  it('prototype-pollution keys and inherited fields are refused; the result is plain data', async () => {
    const t = JSON.stringify(good());
    for (const text of [
      t.replace('{"format"', '{"__proto__":{"polluted":1},"format"'),
      t.replace('"terms":{', '"terms":{"constructor":{"prototype":{"polluted":1}},'),
      t.replace('"calibration":{', '"calibration":{"__proto__":{"polluted":1},'),
    ])
      await expectCode(() => parseHessFile(text), 'BAD_HESS_FILE', /forbidden key/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Fields only inherited from a prototype are not the file's.
    await expectCode(() => parseHessFile(Object.create(good())), 'BAD_HESS_FILE', /plain object/);
    // A hostile object: throwing getter, proxy, class instance.
    const getter = good();
    Object.defineProperty(getter, 'scores', {
      get() {
        throw new Error('boom');
      },
      enumerable: true,
    });
    await expectCode(() => parseHessFile(getter), 'BAD_HESS_FILE', /boom/);
    await expectCode(
      () =>
        parseHessFile(
          new Proxy(good(), {
            ownKeys() {
              throw new TypeError('trap');
            },
          }),
        ),
      'BAD_HESS_FILE',
    );
    await expectCode(
      () =>
        parseHessFile(
          new (class {
            format = 'hess-scores';
          })(),
        ),
      'BAD_HESS_FILE',
      /plain object/,
    );
    // The valid file still parses, to fresh plain arrays (not the caller's).
    const g = good();
    const h = parseHessFile(g);
    expect(h.scores).toEqual(g.scores);
    expect(h.scores).not.toBe(g.scores);
    expect(Object.getPrototypeOf(h)).toBe(Object.prototype);
  });
});
