/**
 * Path checks for outputs and for paths built from data (Node, Deno, Bun): an output must not land on or inside
 * an input, and a path made of names read from a dataset must stay inside its root.
 */
import { nodeFs, type Path } from './node-fs.js';
import { HessError, type HessErrorCode } from '../errors.js';

/**
 * The absolute, symlink-resolved form of `p`, also for paths that do not exist yet: the longest existing prefix
 * is resolved with realpath and the rest appended, so `out/../model` and a symlink to the model compare equal.
 */
export async function canonicalPath(p: string): Promise<string> {
  const { fs, path } = await nodeFs('file paths');
  const abs = path.resolve(p.startsWith('file:') ? new URL(p).pathname : p);
  const rest: string[] = [];
  let head = abs;
  for (;;) {
    try {
      const real = await fs.realpath(head);
      return rest.length ? path.join(real, ...rest.reverse()) : real;
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return abs;
      rest.push(path.basename(head));
      head = parent;
    }
  }
}

/** `child` is `parent` or lies below it (both canonical). */
function within(path: Path, parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Refuse (INVALID_ARGUMENT) any output that equals an input or lies inside an input folder. Call it before any
 * work: an output written onto its own input truncates the input while it is still being read.
 *
 * @example await refuseOutputOnInput([{ path: out, what: '<outdir>' }], [{ path: src, what: 'the checkpoint' }]);
 */
export async function refuseOutputOnInput(
  outputs: readonly { path: string; what: string }[],
  inputs: readonly { path: string; what: string }[],
): Promise<void> {
  const { path } = await nodeFs('file paths');
  const ins = await Promise.all(inputs.map(async (i) => ({ ...i, real: await canonicalPath(i.path) })));
  for (const o of outputs) {
    const real = await canonicalPath(o.path);
    for (const i of ins) {
      if (!within(path, i.real, real)) continue;
      const how = real === i.real ? 'is' : 'lies inside';
      throw new HessError(
        'INVALID_ARGUMENT',
        `${o.what} ${o.path} ${how} ${i.what} ${i.path}; writing there would overwrite an input`,
        `choose an output outside ${i.path}`,
      );
    }
  }
}

/**
 * `root` joined with `parts`, canonical, checked to stay inside the canonical `root` (symlinks included); throws
 * `code` (BAD_DATASET by default) naming `what` otherwise. For paths built from names read out of data files.
 *
 * @example const src = await resolveInside(co3dRoot, [annotation.image.path], 'image.path of frame 12');
 */
export async function resolveInside(
  root: string,
  parts: readonly string[],
  what: string,
  code: HessErrorCode = 'BAD_DATASET',
): Promise<string> {
  const { path } = await nodeFs('file paths');
  const base = await canonicalPath(root);
  const real = await canonicalPath(path.join(base, ...parts));
  if (real === base || !within(path, base, real)) {
    throw new HessError(
      code,
      `${what} "${parts.join('/')}" leads outside ${root}`,
      'use paths inside the dataset folder (no "..", no absolute paths, no links out)',
    );
  }
  return real;
}
