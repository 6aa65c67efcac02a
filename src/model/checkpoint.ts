import { HessError } from '../errors';
import { isAbortError } from './byte-source';
import type { VggtConfigOverride } from './config';
import { fileSource, openSafetensors, type Safetensors } from './safetensors';
import { urlSource, type UrlSourceOptions } from './url-source';

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
  if (cfgText) override = parseConfig(cfgText, cfgPath);
  const src = await fileSource(file);
  const st = await openSafetensors(src, opts).catch(async (e) => {
    await src.close?.();
    throw e;
  });
  return { st, file, override };
}

/** config.json text → override (BAD_CHECKPOINT when it is not JSON). */
function parseConfig(text: string, where: string): VggtConfigOverride {
  try {
    return JSON.parse(text) as VggtConfigOverride;
  } catch (e) {
    throw new HessError('BAD_CHECKPOINT', `${where} is not valid JSON`, 'fix or remove config.json', { cause: e });
  }
}

/**
 * Open a checkpoint by URL: a directory URL ending in `/` (`'/models/vggt-1b/'` → `model.safetensors` in it) or
 * the URL of a `.safetensors` file; in both cases the `config.json` beside it is read when the server has one
 * (any non-2xx answer means none; `blob:`/`data:` URLs have no neighbours). The weights are read through {@link urlSource} (Range requests, read-ahead,
 * retries, cache), with `opts` passed on.
 *
 * @example
 * const { st, override } = await openCheckpointUrl('https://example.org/models/vggt-1b/', { onProgress: (n, t) => bar(n / t) });
 */
export async function openCheckpointUrl(url: string | URL, opts: UrlSourceOptions = {}): Promise<{ st: Safetensors; file: string; override: VggtConfigOverride }> {
  const href = String(url);
  // Keep a query string or fragment (signed URLs) on both files.
  const cut = href.search(/[?#]/);
  const [path, tail] = cut < 0 ? [href, ''] : [href.slice(0, cut), href.slice(cut)];
  const file = path.endsWith('/') ? `${path}model.safetensors${tail}` : href;
  const cfgUrl = `${path.replace(/[^/]*$/, '')}config.json${tail}`;
  const f = opts.fetch ?? globalThis.fetch;
  let override: VggtConfigOverride = {};
  if (typeof f === 'function' && !/^(blob|data):/.test(href)) {
    let res: Response;
    try {
      res = await f(cfgUrl, { headers: { ...opts.headers }, signal: opts.signal });
    } catch (e) {
      if (opts.signal?.aborted || isAbortError(e)) throw new HessError('ABORTED', 'operation aborted', '', { cause: e });
      throw new HessError('IO_ERROR', `fetch ${cfgUrl} failed: ${e instanceof Error ? e.message : String(e)}`,
        'check the URL and the network (and CORS in browsers)', { cause: e });
    }
    if (res.ok) override = parseConfig(await res.text(), cfgUrl);
    else await res.body?.cancel().catch(() => undefined);
  }
  const src = await urlSource(file, opts);
  const st = await openSafetensors(src, { signal: opts.signal }).catch(async (e) => {
    await src.close?.();
    throw e;
  });
  return { st, file, override };
}
