// Hostile calibration/eval dataset folders through the built package: readCalibrationScenes must return scenes
// whose content is the folder's own, valid data, or throw a HessError — never read or write outside the root.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rgbPng } from '../helpers/images.js';
import { BUILT, Tally, loadCalibrate, loadSdk, must, report } from './cases.js';

const CASES = 1200;
const HOSTILE_NAMES: unknown[] = [
  '../x.png',
  '../../etc/passwd',
  '/etc/passwd',
  'a/b.png',
  'a\\b.png',
  '..',
  '.',
  '',
  'x\0.png',
  'C:\\x.png',
  42,
  null,
  [],
  {},
  'ok.gif',
  'v.PNG',
  '%2e%2e%2fx.png',
  ' ',
  'x'.repeat(300) + '.png',
];
const HOSTILE_VALUES: unknown[] = [null, true, -1, 0, 1.5, 1e308, -1e308, 2 ** 53, 'x', '', [], {}, [[1]], Number.NaN];

/** A valid one-view scene: 4×3 PNG, identity camera, 10 points. */
function baseCameras(image = '000.png', w = 4, h = 3) {
  return {
    version: 1,
    views: [
      {
        name: '000',
        image,
        width: w,
        height: h,
        extrinsic: [
          [1, 0, 0, 0],
          [0, 1, 0, 0],
          [0, 0, 1, 2],
        ],
        intrinsic: [
          [3, 0, 2],
          [0, 3, 1.5],
          [0, 0, 1],
        ],
      },
    ],
  };
}

describe.skipIf(!BUILT)('hostile dataset folders (built package)', () => {
  it("mutated scene folders: the folder's own valid content or a HessError, nothing touched outside the root", async () => {
    const sdk = await loadCalibrate(); // hess-vggt/calibrate: dataset reading lives there
    const t = new Tally('dataset-folders', (await loadSdk()).HessError as never);
    const outer = mkdtempSync(join(tmpdir(), 'hess-hostile-ds-'));
    const sentinel = join(outer, 'sentinel.txt');
    writeFileSync(sentinel, 'outside the root');
    const png = rgbPng(4, 3, new Uint8Array(4 * 3 * 4).fill(200));
    const points = new Float32Array(30).map((_, i) => Math.sin(i));
    try {
      for (let i = 0; i < CASES; i++) {
        const root = join(outer, `root${i}`);
        const scene = join(root, 's');
        mkdirSync(join(scene, 'images'), { recursive: true });
        const cams = baseCameras() as Record<string, unknown> & { views: Record<string, unknown>[] };
        let camerasText: string | undefined;
        let pointBytes: Uint8Array = new Uint8Array(points.buffer);
        let imageBytes: Uint8Array = png;
        const kind = t.int(9);
        const view = cams.views[0];
        if (kind === 0) view.image = t.pick(HOSTILE_NAMES);
        else if (kind === 1) view.name = t.pick(HOSTILE_NAMES);
        else if (kind === 2) view[t.pick(['width', 'height', 'extrinsic', 'intrinsic'])] = t.pick(HOSTILE_VALUES);
        else if (kind === 3) {
          view.width = 1 + t.int(8);
          view.height = 1 + t.int(8);
        } // may contradict the 4×3 image
        else if (kind === 4)
          pointBytes = pointBytes.subarray(0, t.int(pointBytes.length + 1)); // ragged or empty cloud
        else if (kind === 5)
          imageBytes = png.subarray(0, t.int(png.length)); // truncated image
        else if (kind === 6)
          camerasText = JSON.stringify(cams).slice(0, t.int(JSON.stringify(cams).length)); // cut JSON
        else if (kind === 7) (cams as Record<string, unknown>)[t.pick(['version', 'views'])] = t.pick(HOSTILE_VALUES);
        if (kind === 8)
          symlinkSync(sentinel, join(scene, 'images', '000.png')); // an image that points outside the root
        else writeFileSync(join(scene, 'images', '000.png'), imageBytes);
        writeFileSync(join(scene, 'cameras.json'), camerasText ?? JSON.stringify(cams));
        writeFileSync(join(scene, 'points.bin'), pointBytes);
        await t.run(`kind ${kind}`, async () => {
          const scenes = await sdk.readCalibrationScenes(root);
          // Accepted: one scene, exactly the folder's valid content.
          must(scenes.length === 1 && scenes[0].views.length === 1, 'one scene with one view');
          const v = scenes[0].views[0];
          must(v.width === 4 && v.height === 3, "the image's real size");
          must(
            typeof v.image === 'string' && !/[\\/\0]/.test(v.image) && v.image !== '..' && v.image !== '.',
            'the image is a plain name',
          );
          must(v.imagePath.startsWith(root), 'the image path stays inside the root');
          const p = scenes[0].points;
          must(p !== undefined && p.length > 0 && p.length % 3 === 0 && p.every(Number.isFinite), 'finite xyz points');
          must(
            p.every((x, j) => x === points[j]),
            "the file's own points",
          );
        });
      }
      // Nothing written outside the roots; the sentinel is unchanged.
      const names = readdirSync(outer).filter((n) => !n.startsWith('root'));
      must(
        names.length === 1 && names[0] === 'sentinel.txt',
        `only the sentinel beside the roots, found ${names.join(', ')}`,
      );
    } finally {
      rmSync(outer, { recursive: true, force: true });
    }
    report(t);
    expect(t.failures, t.failures.slice(0, 10).join('\n')).toEqual([]);
    expect(t.cases).toBe(CASES);
  });
});
