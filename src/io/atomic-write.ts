/**
 * Safe file output (Node, Deno, Bun): every file we write goes to a temporary file in its own folder and is
 * renamed into place only when complete, so a failure or a kill never leaves a half-written output; output
 * folders are checked before any work starts (outputs landing on inputs: `paths.ts`).
 *
 * `node:fs/promises` and `node:path` are imported dynamically (names in variables) so browser bundles that
 * include the SDK never resolve them.
 */
import { nodeFs, type Fs, type Path } from './node-fs.js';
import { HessError } from '../errors.js';

const message = (e: unknown) => String((e as Error)?.message ?? e);

/** A sibling temporary name: same folder (so rename is atomic), hidden, unique per process and call. */
function tempName(path: Path, file: string): string {
  const rand = Math.random().toString(36).slice(2, 10);
  const pid = (globalThis as { process?: { pid?: number } }).process?.pid ?? 0;
  return path.join(path.dirname(file), `.${path.basename(file)}.${pid}.${rand}.tmp`);
}

/**
 * Check that `dir` exists, is a folder and is writable (IO_ERROR otherwise), before any expensive work. With
 * `create`, a missing folder is fine when its nearest existing ancestor is a writable folder (it will be created).
 */
export async function checkWritableFolder(dir: string, opts: { create?: boolean; what?: string } = {}): Promise<void> {
  const { fs, path } = await nodeFs('writing files');
  const what = opts.what ?? 'output folder';
  let d = path.resolve(dir);
  for (;;) {
    const st = await fs
      .stat(d)
      .catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' || e.code === 'ENOTDIR' ? e.code : e));
    if (st instanceof Error)
      throw new HessError('IO_ERROR', `cannot use ${what} ${dir}: ${message(st)}`, 'choose a folder you can write to');
    if (typeof st === 'string') {
      const parent = path.dirname(d);
      // ENOTDIR: a file sits on the way; walk up to name it.
      if ((!opts.create && st === 'ENOENT') || parent === d) {
        throw new HessError(
          'IO_ERROR',
          `${what} ${d} does not exist`,
          `create it first (mkdir -p ${d}) or choose an existing folder`,
        );
      }
      d = parent;
      continue;
    }
    if (!st.isDirectory())
      throw new HessError('IO_ERROR', `${what}: ${d} is not a folder`, 'choose a folder, not a file, for the output');
    try {
      await fs.access(d, fs.constants.W_OK);
    } catch (e) {
      throw new HessError(
        'IO_ERROR',
        `${what} ${d} is not writable: ${message(e)}`,
        'choose a folder you can write to',
      );
    }
    return;
  }
}

/**
 * Check an output file before work: its folder exists and is writable, and the path is not a folder.
 * @example await checkOutputFile('scene.ply');
 */
export async function checkOutputFile(file: string, what = 'output'): Promise<void> {
  const { fs, path } = await nodeFs('writing files');
  await checkWritableFolder(path.dirname(path.resolve(file)), { what: `folder of the ${what}` });
  const st = await fs.stat(file).catch(() => null);
  if (st?.isDirectory())
    throw new HessError('IO_ERROR', `${what} ${file} is a folder`, 'give a file name for the output');
}

/**
 * Several files written as one: each goes to a temporary sibling; {@link commit} renames them all into place
 * (only after every one is complete), {@link abort} removes the temporaries and any folder the batch created
 * that is still empty. Use for outputs that belong together (a PLY and its cameras.json, a converted model).
 *
 * @example
 * const b = await AtomicBatch.create();
 * await b.write('scene.ply', ply); await b.write('scene.cameras.json', json);
 * await b.commit();
 */
export class AtomicBatch {
  private readonly pending: { temp: string; final: string }[] = [];
  private readonly createdDirs: string[] = [];
  private done = false;

  private constructor(
    private readonly fs: Fs,
    private readonly path: Path,
  ) {}

  static async create(): Promise<AtomicBatch> {
    const { fs, path } = await nodeFs('writing files');
    return new AtomicBatch(fs, path);
  }

  /** Create `dir` (and missing parents), remembering the ones created so abort() can remove them if empty. */
  async mkdir(dir: string): Promise<void> {
    const abs = this.path.resolve(dir);
    const missing: string[] = [];
    for (let d = abs; ; d = this.path.dirname(d)) {
      if (
        await this.fs.stat(d).then(
          () => true,
          () => false,
        )
      )
        break;
      missing.push(d);
      if (this.path.dirname(d) === d) break;
    }
    try {
      await this.fs.mkdir(abs, { recursive: true });
    } catch (e) {
      throw new HessError('IO_ERROR', `cannot create ${dir}: ${message(e)}`, 'check the output path', { cause: e });
    }
    this.createdDirs.push(...missing); // deepest first
  }

  /** A temporary path for `final` (the caller writes it, e.g. a streaming writer); renamed to `final` on commit. */
  reserve(final: string): string {
    if (this.done) throw new HessError('INVALID_ARGUMENT', 'AtomicBatch used after commit/abort');
    const temp = tempName(this.path, final);
    this.pending.push({ temp, final });
    return temp;
  }

  /** Write `data` to a temporary for `final`. */
  async write(final: string, data: Uint8Array | string): Promise<void> {
    const temp = this.reserve(final);
    try {
      await this.fs.writeFile(temp, data, { flag: 'wx' });
    } catch (e) {
      throw new HessError(
        'IO_ERROR',
        `cannot write ${final}: ${message(e)}`,
        'check the output path and free disk space',
        { cause: e },
      );
    }
  }

  /** Copy `source` to a temporary for `final`. */
  async copy(source: string, final: string): Promise<void> {
    const temp = this.reserve(final);
    try {
      await this.fs.copyFile(source, temp, this.fs.constants.COPYFILE_EXCL);
    } catch (e) {
      throw new HessError('IO_ERROR', `cannot copy ${source} to ${final}: ${message(e)}`, 'check both paths', {
        cause: e,
      });
    }
  }

  /**
   * Rename every temporary into place, in the order written. Renames within a folder are atomic and do not fail
   * for space, so once the first succeeds the rest do in practice; a failing one removes the remaining temporaries.
   */
  async commit(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      for (let i = 0; i < this.pending.length; i++) {
        const { temp, final } = this.pending[i];
        try {
          await this.fs.rename(temp, final);
        } catch (e) {
          throw new HessError(
            'IO_ERROR',
            `cannot move the finished ${final} into place: ${message(e)}`,
            'check the output path',
            { cause: e },
          );
        }
        this.pending[i].temp = '';
      }
    } catch (e) {
      await this.cleanup();
      throw e;
    }
  }

  /** Remove every temporary not yet renamed, and the folders this batch created if they are empty. Never throws. */
  async abort(): Promise<void> {
    this.done = true;
    await this.cleanup();
  }

  private async cleanup(): Promise<void> {
    for (const p of this.pending) if (p.temp) await this.fs.rm(p.temp, { force: true }).catch(() => {});
    for (const d of this.createdDirs) await this.fs.rmdir(d).catch(() => {}); // fails (kept) unless empty
  }
}

/**
 * Write one file atomically (temporary sibling, then rename).
 * @example await writeFileAtomic('hess.json', JSON.stringify(hess));
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const b = await AtomicBatch.create();
  try {
    await b.write(file, data);
    await b.commit();
  } catch (e) {
    await b.abort();
    throw e;
  }
}

/**
 * Write several files as one (all temporaries first, then the renames): on failure none is left half-written.
 * @example await writeFilesAtomic([{ path: 'a.ply', data: ply }, { path: 'a.cameras.json', data: json }]);
 */
export async function writeFilesAtomic(files: readonly { path: string; data: Uint8Array | string }[]): Promise<void> {
  const b = await AtomicBatch.create();
  try {
    for (const f of files) await b.write(f.path, f.data);
    await b.commit();
  } catch (e) {
    await b.abort();
    throw e;
  }
}
