// The full-size random VGGT-1B checkpoint (exact names and shapes, random weights, no track head) that the scale
// bench loads: generated once into build/scale/vggt1b-<f32|f16>/ (gitignored) and reused while its size matches.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { VGGT_1B, checkpointLayout, vggtTensorSpecs, writeRandomVggt } from './random-vggt.js';

export type CheckpointDtype = 'F32' | 'F16';

/** Folder of the generated checkpoint (model.safetensors + config.json). */
export function vggt1bDir(dtype: CheckpointDtype): string {
  return `${process.cwd()}/build/scale/vggt1b-${dtype.toLowerCase()}`;
}

/** Bytes the generated file has (header + data). */
export function vggt1bBytes(dtype: CheckpointDtype): number {
  const { header, dataBytes } = checkpointLayout(vggtTensorSpecs(VGGT_1B), dtype);
  return 8 + header.byteLength + dataBytes;
}

/** Write the checkpoint here, in this process (seed 1). */
export async function generateVggt1b(dtype: CheckpointDtype): Promise<{ file: string; bytes: number; ms: number }> {
  const t0 = performance.now();
  const r = await writeRandomVggt(vggt1bDir(dtype), VGGT_1B, { dtype, seed: 1 });
  return { file: r.file, bytes: r.bytes, ms: performance.now() - t0 };
}

/**
 * Make sure the checkpoint exists (generating it if its file is missing or of the wrong size). Generation runs in
 * a child Node process started with `script --generate <dtype>` and no V8 flags: the benches run with --no-opt,
 * which would make the PRNG loop over 1.19 B values many times slower.
 */
export function ensureVggt1b(script: string, dtype: CheckpointDtype): { dir: string; generatedMs: number | null } {
  const dir = vggt1bDir(dtype);
  const file = `${dir}/model.safetensors`;
  if (existsSync(file) && statSync(file).size === vggt1bBytes(dtype) && existsSync(`${dir}/config.json`))
    return { dir, generatedMs: null };
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [script, '--generate', dtype], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`generating ${file} failed (exit ${r.status})`);
  return { dir, generatedMs: performance.now() - t0 };
}
