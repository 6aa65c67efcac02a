// The built CLI as a subprocess on hostile files: convert onto its own input (the checkpoint must survive
// byte-identical), and co3d with hostile annotations (nothing may be written or copied from outside the temp
// folders). Every case must end with exit 2 and one line `error [CODE]: …`.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURE } from '../../bench/vggt-tiny.js';
import { CLI_BUILT, contractViolation, runBuiltCli } from './cli-harness.js';

const hasFixture = (() => {
  try {
    return statSync(join(FIXTURE, 'model.safetensors')).isFile();
  } catch {
    console.warn(`[hostile] skipping convert-onto-input: no fixture at ${FIXTURE}`);
    return false;
  }
})();

/** Every file under `dir` (relative path → bytes), for before/after comparisons. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, r);
      else out.set(r, e.isSymbolicLink() ? 'link' : createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir, '');
  return out;
}

describe('hostile files through the built CLI (subprocess)', () => {
  const base = mkdtempSync(join(tmpdir(), 'hess-hostile-files-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it.runIf(CLI_BUILT && hasFixture)(
    'convert onto its own input (5 forms): refused, the checkpoint byte-identical',
    async () => {
      const src = join(base, 'ckpt');
      mkdirSync(src);
      copyFileSync(join(FIXTURE, 'model.safetensors'), join(src, 'model.safetensors'));
      copyFileSync(join(FIXTURE, 'config.json'), join(src, 'config.json'));
      symlinkSync(src, join(base, 'ckpt-link'));
      const before = snapshot(base);
      const cases = [
        ['convert', src, src],
        ['convert', join(src, 'model.safetensors'), src],
        ['convert', src, join(src, 'sub')],
        ['convert', join(src, 'model.safetensors'), `${src}/.`, '--fp16'],
        ['convert', src, join(base, 'ckpt-link')],
      ];
      for (const argv of cases) {
        const r = await runBuiltCli(argv, base);
        expect(contractViolation(r, ['INVALID_ARGUMENT']), argv.join(' ')).toBeUndefined();
        expect(r.status).toBe(2);
      }
      expect(snapshot(base)).toEqual(before);
      console.log(`[hostile] convert onto input: ${cases.length} cases`);
    },
  );

  it.runIf(CLI_BUILT)(
    'co3d with 14 hostile annotation files and 1 hostile --categories: BAD_DATASET, nothing written or copied outside the temp folders',
    async () => {
      const zone = join(base, 'co3d-zone');
      const root = join(zone, 'root');
      const seq = 'seq1';
      mkdirSync(join(root, 'apple', seq, 'images'), { recursive: true });
      const secret = `SECRET-${Date.now()}`;
      writeFileSync(join(zone, 'secret.txt'), secret);
      const p = new PNG({ width: 6, height: 4 });
      p.data.fill(200);
      writeFileSync(join(root, 'apple', seq, 'images', 'f0.png'), PNG.sync.write(p));
      symlinkSync(join(zone, 'secret.txt'), join(root, 'apple', seq, 'images', 'link.png'));
      const vp = {
        R: [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ],
        T: [0, 0, 2],
        focal_length: [2, 2],
        principal_point: [0, 0],
        intrinsics_format: 'ndc_isotropic',
      };
      const good = {
        sequence_name: seq,
        frame_number: 0,
        image: { path: `apple/${seq}/images/f0.png`, size: [4, 6] },
        viewpoint: vp,
      };
      const withImage = (path: string) => [{ ...good, image: { ...good.image, path } }];
      const annotations: [string, unknown][] = [
        ['sequence_name ../../escaped', [{ ...good, sequence_name: '../../escaped' }]],
        ['sequence_name ..', [{ ...good, sequence_name: '..' }]],
        ['sequence_name with a slash', [{ ...good, sequence_name: 'a/../../b' }]],
        ['image.path ../../../../etc/passwd', withImage('../../../../etc/passwd')],
        ['image.path ../secret.txt', withImage('../secret.txt')],
        ['image.path apple/../../secret.txt', withImage('apple/../../secret.txt')],
        ['absolute image.path', withImage('/etc/passwd')],
        ['image.path through a symlink out of the root', withImage(`apple/${seq}/images/link.png`)],
        ['{}', {}],
        ['[null]', [null]],
        ['a frame without image', [{ ...good, image: undefined }]],
        ['null', null],
        ['a string', 'frames'],
        ['viewpoint R 1×3', [{ ...good, viewpoint: { ...vp, R: [[1, 0, 0]] } }]],
      ];
      const out = join(zone, 'out');
      const before = snapshot(zone);
      for (const [label, json] of annotations) {
        writeFileSync(join(root, 'apple', 'frame_annotations.jgz'), gzipSync(JSON.stringify(json)));
        const r = await runBuiltCli(['co3d', root, out, '--categories', 'apple'], zone);
        expect(contractViolation(r, ['BAD_DATASET']), label).toBeUndefined();
        expect(r.status, label).toBe(2);
        const after = snapshot(zone);
        after.delete('root/apple/frame_annotations.jgz');
        const expected = new Map(before);
        expected.delete('root/apple/frame_annotations.jgz');
        expect(after, `${label}: files changed`).toEqual(expected); // nothing written anywhere, not even in out/
      }
      // A category from argv that is not a name, and the good annotations: exit 0, files only under out/.
      expect(
        contractViolation(await runBuiltCli(['co3d', root, out, '--categories', '../root/apple'], zone), [
          'INVALID_ARGUMENT',
        ]),
      ).toBeUndefined();
      writeFileSync(join(root, 'apple', 'frame_annotations.jgz'), gzipSync(JSON.stringify([good])));
      const ok = await runBuiltCli(['co3d', root, out, '--categories', 'apple'], zone);
      expect(ok.status, ok.stderr).toBe(0);
      const written = [...snapshot(zone).keys()].filter(
        (k) => !before.has(k) && k !== 'root/apple/frame_annotations.jgz',
      );
      expect(written.sort()).toEqual([`out/apple_${seq}/cameras.json`, `out/apple_${seq}/images/f0.png`]);
      console.log(`[hostile] co3d hostile annotations: ${annotations.length + 1} cases + 1 valid`);
    },
  );
});
