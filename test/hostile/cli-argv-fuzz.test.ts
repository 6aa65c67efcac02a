// CLI argument vectors from a fixed printed seed (HESS_SEED replays): a few hundred through the built CLI binary
// as subprocesses, and thousands more in-process through runCli (the same dispatch main.ts calls; subprocesses
// are too slow on a shared 2-core machine for thousands). Every vector must exit 0, or 2 with one line
// `error [CODE]: …` and no stack trace, without hanging, and write nothing outside its temp folder.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../src/cli/commands.js';
import { HessError } from '../../src/errors.js';
import { CLI_BUILT, contractViolation, runBuiltCli, type CliRun } from './cli-harness.js';
import { hostileRng, pick, randomString } from './seed.js';

const SUBPROCESS_CASES = 200;
const IN_PROCESS_CASES = 4000;
const PARALLEL = 4;

const FLAGS: Record<string, string[]> = {
  run: [
    '--model',
    '--out',
    '--device',
    '--mode',
    '--min-conf',
    '--policy',
    '--sparsity',
    '--hess',
    '--query-block',
    '--key-block',
  ],
  convert: ['--fp16', '--camera-heads', '--dino-heads', '--head-heads', '--segment-size', '--no-segments'],
  eval: [
    '--model',
    '--data',
    '--policies',
    '--sparsity',
    '--hess',
    '--out',
    '--device',
    '--query-block',
    '--key-block',
    '--planner',
    '--mode',
    '--target-size',
    '--max-scenes',
    '--max-frames',
    '--min-conf',
    '--threshold',
  ],
  calibrate: ['--model', '--data', '--out', '--lambda', '--epsilon', '--max-scenes', '--restart', '--device'],
  co3d: ['--categories', '--frames', '--max-sequences'],
};
const BOOLEAN = new Set(['--fp16', '--no-segments', '--restart']);

/**
 * A temp zone: `<zone>/work` is the cwd (relative outputs land in the zone), with hostile inputs (no valid image
 * and no valid model anywhere, so no vector can start a real model run) and a sentinel beside it.
 */
function makeZone(): { zone: string; work: string; values: string[]; inProcessValues: string[] } {
  const zone = mkdtempSync(join(tmpdir(), 'hess-hostile-argv-'));
  const work = join(zone, 'a', 'work');
  mkdirSync(join(work, 'emptydir'), { recursive: true });
  mkdirSync(join(work, 'data', 'scene'), { recursive: true });
  writeFileSync(join(work, 'data', 'scene', 'cameras.json'), '{"views": []}');
  writeFileSync(join(work, 'garbage.png'), 'not a png');
  writeFileSync(join(work, 'trunc.png'), Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13));
  writeFileSync(
    join(work, 'model.safetensors'),
    Uint8Array.of(8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32),
  );
  writeFileSync(join(work, 'hess.json'), '{"format": "nope"}');
  writeFileSync(join(zone, 'sentinel.txt'), 'sentinel');
  const files = [
    'garbage.png',
    'trunc.png',
    'model.safetensors',
    'hess.json',
    'emptydir',
    'data',
    'missing.png',
    'missing/dir',
    'out.ply',
    'out/x.ply',
    'outdir',
    'data/scene',
    'emptydir/x.json',
  ];
  const tokens = [
    'abc',
    'NaN',
    'Infinity',
    '-Infinity',
    '-1',
    '0',
    '1',
    '0.5',
    '1.5',
    '1e309',
    '-0',
    '1e-320',
    '0x10',
    '14',
    '518',
    '15x15',
    '14x14',
    '518x350',
    '0x0',
    '999999x999999',
    '',
    ' ',
    'dense',
    'uniform',
    'hess',
    'reverse',
    'gpu',
    'cuda',
    'wasm',
    'webgpu',
    'crop',
    'pad',
    'auto',
    'dense,hess',
    'dense,,',
    '0.43,0.73,0.9',
    '0.4,abc',
    '--',
    '-h',
    '--help',
    'é',
    '☃',
    'a'.repeat(300),
    '%s%n',
    '$(touch pwned)',
    "'; rm -rf /",
  ];
  const pathish = ['../x', '.', '../apple', 'a/b', '..', 'apple', 'x', '/dev/null', '/etc/passwd'];
  const abs = files.map((f) => join(work, f));
  return {
    zone,
    work,
    // Subprocesses run in <zone>/a/work: relative paths (and ../x) stay inside the zone.
    values: [...files, ...abs, ...tokens, ...pathish],
    // In-process the cwd is the repo: only absolute temp paths and tokens that name no file (NUL is possible here).
    inProcessValues: [...abs, ...tokens, `${work}/nul\0.png`, 'a\0b', '/dev/null'],
  };
}

/** One random argv: a command (or junk), flags of that command and others, values from the pool. */
function vector(rand: () => number, values: string[]): string[] {
  const cmd = pick(rand, [
    'run',
    'convert',
    'eval',
    'calibrate',
    'co3d',
    'run',
    'eval',
    '--help',
    '--version',
    'help',
    '-h',
    '',
    'probe --bogus',
    randomString(rand, 1 + Math.floor(rand() * 8), 'abcdefghijklmnopqrstuvwxyz-'),
    '--model',
  ]);
  const argv = cmd === 'probe --bogus' ? ['probe', '--bogus'] : [cmd];
  const flags = FLAGS[cmd] ?? Object.values(FLAGS).flat();
  if (FLAGS[cmd] && rand() < 0.6) {
    // Well-formed: the command's required arguments and some of its own flags, with values from the pool (so
    // vectors reach the checks of values, files and data, not only the parser).
    const v = () => pick(rand, values);
    const required: Record<string, () => string[]> = {
      run: () => [v(), ...(rand() < 0.3 ? [v()] : []), '--model', v(), '--out', v()],
      convert: () => [v(), v()],
      eval: () => ['--model', v(), '--data', v()],
      calibrate: () => ['--model', v(), '--data', v(), '--out', v()],
      co3d: () => [v(), v(), '--categories', v()],
    };
    argv.push(...required[cmd]());
    for (let i = Math.floor(rand() * 4); i > 0; i--) {
      const f = pick(rand, flags);
      argv.push(...(BOOLEAN.has(f) ? [f] : [f, v()]));
    }
    return argv;
  }
  const n = Math.floor(rand() * 9);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.6) {
      const f = pick(rand, flags);
      if (BOOLEAN.has(f)) argv.push(rand() < 0.8 ? f : `${f}=${pick(rand, values)}`);
      else if (rand() < 0.9) argv.push(f, pick(rand, values));
      else argv.push(`${f}=${pick(rand, values)}`);
    } else if (r < 0.8)
      argv.push(pick(rand, values)); // a positional
    else if (r < 0.9) argv.push(`--${randomString(rand, 1 + Math.floor(rand() * 10), 'abcdefghij-=')}`);
    else argv.push(pick(rand, ['-h', '--help', '--version', '-x', '--', '---', '--model']));
  }
  return argv;
}

/** Files anywhere under `dir` outside `allowed` subtrees (relative paths). */
function listAll(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

describe('CLI argument-vector fuzz', () => {
  const zones: string[] = [];
  afterAll(() => zones.forEach((z) => rmSync(z, { recursive: true, force: true })));
  const repoBefore = listAll(join(process.cwd(), 'src'));

  it.runIf(CLI_BUILT)(`${SUBPROCESS_CASES} vectors through the built CLI binary (subprocess)`, async () => {
    const { rand } = hostileRng('CLI argv (subprocess)');
    const { zone, work, values } = makeZone();
    zones.push(zone);
    const vectors = Array.from({ length: SUBPROCESS_CASES }, () => vector(rand, values));
    const bad: string[] = [];
    const byCode: Record<string, number> = {};
    let next = 0;
    const worker = async () => {
      while (next < vectors.length) {
        const argv = vectors[next++];
        const r: CliRun = await runBuiltCli(argv, work);
        const v = contractViolation(r);
        if (v) bad.push(`${JSON.stringify(argv)} → ${v}`);
        const code = r.status === 0 ? 'exit 0' : (/^error \[([A-Z_]+)\]/m.exec(r.stderr)?.[1] ?? `exit ${r.status}`);
        byCode[code] = (byCode[code] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    console.log(`[hostile] CLI argv (subprocess): ${vectors.length} vectors, outcomes ${JSON.stringify(byCode)}`);
    expect(bad.slice(0, 10)).toEqual([]);
    // Nothing escaped the work folder's zone: the zone's top level still holds only a/ and the sentinel.
    expect(readdirSync(zone).sort()).toEqual(['a', 'sentinel.txt']);
    expect(listAll(join(process.cwd(), 'src'))).toEqual(repoBefore);
  });

  it(`${IN_PROCESS_CASES} vectors in-process through runCli (absolute temp paths only)`, async () => {
    const { rand } = hostileRng('CLI argv (in-process)');
    const { zone, inProcessValues } = makeZone();
    zones.push(zone);
    const bad: string[] = [];
    const byCode: Record<string, number> = {};
    for (let i = 0; i < IN_PROCESS_CASES; i++) {
      const argv = vector(rand, inProcessValues);
      const lines: string[] = [];
      const io: CliIo = { log: () => {}, err: (l) => lines.push(l) };
      let code: number;
      try {
        code = await runCli(argv, io, '0.0.0');
      } catch (e) {
        bad.push(
          `${JSON.stringify(argv)} → threw ${e instanceof HessError ? e.code : (e as Error)?.stack?.split('\n').slice(0, 3).join(' | ')}`,
        );
        continue;
      }
      const errs = lines.filter((l) => !l.startsWith('notice: ') && !l.startsWith('warning: '));
      if (code === 2 && !(errs.length === 1 && /^error \[[A-Z_]+\]: \S/.test(errs[0]) && !errs[0].includes('\n')))
        bad.push(`${JSON.stringify(argv)} → ${JSON.stringify(errs)}`);
      else if (code !== 0 && code !== 2) bad.push(`${JSON.stringify(argv)} → exit ${code}: ${errs.join(' | ')}`);
      const key = code === 0 ? 'exit 0' : (/^error \[([A-Z_]+)\]/.exec(errs[0] ?? '')?.[1] ?? `exit ${code}`);
      byCode[key] = (byCode[key] ?? 0) + 1;
    }
    console.log(
      `[hostile] CLI argv (in-process runCli): ${IN_PROCESS_CASES} vectors, outcomes ${JSON.stringify(byCode)}`,
    );
    expect(bad.slice(0, 10)).toEqual([]);
    expect(readdirSync(zone).sort()).toEqual(['a', 'sentinel.txt']);
    expect(listAll(join(process.cwd(), 'src'))).toEqual(repoBefore);
  });
});
