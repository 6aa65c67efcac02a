import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { calibrateCommand } from '../../../src/cli/commands.js';
import { FIXTURE } from '../../../bench/vggt-tiny.js';

// `hess-vggt calibrate`'s own plumbing; resuming from saved state itself is tested on calibrate() in
// test/cpu/calibrate/calibrate.test.ts.
describe('hess-vggt calibrate (CLI): resumable per-scene progress', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hess-calib-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('usage errors are INVALID_ARGUMENT naming the help', async () => {
    const io = { log: () => {}, err: () => {} };
    await expect(calibrateCommand(['--model', FIXTURE], io)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      fix: expect.stringMatching(/calibrate --help/),
    });
  });

  it('a corrupt progress file is a typed error naming the fix, not a silent restart', async () => {
    const out = join(dir, 'bad.json');
    await writeFile(`${out}.progress.json`, '{ truncated');
    const io = { log: () => {}, err: () => {} };
    // --data elsewhere: an output inside an input folder is refused before the progress file is even read
    await expect(
      calibrateCommand(['--model', FIXTURE, '--data', join(dir, 'data'), '--out', out], io),
    ).rejects.toMatchObject({ code: 'IO_ERROR', fix: expect.stringMatching(/--restart/) });
  });
});
