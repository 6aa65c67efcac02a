import { HessError } from '../../errors.js';
import { isAbortError } from './byte-source.js';
import type { VggtConfigOverride } from '../config.js';
import { fileSource, openSafetensors, type Safetensors } from './safetensors.js';
import { urlSource, type SpillStore, type UrlSourceOptions } from './url-source.js';

/**
 * Open a checkpoint on disk (Node/Deno/Bun): a `model.safetensors` path, or a directory holding one, plus the
 * `config.json` beside it when there is one (the head counts the shapes cannot say). The one place that knows
 * this layout: the model, the converter and calibration all open checkpoints through it.
 *
 * @example
 * const { st, override } = await openCheckpointPath('./vggt-1b');
 * const config = inferVggtConfig(st.tensors, override);
 */
export async function openCheckpointPath(
  path: string,
  opts: { signal?: AbortSignal } = {},
): Promise<{ st: Safetensors; file: string; override: VggtConfigOverride }> {
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
export async function openCheckpointUrl(
  url: string | URL,
  opts: UrlSourceOptions = {},
): Promise<{ st: Safetensors; file: string; override: VggtConfigOverride }> {
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
      if (opts.signal?.aborted || isAbortError(e))
        throw new HessError('ABORTED', 'operation aborted', '', { cause: e });
      throw new HessError(
        'IO_ERROR',
        `fetch ${cfgUrl} failed: ${e instanceof Error ? e.message : String(e)}`,
        'check the URL and the network (and CORS in browsers)',
        { cause: e },
      );
    }
    if (res.ok) override = parseConfig(await res.text(), cfgUrl);
    else await res.body?.cancel().catch(() => undefined);
  }
  // In Node/Deno/Bun a server that ignores Range spills passed-over tensors to a temporary file, so that the
  // model's read order (not the file's) works with bounded memory; browsers use the cache or the memory window.
  const spill =
    opts.spill ??
    (opts.cache === undefined || opts.cache === 'none' || opts.cache === 'auto'
      ? await tempFileSpill().catch(() => undefined)
      : undefined);
  const src = await urlSource(file, { ...opts, spill }).catch(async (e) => {
    await spill?.close?.();
    throw e;
  });
  const st = await openSafetensors(src, { signal: opts.signal }).catch(async (e) => {
    await src.close?.();
    throw e;
  });
  return { st, file, override };
}

/**
 * A {@link SpillStore} in a temporary file (Node, Deno, Bun: `node:fs`), appended to and read back by range;
 * deleted on close. Rejects where there is no `node:fs` (browsers).
 *
 * @example
 * const src = await urlSource(url, { spill: await tempFileSpill() });
 */
export async function tempFileSpill(): Promise<SpillStore> {
  const fsName = 'node:fs/promises';
  const osName = 'node:os';
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
  const os = (await import(/* @vite-ignore */ osName)) as typeof import('node:os');
  // The file is created on the first put: a Range server never spills, and leaves nothing behind.
  let file: Promise<{ dir: string; fh: Awaited<ReturnType<typeof fs.open>> }> | null = null;
  const open = () =>
    (file ??= (async () => {
      const dir = await fs.mkdtemp(`${os.tmpdir()}/hess-vggt-spill-`);
      return { dir, fh: await fs.open(`${dir}/ranges.bin`, 'w+') };
    })());
  const where = new Map<string, { at: number; length: number }>();
  let end = 0;
  let closed = false;
  return {
    async put(key, bytes) {
      if (closed) throw new HessError('DISPOSED', 'spill store was closed');
      const { fh } = await open();
      const at = end;
      end += bytes.byteLength;
      for (let done = 0; done < bytes.byteLength; )
        done += (await fh.write(bytes, done, bytes.byteLength - done, at + done)).bytesWritten;
      where.set(key, { at, length: bytes.byteLength });
    },
    async get(key) {
      const w = where.get(key);
      if (!w || closed) return undefined;
      const { fh } = await open();
      const out = new Uint8Array(w.length);
      for (let done = 0; done < w.length; ) {
        const { bytesRead } = await fh.read(out, done, w.length - done, w.at + done);
        if (bytesRead === 0) return undefined;
        done += bytesRead;
      }
      return out;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (!file) return;
      const { dir, fh } = await file;
      await fh.close().catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
