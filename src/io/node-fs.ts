/**
 * `node:fs/promises` and `node:path`, imported on first use (Node, Deno, Bun). The module names are held in
 * variables so browser bundles that include the SDK never try to resolve them.
 */
import { HessError } from '../errors.js';

export type Fs = typeof import('node:fs/promises');
export type Path = typeof import('node:path');

const FS_MODULE = 'node:fs/promises';
const PATH_MODULE = 'node:path';

/** Both modules, or IO_ERROR saying that file access needs Node, Deno or Bun (`what`: e.g. 'writing files'). */
export async function nodeFs(what = 'file access'): Promise<{ fs: Fs; path: Path }> {
  try {
    const [fs, path] = await Promise.all([
      import(/* @vite-ignore */ FS_MODULE),
      import(/* @vite-ignore */ PATH_MODULE),
    ]);
    return { fs: fs as Fs, path: path as Path };
  } catch (e) {
    throw new HessError('IO_ERROR', `${what} needs node:fs (Node, Deno or Bun)`, 'run this from Node, Deno or Bun', {
      cause: e,
    });
  }
}
