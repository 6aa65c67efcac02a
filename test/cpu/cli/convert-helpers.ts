/** Shared setup of the convert tests: a checkpoint folder in a temp dir built from the fixture (never copied into the repo). */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { SafetensorsWriter } from '../../../src/model/convert/convert.js';
import { fileSource, openSafetensors } from '../../../src/model/source/safetensors.js';
import type { VggtResult } from '../../../src/model/vggt/model.js';
import { FIXTURE } from '../../../bench/vggt-tiny.js';

export const outputs = (r: VggtResult) => ({
  pose_enc: r.poseEnc!,
  depth: r.depth!,
  depth_conf: r.depthConf!,
  world_points: r.worldPoints!,
  world_points_conf: r.worldPointsConf!,
});

/**
 * `<dir>/src/`: the fixture's tensors plus a track-head tensor (convert must drop it), and a config.json without
 * camera_heads (it must come from the option instead). Returns the folder.
 */
export async function makeSource(dir: string): Promise<string> {
  const src = join(dir, 'src');
  await mkdir(src, { recursive: true });
  const st = await openSafetensors(await fileSource(resolve(FIXTURE, 'model.safetensors')));
  const names = [...st.tensors.values()];
  const w = await SafetensorsWriter.create(join(src, 'model.safetensors'), [
    ...names.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape })),
    { name: 'track_head.feature_extractor.norm.weight', dtype: 'F32', shape: [4] },
  ]);
  for (const t of names) await w.write(t.name, await st.read(t.name));
  await w.write('track_head.feature_extractor.norm.weight', new Float32Array([1, 2, 3, 4]));
  await w.close();
  await st.close();
  const cfg = JSON.parse(await readFile(resolve(FIXTURE, 'config.json'), 'utf8'));
  delete cfg.camera_heads;
  await writeFile(join(src, 'config.json'), JSON.stringify(cfg));
  return src;
}

/**
 * For a test file: a fresh temp dir (`dir`) holding {@link makeSource}'s checkpoint folder (`src`), made before the
 * file's tests and removed after them. Read the fields inside tests (they are set by beforeAll).
 */
export function sourceDirForTests(prefix: string): { dir: string; src: string } {
  const ctx = { dir: '', src: '' };
  beforeAll(async () => {
    ctx.dir = await mkdtemp(join(tmpdir(), prefix));
    ctx.src = await makeSource(ctx.dir);
  });
  afterAll(async () => rm(ctx.dir, { recursive: true, force: true }));
  return ctx;
}
