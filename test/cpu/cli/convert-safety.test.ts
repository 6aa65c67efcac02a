// convert never harms its input and never leaves a partial output: an output on (or inside) the checkpoint is
// refused before any work, and a conversion that fails midway (a value overflowing float16) removes what it wrote
// and reports that failure, not a secondary one.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { SafetensorsWriter, convertCheckpoint } from '../../../src/model/convert/convert.js';
import { fileSource, openSafetensors } from '../../../src/model/source/safetensors.js';
import { FIXTURE } from '../../../bench/vggt-tiny.js';
import { sourceDirForTests } from './convert-helpers.js';

const sha = async (p: string) =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex');
const exists = (p: string) =>
  readdir(p).then(
    () => true,
    () => false,
  );

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HessError);
    return `${(e as HessError).code}: ${(e as HessError).message}`;
  }
  return 'resolved';
}

describe('convert: outputs never on the input, never half-written', () => {
  const tmp = sourceDirForTests('hess-convert-safety-');

  it('an output equal to or inside the checkpoint (folder or file) is refused; the checkpoint survives byte-identical', async () => {
    const model = join(tmp.src, 'model.safetensors');
    const before = { model: await sha(model), cfg: await sha(join(tmp.src, 'config.json')) };
    const cases: [string, string][] = [
      [tmp.src, tmp.src], // convert dir dir: truncated the user's model before
      [model, tmp.src], // the file, onto its own folder
      [tmp.src, join(tmp.src, 'sub')],
      [tmp.src, `${tmp.src}/./sub/..`],
    ];
    for (const [src, out] of cases) {
      const r = await codeOf(convertCheckpoint(src, out, { fp16: true, cameraHeads: 4 }));
      expect(r, `${src} → ${out}`).toMatch(/^INVALID_ARGUMENT: .*would overwrite an input/);
    }
    expect(await sha(model)).toBe(before.model);
    expect(await sha(join(tmp.src, 'config.json'))).toBe(before.cfg);
    expect((await readdir(tmp.src)).sort()).toEqual(['config.json', 'model.safetensors']);
  });

  it('--fp16 on a value over 65504 fails with that error and leaves no file (fresh and existing outdir)', async () => {
    // The fixture with one value of the LAST kept tensor set to 1e6: most of the file is written before it fails.
    const bad = join(tmp.dir, 'overflow');
    await mkdir(bad, { recursive: true });
    const st = await openSafetensors(await fileSource(resolve(FIXTURE, 'model.safetensors')));
    const all = [...st.tensors.values()];
    const w = await SafetensorsWriter.create(
      join(bad, 'model.safetensors'),
      all.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape })),
    );
    for (const [i, t] of all.entries()) {
      const v = await st.read(t.name);
      if (i === all.length - 1) v[v.length - 1] = 1e6;
      await w.write(t.name, v);
    }
    await w.close();
    await st.close();
    const fresh = join(tmp.dir, 'out-fresh');
    const r = await codeOf(convertCheckpoint(join(bad, 'model.safetensors'), fresh, { fp16: true, cameraHeads: 4 }));
    expect(r).toMatch(/^INVALID_ARGUMENT: .*= 1000000 does not fit float16/);
    expect(await exists(fresh)).toBe(false); // the folder it created is gone too
    const existing = join(tmp.dir, 'out-existing');
    await mkdir(existing);
    expect(
      await codeOf(convertCheckpoint(join(bad, 'model.safetensors'), existing, { fp16: true, cameraHeads: 4 })),
    ).toMatch(/does not fit float16/);
    expect(await readdir(existing)).toEqual([]);
    expect((await readdir(bad)).sort()).toEqual(['model.safetensors']);
  });

  it('a segment size that is not a multiple of the patch size is refused before anything is written', async () => {
    const out = join(tmp.dir, 'seg15');
    const r = await codeOf(convertCheckpoint(tmp.src, out, { cameraHeads: 4, segmentSize: { height: 15, width: 15 } }));
    expect(r).toMatch(/^INVALID_ARGUMENT: segment size 15×15 must be positive multiples of 14/);
    expect(await exists(out)).toBe(false);
  });

  it('an outdir under a file is refused before the checkpoint is read', async () => {
    const r = await codeOf(
      convertCheckpoint(tmp.src, join(tmp.src, '..', 'src', 'config.json', 'x'), { cameraHeads: 4 }),
    );
    expect(r).toMatch(/^INVALID_ARGUMENT|^IO_ERROR/);
    const r2 = await codeOf(
      convertCheckpoint(tmp.src, join(tmp.dir, 'overflow', 'model.safetensors', 'x'), { cameraHeads: 4 }),
    );
    expect(r2).toMatch(/^IO_ERROR: <outdir>: .* is not a folder/);
  });
});
