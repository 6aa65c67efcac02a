import { HessError } from '../errors';
import type { VggtConfigOverride } from './config';
import { fileSource, openSafetensors, type Safetensors } from './safetensors';

/**
 * Open a checkpoint on disk (Node/Deno/Bun): a `model.safetensors` path, or a directory holding one, plus the
 * `config.json` beside it when there is one (the head counts the shapes cannot say). The one place that knows
 * this layout: the model, the converter and calibration all open checkpoints through it.
 *
 * @example
 * const { st, override } = await openCheckpointPath('./vggt-1b');
 * const config = inferVggtConfig(st.tensors, override);
 */
export async function openCheckpointPath(path: string, opts: { signal?: AbortSignal } = {}): Promise<{ st: Safetensors; file: string; override: VggtConfigOverride }> {
  const name = 'node:fs/promises'; // a variable so that browser bundlers leave it alone
  const fs = (await import(/* @vite-ignore */ name)) as typeof import('node:fs/promises');
  let file = path.startsWith('file:') ? new URL(path).pathname : path;
  const stat = await fs.stat(file).catch((e) => {
    throw new HessError('IO_ERROR', `cannot open ${file}: ${String(e?.message ?? e)}`, 'check the checkpoint path');
  });
  if (stat.isDirectory()) file = `${file.replace(/\/$/, '')}/model.safetensors`;
  const cfgPath = file.includes('/') ? file.replace(/[^/]*$/, 'config.json') : 'config.json';
  let override: VggtConfigOverride = {};
  const cfgText = await fs.readFile(cfgPath, 'utf8').catch(() => null);
  if (cfgText) {
    try {
      override = JSON.parse(cfgText) as VggtConfigOverride;
    } catch (e) {
      throw new HessError('BAD_CHECKPOINT', `${cfgPath} is not valid JSON`, 'fix or remove config.json', { cause: e });
    }
  }
  const src = await fileSource(file);
  const st = await openSafetensors(src, opts).catch(async (e) => {
    await src.close?.();
    throw e;
  });
  return { st, file, override };
}
