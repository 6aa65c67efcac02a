/**
 * The commands of the `hess-vggt` CLI as functions (main.ts dispatches to them through {@link runCli}; tests
 * call them directly). Each takes the arguments after the command name, validates every argument and output
 * path before any work, and throws a {@link HessError} for anything wrong; {@link runCli} turns that into one
 * line `error [CODE]: message — fix` and exit code 2.
 */
import { parseArgs } from 'node:util';
import { HessError, type HessErrorCode } from '../errors.js';
import { progressReporter, type ProgressSink } from './progress.js';

/** Where commands print (tests capture it). `progress` (default: none) receives progress bars / lines. */
export interface CliIo {
  log(line: string): void;
  err(line: string): void;
  progress?: ProgressSink;
}

export const consoleIo: CliIo = { log: (l) => console.log(l), err: (l) => console.error(l), progress: process.stderr };

/** Usage line(s) per command. */
const USAGES = {
  run: `hess-vggt run <images…> --model <model.safetensors|dir> --out <scene.ply> [--device auto|webgpu|wasm] [--mode crop|pad]
                 [--min-conf 1.5] [--policy dense|uniform|hess|reverse] [--sparsity 0.73] [--hess hess.json]
                 [--query-block 128] [--key-block 64]`,
  convert:
    'hess-vggt convert <model.safetensors|dir> <outdir> [--fp16] [--camera-heads N] [--dino-heads N] [--head-heads N] [--segment-size HxW] [--no-segments]',
  eval: `hess-vggt eval --model <dir> --data <dir> [--policies dense,uniform,hess] [--sparsity 0.43,0.73,0.9] [--hess hess.json] [--out <dir>]
                 [--device webgpu|wasm] [--query-block 128] [--key-block 64] [--planner wasm|gpu|auto] [--mode crop|pad]
                 [--target-size 518] [--max-scenes N] [--max-frames N] [--min-conf 0] [--threshold d]
                 [--lambdas 1,0,0.5] [--allocations waterfill,proportional]`,
  co3d: 'hess-vggt co3d <co3d-root> <outdir> --categories apple,teddybear [--frames 10] [--max-sequences N]',
  calibrate: `hess-vggt calibrate --model <dir> --data <dir> --out hess.json [--lambda 0.5] [--epsilon 0.05] [--max-scenes N] [--restart]
                 [--device wasm|webgpu] [--target-size 518]`,
  probe: 'hess-vggt probe',
} as const;

export type CommandName = keyof typeof USAGES;

export const USAGE = `usage:
${Object.values(USAGES)
  .map((u) => `  ${u}`)
  .join('\n')}
  hess-vggt --help | --version | <command> --help   (details and the commands reproducing the HeSS paper's setting)`;

/** What each command does (the body of `<command> --help`). */
const SECTIONS: Record<CommandName, string> = {
  run: `run
  Runs VGGT on the images (PNG or JPEG; every one is read and decoded before the model loads) and writes <out>, a
  binary PLY of the points with confidence ≥ --min-conf coloured from the images, and <out without .ply>.cameras.json
  (3×4 extrinsics, 3×3 intrinsics per frame). Both are written to temporary files and renamed only when complete.
  --device auto (default) runs on WebGPU only with a hardware adapter (a software one such as SwiftShader or
  lavapipe is far slower than the CPU path) and otherwise on the wasm EP, saying so in one line.
  --policy uniform|hess|reverse runs block-sparse global attention at --sparsity (default 0.73; WebGPU only);
  hess and reverse need a HeSS file (--hess, from 'hess-vggt calibrate'). --query-block / --key-block set the
  block sizes in tokens (defaults 128 / 64).`,
  convert: `convert
  Validates a VGGT or π³ checkpoint (told apart by its tensor names; architecture read from the tensor shapes)
  and writes <outdir>/config.json (with model: vggt|pi3), <outdir>/model.safetensors (F32, or F16 with --fp16;
  VGGT without its track head, π³ whole) and <outdir>/segments/*.onnx (+ manifest.json): the ONNX graphs the
  runtime runs. Head counts the shapes cannot show come from these flags, else a config.json next to the input,
  else the trunk's: VGGT --camera-heads / --dino-heads (16 for VGGT-1B); π³ --dino-heads (its DINOv2 encoder)
  and --head-heads (its point, conf and camera decoders; 16 for yyfz233/Pi3). The other model's flag is an error.
  --fp16 halves the file; the model computes in float32 from it (F16 widened on load) unless loaded with
  dtype 'fp16' on WebGPU, which reads F16 as stored. VGGT's DPT-head graphs bake the image size: --segment-size
  (default 518x518, multiples of 14); π³'s heads graph takes any size, or only --segment-size's when given.
  Weights are streamed tensor by tensor; the checkpoint is never held in memory whole. <outdir> must not be or
  lie inside the input; every file is written to a temporary and renamed only when all are complete.`,
  eval: `eval
  Runs the model on every scene folder of --data (calibration/eval format: cameras.json, images/, points.bin|ply
  and/or depth/; see src/calibrate/dataset/README.md) under each policy and sparsity ('dense' once), aligns each
  prediction to the GT with a similarity (Umeyama on the camera centres) and writes <out>/report.md,
  report.json and report.svg: camera AUC@30 (+RRA/RTA@15), point-cloud accuracy / completeness / Chamfer / F1
  (threshold: --threshold, default 1% of the GT bounding-box diagonal), depth AbsRel (if GT depth), the achieved
  sparsity and the run time. Sparse policies need WebGPU; 'hess' and 'reverse' need --hess (then the report also
  gets hess-heatmap.svg and a requested/budgeted/achieved sparsity table per layer).
  Ablations: --lambdas 1,0,0.5 re-combines the HeSS file's camera and point terms (1 = camera only), and
  --allocations waterfill,proportional adds budgets without the iterative caps; each variant is its own row.`,
  calibrate: `calibrate
  HeSS calibration: for every scene of --data (same folder format as eval, with GT cameras and points), the
  gradients of the camera error e_cam and the point-cloud error e_pc (after similarity alignment) w.r.t. every
  global-attention head's query weights, folded into Fisher traces; writes the HeSS file (--out) and its heat map
  (<out without .json>.svg: layers × heads, camera, point and combined terms). Progress is
  saved to <out>.progress.json after each scene: a killed run started again continues where it stopped
  (--restart ignores it). Runs the dense model and its backward graphs on the wasm EP (default) or, with
  --device webgpu, on onnxruntime-web's WebGPU EP (needed for VGGT-1B: its fp32 weights fill the wasm heap).
  Memory stays bounded for large scenes: block activations above 256 MB are checkpointed (every ⌈√depth⌉-th
  kept, the rest recomputed) and global attention's backward runs by query chunks above 256 MB.`,
  co3d: `co3d
  Converts CO3Dv2 sequences (<root>/<category>/frame_annotations.jgz, <category>/<seq>/pointcloud.ply) into the
  scene-folder format with the CO3D adapter (PyTorch3D → OpenCV cameras), keeping --frames evenly spaced frames
  per sequence (default 10, as VGGT's CO3D evaluation). Names and paths read from the annotations must stay
  inside <co3d-root> and <outdir> (BAD_DATASET otherwise).`,
  probe: `probe
  Prints what this runtime offers (WebGPU adapter, shader-f16, subgroups, Wasm SIMD) as JSON; creates nothing.`,
};

const PAPER = `Reproducing the HeSS paper's setting (CO3Dv2 cameras, DTU point clouds; target sparsities 0.43 / 0.73 / 0.9):
  # 1. the model (VGGT-1B from facebook/VGGT-1B; 16 heads in the camera trunk and in DINO)
  hess-vggt convert VGGT-1B/model.safetensors ./vggt-1b --camera-heads 16 --dino-heads 16
  # 2. data: CO3Dv2 test sequences → scene folders (10 frames each); a few held-out sequences for calibration
  hess-vggt co3d /data/co3d ./co3d-eval  --categories apple,backpack,banana,…  --frames 10
  hess-vggt co3d /data/co3d ./co3d-calib --categories apple,teddybear --frames 10 --max-sequences 4
  #    DTU: no adapter ships yet; write each scan as a scene folder (cameras.json from the MVS camera files,
  #    points.ply from the STL ground truth) with writeCalibrationScene() (see src/calibrate/dataset/README.md).
  # 3. calibrate: HeSS scores (Fisher traces of the dense model's error gradients) on ./co3d-calib → hess.json.
  hess-vggt calibrate --model ./vggt-1b --data ./co3d-calib --out hess.json --device webgpu
  # 4. evaluate dense vs uniform vs HeSS budgets at the paper's sparsities
  hess-vggt eval --model ./vggt-1b --data ./co3d-eval --policies dense,uniform,hess --sparsity 0.43,0.73,0.9 \\
    --hess hess.json --out ./eval-co3d
  hess-vggt eval --model ./vggt-1b --data ./dtu-eval  --policies dense,uniform,hess --sparsity 0.43,0.73,0.9 \\
    --hess hess.json --out ./eval-dtu`;

export const HELP = `${USAGE}

${(['convert', 'eval', 'calibrate', 'co3d', 'run', 'probe'] as const).map((c) => SECTIONS[c]).join('\n\n')}

${PAPER}`;

/** `hess-vggt <command> --help`: its usage and what it does. */
export function commandHelp(cmd: CommandName): string {
  return `usage:\n  ${USAGES[cmd]}\n\n${SECTIONS[cmd]}${cmd === 'calibrate' || cmd === 'eval' || cmd === 'co3d' || cmd === 'convert' ? `\n\n${PAPER}` : ''}`;
}

// ---------------------------------------------------------------------------------------------------------------
// argument checking
// ---------------------------------------------------------------------------------------------------------------

const helpFix = (cmd: string) => `see 'hess-vggt ${cmd} --help'`;

function usage(cmd: string, message: string): HessError {
  return new HessError('INVALID_ARGUMENT', message, helpFix(cmd));
}

type ParseConfig = NonNullable<Parameters<typeof parseArgs>[0]>;

/** parseArgs, with its errors (unknown option, missing value) as INVALID_ARGUMENT naming the command's help. */
function parse<T extends ParseConfig>(cmd: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config); // strict by default: unknown options throw
  } catch (e) {
    const msg = String((e as Error)?.message ?? e)
      .split('\n')[0]
      .replace(/\. To specify a positional argument.*$/, '');
    throw usage(cmd, msg);
  }
}

function positiveInt(v: string | undefined, name: string, max = 2 ** 31 - 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n <= 0 || n > max) {
    throw new HessError(
      'INVALID_ARGUMENT',
      `--${name} must be a positive integer${max < 2 ** 31 - 1 ? ` ≤ ${max}` : ''}, got "${v}"`,
      `e.g. --${name} 16`,
    );
  }
  return n;
}

/** A finite number in [min, max] (or [min, max) with `maxOpen`). */
function numberIn(
  v: string | undefined,
  name: string,
  min: number,
  max: number,
  opts: { maxOpen?: boolean; minOpen?: boolean; example: string },
): number | undefined {
  if (v === undefined) return undefined;
  const x = v.trim() === '' ? NaN : Number(v);
  const ok = Number.isFinite(x) && (opts.minOpen ? x > min : x >= min) && (opts.maxOpen ? x < max : x <= max);
  if (!ok) {
    const range = `${opts.minOpen ? '(' : '['}${min}, ${max}${opts.maxOpen ? ')' : ']'}`;
    throw new HessError(
      'INVALID_ARGUMENT',
      `--${name} must be a number in ${range}, got "${v}"`,
      `e.g. --${name} ${opts.example}`,
    );
  }
  return x;
}

function numberList(v: string, name: string, min: number, max: number, example: string): number[] {
  const parts = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0)
    throw new HessError(
      'INVALID_ARGUMENT',
      `--${name} must be comma-separated numbers, got "${v}"`,
      `e.g. --${name} ${example}`,
    );
  return parts.map((p) => {
    const x = Number(p);
    if (!Number.isFinite(x))
      throw new HessError(
        'INVALID_ARGUMENT',
        `--${name} must be comma-separated numbers, got "${v}"`,
        `e.g. --${name} ${example}`,
      );
    if (!(x >= min && x < max))
      throw new HessError(
        'INVALID_ARGUMENT',
        `--${name} values must be in [${min}, ${max}), got ${p}`,
        `e.g. --${name} ${example}`,
      );
    return x;
  });
}

function oneOf<T extends string>(v: string | undefined, name: string, choices: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!(choices as readonly string[]).includes(v)) {
    throw new HessError(
      'INVALID_ARGUMENT',
      `--${name} must be ${choices.join(', ')}; got "${v}"`,
      `e.g. --${name} ${dflt}`,
    );
  }
  return v as T;
}

const POLICIES = ['dense', 'uniform', 'hess', 'reverse'] as const;
type Policy = (typeof POLICIES)[number];

/** The message of a HessError without the " — fix" its constructor appended. */
function bare(e: HessError): string {
  return e.fix && e.message.endsWith(` — ${e.fix}`) ? e.message.slice(0, -(e.fix.length + 3)) : e.message;
}

async function readHess(path: string): Promise<import('../hess/hess-file').HessFile> {
  const fs = await import('node:fs/promises');
  const { parseHessFile } = await import('../hess/hess-file.js');
  const text = await fs.readFile(path, 'utf8').catch((e) => {
    throw new HessError('IO_ERROR', `cannot read ${path}: ${String(e?.message ?? e)}`, 'check the --hess path');
  });
  return parseHessFile(text);
}

/** The model path must exist (IO_ERROR before any other work). */
async function checkModelPath(model: string): Promise<void> {
  const fs = await import('node:fs/promises');
  await fs.stat(model).catch((e) => {
    throw new HessError(
      'IO_ERROR',
      `cannot open the model ${model}: ${String(e?.message ?? e)}`,
      'pass --model a model.safetensors file or a folder holding one',
    );
  });
}

/** WebGPU missing on a device the user asked for: the fix says how to run on the CPU instead. */
export function withWasmFix(e: unknown): unknown {
  if (e instanceof HessError && (e.code === 'NO_WEBGPU' || e.code === 'NO_ADAPTER')) {
    return new HessError(
      e.code,
      bare(e),
      `${e.fix ? `${e.fix.replace(/\.$/, '')}; ` : ''}or run on the CPU with --device wasm`,
      { cause: e },
    );
  }
  return e;
}

/** A software WebGPU adapter (CPU rasteriser): slower than the wasm EP for this model. */
export function isSoftwareAdapter(
  a: { isFallback?: boolean; vendor?: string; architecture?: string; device?: string; description?: string } | null,
): boolean {
  if (!a) return true;
  if (a.isFallback) return true;
  return /llvmpipe|lavapipe|swiftshader|softpipe|software|microsoft basic render|\bwarp\b/i.test(
    [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' '),
  );
}

/** `--device auto`: WebGPU only on a hardware adapter, else wasm with a one-line notice. */
async function autoDevice(io: CliIo): Promise<'webgpu' | 'wasm'> {
  const { probe } = await import('../gpu/device.js');
  const caps = await probe().catch(() => null);
  if (caps?.webgpu && !isSoftwareAdapter(caps.adapter)) return 'webgpu';
  const why = !caps?.webgpu
    ? 'no WebGPU here'
    : `only a software WebGPU adapter (${[caps.adapter?.vendor, caps.adapter?.device || caps.adapter?.description].filter(Boolean).join(' ') || 'fallback'})`;
  io.err(`notice: ${why}: running on the CPU (wasm EP); pass --device webgpu to use it anyway`);
  return 'wasm';
}

// ---------------------------------------------------------------------------------------------------------------
// commands
// ---------------------------------------------------------------------------------------------------------------

/** `hess-vggt run <images…> --model <file|dir> --out <scene.ply> [...]`. */
export async function runCommand(argv: string[], io: CliIo = consoleIo): Promise<number> {
  const { values, positionals } = parse('run', {
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      model: { type: 'string' },
      out: { type: 'string' },
      device: { type: 'string' },
      mode: { type: 'string' },
      'min-conf': { type: 'string' },
      policy: { type: 'string' },
      sparsity: { type: 'string' },
      hess: { type: 'string' },
      'query-block': { type: 'string' },
      'key-block': { type: 'string' },
    },
  } as const);
  if (values.help) return (io.log(commandHelp('run')), 0);
  if (!values.model || !values.out || positionals.length === 0)
    throw usage('run', 'run needs <images…>, --model and --out');
  // --- every argument, before any work ---
  const requested = oneOf(values.device, 'device', ['auto', 'webgpu', 'wasm'] as const, 'auto');
  const mode = oneOf(values.mode, 'mode', ['crop', 'pad'] as const, 'crop');
  const minConf =
    numberIn(values['min-conf'], 'min-conf', -Number.MAX_VALUE, Number.MAX_VALUE, { example: '1.5' }) ?? 0;
  const policy = oneOf<Policy>(values.policy, 'policy', POLICIES, 'dense');
  const sparsity = numberIn(values.sparsity, 'sparsity', 0, 1, { maxOpen: true, example: '0.73' });
  const queryBlock = positiveInt(values['query-block'], 'query-block', 1 << 16);
  const keyBlock = positiveInt(values['key-block'], 'key-block', 1 << 16);
  if (policy === 'dense' && (sparsity !== undefined || values.hess !== undefined)) {
    throw usage('run', '--sparsity and --hess apply to --policy uniform, hess or reverse, not dense');
  }
  if ((policy === 'hess' || policy === 'reverse') && !values.hess)
    throw usage('run', `--policy ${policy} needs --hess <hess.json>`);
  if (policy !== 'dense' && requested === 'wasm') {
    throw new HessError(
      'INVALID_ARGUMENT',
      `--policy ${policy} needs WebGPU (block-sparse attention runs in WGSL kernels)`,
      'use --device webgpu, or --policy dense on the CPU',
    );
  }
  // --- outputs: folder exists and is writable, nothing lands on an input ---
  const out = values.out;
  const camPath = `${out.replace(/\.ply$/i, '')}.cameras.json`;
  const { checkOutputFile } = await import('../io/atomic-write.js');
  const { refuseOutputOnInput } = await import('../io/paths.js');
  await checkOutputFile(out, '--out');
  await checkOutputFile(camPath, 'cameras file');
  await refuseOutputOnInput(
    [
      { path: out, what: '--out' },
      { path: camPath, what: 'the cameras file' },
    ],
    [
      { path: values.model, what: 'the model' },
      ...positionals.map((p) => ({ path: p, what: 'the input image' })),
      ...(values.hess ? [{ path: values.hess, what: 'the HeSS file' }] : []),
    ],
  );
  await checkModelPath(values.model);
  // --- inputs that can be checked without the model: the HeSS file, every image (decoded now) ---
  const hess = values.hess ? await readHess(values.hess) : undefined;
  const sdk = await import('../index.js');
  const images = [];
  for (const p of positionals) images.push(await sdk.decodeImageFile(p));
  const pre = sdk.preprocessImages(images, { mode });
  // --- the device, then the model ---
  const device = requested === 'auto' ? await autoDevice(io) : requested;
  if (policy !== 'dense' && device === 'wasm') {
    throw new HessError(
      'INVALID_ARGUMENT',
      `--policy ${policy} needs a hardware WebGPU adapter; --device auto chose the CPU`,
      'pass --device webgpu to use the adapter anyway, or --policy dense',
    );
  }
  const bar = progressReporter(io.progress ?? { write: () => {}, isTTY: false });
  let model;
  try {
    model = await sdk.loadModel(values.model, {
      // VGGT or π³, from the checkpoint's tensor names
      device,
      onProgress: (e) =>
        e.stage === 'weights'
          ? bar.update('load weights', e.progress)
          : e.stage === 'sessions'
            ? bar.update('sessions', e.progress)
            : undefined,
    });
  } catch (e) {
    bar.end();
    throw withWasmFix(e);
  }
  try {
    const { asVggtResult } = await import('../evaluate/pi3-result.js');
    const r = asVggtResult(
      await model.run(
        { data: pre.data, S: pre.frames, H: pre.height, W: pre.width },
        {
          policy,
          sparsity: policy === 'dense' ? undefined : (sparsity ?? 0.73),
          hess,
          queryBlock,
          keyBlock,
          onProgress: (e) => (e.stage === 'done' ? undefined : bar.update(e.stage, e.progress)),
        },
      ),
    );
    bar.end();
    const ply = sdk.pointCloudPly(r, { images: pre.data, minConf });
    const { writeFilesAtomic } = await import('../io/atomic-write.js');
    await writeFilesAtomic([
      { path: out, data: ply },
      { path: camPath, data: JSON.stringify(sdk.camerasJson(r, positionals), null, 2) },
    ]);
    const sp = r.sparsity ? `, ${policy} achieved sparsity ${r.sparsity.achievedSparsity.toFixed(3)}` : '';
    io.log(
      `wrote ${out} and ${camPath} (${r.S} frames ${r.W}×${r.H}, ${model.target.ep}${sp}, ${r.timings.total.toFixed(0)} ms)`,
    );
  } finally {
    bar.end();
    await model.dispose();
  }
  return 0;
}

/** `hess-vggt probe`. */
export async function probeCommand(argv: string[], io: CliIo = consoleIo): Promise<number> {
  const { values } = parse('probe', {
    args: argv,
    allowPositionals: false,
    options: { help: { type: 'boolean', short: 'h' } },
  } as const);
  if (values.help) return (io.log(commandHelp('probe')), 0);
  const { probe } = await import('../gpu/device.js');
  io.log(JSON.stringify(await probe(), null, 2));
  return 0;
}

/** `hess-vggt convert <src> <outdir> [...]`. */
export async function convertCommand(argv: string[], io: CliIo = consoleIo): Promise<number> {
  const { values, positionals } = parse('convert', {
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      fp16: { type: 'boolean' },
      'camera-heads': { type: 'string' },
      'dino-heads': { type: 'string' },
      'head-heads': { type: 'string' },
      'segment-size': { type: 'string' },
      'no-segments': { type: 'boolean' },
    },
  } as const);
  if (values.help) return (io.log(commandHelp('convert')), 0);
  if (positionals.length !== 2) throw usage('convert', 'convert needs <model.safetensors|dir> and <outdir>');
  let segmentSize: { height: number; width: number } | undefined;
  if (values['segment-size'] !== undefined) {
    const m = /^(\d{1,6})x(\d{1,6})$/.exec(values['segment-size']);
    const [h, w] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
    // 14 = VGGT's and π³'s patch size; convertCheckpoint checks it against the checkpoint's own patch size too.
    if (!m || h <= 0 || w <= 0 || h % 14 !== 0 || w % 14 !== 0) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `--segment-size must be HxW, positive multiples of 14, got "${values['segment-size']}"`,
        'e.g. --segment-size 350x518',
      );
    }
    segmentSize = { height: h, width: w };
  }
  const cameraHeads = positiveInt(values['camera-heads'], 'camera-heads', 4096);
  const dinoHeads = positiveInt(values['dino-heads'], 'dino-heads', 4096);
  const headHeads = positiveInt(values['head-heads'], 'head-heads', 4096);
  const { convertCheckpoint } = await import('../model/convert/convert.js');
  const t0 = performance.now();
  const bar = progressReporter(io.progress ?? { write: () => {}, isTTY: false });
  let r;
  try {
    r = await convertCheckpoint(positionals[0], positionals[1], {
      fp16: values.fp16 ?? false,
      cameraHeads,
      dinoHeads,
      headHeads,
      segmentSize,
      skipSegments: values['no-segments'] ?? false,
      onProgress: (e) => (e.stage === 'done' ? undefined : bar.update(e.stage, e.progress)),
    });
  } finally {
    bar.end();
  }
  if (r.config.assumed.length)
    io.err(
      `warning: assumed (not in the shapes or a config.json): ${r.config.assumed.join(', ')}; pass ${r.model === 'pi3' ? '--dino-heads / --head-heads' : '--camera-heads / --dino-heads'}`,
    );
  io.log(
    `wrote ${positionals[1]} (${r.model === 'pi3' ? 'π³' : 'VGGT'}): ${r.tensors} tensors as ${r.dtype} (${(r.bytes / 2 ** 20).toFixed(1)} MiB)` +
      `${r.dropped ? `, dropped ${r.dropped} track-head tensors` : ''}, ${r.segments.length} segment files, in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return 0;
}

/** `hess-vggt eval --model <dir> --data <dir> [...]`. */
export async function evalCommand(argv: string[], io: CliIo = consoleIo): Promise<number> {
  const { values } = parse('eval', {
    args: argv,
    allowPositionals: false,
    options: {
      help: { type: 'boolean', short: 'h' },
      model: { type: 'string' },
      data: { type: 'string' },
      policies: { type: 'string' },
      sparsity: { type: 'string' },
      hess: { type: 'string' },
      out: { type: 'string' },
      device: { type: 'string' },
      'query-block': { type: 'string' },
      'key-block': { type: 'string' },
      planner: { type: 'string' },
      mode: { type: 'string' },
      'target-size': { type: 'string' },
      'max-scenes': { type: 'string' },
      'max-frames': { type: 'string' },
      'min-conf': { type: 'string' },
      threshold: { type: 'string' },
      lambdas: { type: 'string' },
      allocations: { type: 'string' },
    },
  } as const);
  if (values.help) return (io.log(commandHelp('eval')), 0);
  if (!values.model || !values.data) throw usage('eval', 'eval needs --model and --data');
  const policies = (values.policies ?? 'dense')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (policies.length === 0) throw usage('eval', '--policies is empty');
  for (const p of policies) oneOf<Policy>(p, 'policies', POLICIES, 'dense');
  if (policies.some((p) => p === 'hess' || p === 'reverse') && !values.hess)
    throw usage('eval', 'policies hess and reverse need --hess <hess.json>');
  const sparsities = numberList(values.sparsity ?? '0.43,0.73,0.9', 'sparsity', 0, 1, '0.43,0.73,0.9');
  const device = oneOf(values.device, 'device', ['webgpu', 'wasm'] as const, 'webgpu');
  const mode = oneOf(values.mode, 'mode', ['crop', 'pad'] as const, 'crop');
  const planner =
    values.planner === undefined
      ? undefined
      : oneOf(values.planner, 'planner', ['wasm', 'gpu', 'auto'] as const, 'auto');
  const queryBlock = positiveInt(values['query-block'], 'query-block', 1 << 16);
  const keyBlock = positiveInt(values['key-block'], 'key-block', 1 << 16);
  const targetSize = positiveInt(values['target-size'], 'target-size', 1 << 14);
  if (targetSize !== undefined && targetSize % 14 !== 0)
    throw new HessError(
      'INVALID_ARGUMENT',
      `--target-size must be a multiple of 14, got ${targetSize}`,
      'e.g. --target-size 518',
    );
  const maxScenes = positiveInt(values['max-scenes'], 'max-scenes');
  const maxFrames = positiveInt(values['max-frames'], 'max-frames');
  const minConf = numberIn(values['min-conf'], 'min-conf', -Number.MAX_VALUE, Number.MAX_VALUE, { example: '0' });
  const threshold = numberIn(values.threshold, 'threshold', 0, Number.MAX_VALUE, { minOpen: true, example: '0.01' });
  // Ablations (the HeSS paper's): λ of the file's camera/point terms, and allocation without the iterative caps.
  const lambdas =
    values.lambdas === undefined ? undefined : numberList(values.lambdas, 'lambdas', 0, Infinity, '1,0,0.5');
  if (lambdas?.some((l) => l > 1))
    throw new HessError(
      'INVALID_ARGUMENT',
      `--lambdas values must be in [0, 1], got ${values.lambdas}`,
      'e.g. --lambdas 1,0,0.5',
    );
  if (lambdas && !values.hess) throw usage('eval', '--lambdas re-combines a HeSS file: pass --hess <hess.json>');
  const allocations =
    values.allocations === undefined
      ? undefined
      : values.allocations
          .split(',')
          .map((a) => oneOf(a.trim(), 'allocations', ['waterfill', 'proportional'] as const, 'waterfill'));
  const outDir = values.out ?? './eval-report';
  const { checkWritableFolder } = await import('../io/atomic-write.js');
  const { refuseOutputOnInput } = await import('../io/paths.js');
  await refuseOutputOnInput(
    [{ path: outDir, what: '--out' }],
    [
      { path: values.model, what: 'the model' },
      { path: values.data, what: '--data' },
      ...(values.hess ? [{ path: values.hess, what: 'the HeSS file' }] : []),
    ],
  );
  await checkWritableFolder(outDir, { create: true, what: '--out' });
  await checkModelPath(values.model);
  const hess = values.hess ? await readHess(values.hess) : undefined;
  const { readCalibrationScenes } = await import('../calibrate/dataset/reader.js');
  const { loadModel } = await import('../model/load-model.js');
  const { evaluate } = await import('../evaluate/harness.js');
  const { writeReport, renderMarkdown } = await import('../evaluate/report.js');
  const scenes = await readCalibrationScenes(values.data, { maxScenes });
  const model = await loadModel(values.model, { device }).catch((e) => {
    throw withWasmFix(e);
  }); // VGGT or π³
  try {
    const report = await evaluate(model, scenes, {
      policies: policies as Policy[],
      sparsities,
      hess,
      lambdas,
      allocations,
      queryBlock,
      keyBlock,
      planner,
      mode,
      targetSize,
      maxFrames,
      minConf,
      threshold,
      onProgress: (e) =>
        io.err(`[${e.done}/${e.total}] ${e.scene} ${e.policy}${e.policy === 'dense' ? '' : ` ρ=${e.sparsity}`}`),
    });
    const files = await writeReport(report, outDir);
    io.log(renderMarkdown(report).split('\n## Per scene')[0]);
    io.log(`wrote ${[files.md, files.json, files.svg, files.heatmap].filter(Boolean).join(', ')}`);
  } finally {
    await model.dispose();
  }
  return 0;
}

/** `hess-vggt calibrate --model <dir> --data <dir> --out hess.json`, resumable through <out>.progress.json. */
export async function calibrateCommand(argv: string[], io: CliIo = consoleIo): Promise<number> {
  const { values } = parse('calibrate', {
    args: argv,
    allowPositionals: false,
    options: {
      help: { type: 'boolean', short: 'h' },
      model: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
      lambda: { type: 'string' },
      epsilon: { type: 'string' },
      'max-scenes': { type: 'string' },
      restart: { type: 'boolean' },
      device: { type: 'string' },
      'target-size': { type: 'string' },
    },
  } as const);
  if (values.help) return (io.log(commandHelp('calibrate')), 0);
  if (!values.model || !values.data || !values.out)
    throw usage('calibrate', 'calibrate needs --model, --data and --out');
  const device = oneOf(values.device, 'device', ['wasm', 'webgpu'] as const, 'wasm');
  const lambda = numberIn(values.lambda, 'lambda', 0, 1, { example: '0.5' });
  const epsilon = numberIn(values.epsilon, 'epsilon', 0, Number.MAX_VALUE, { minOpen: true, example: '0.05' });
  const maxScenes = positiveInt(values['max-scenes'], 'max-scenes');
  const targetSize = positiveInt(values['target-size'], 'target-size', 1 << 14);
  if (targetSize !== undefined && targetSize % 14 !== 0)
    throw new HessError(
      'INVALID_ARGUMENT',
      `--target-size must be a multiple of 14, got ${targetSize}`,
      'e.g. --target-size 518',
    );
  const out = values.out;
  const progressPath = `${out}.progress.json`;
  const { checkOutputFile, writeFileAtomic } = await import('../io/atomic-write.js');
  const { refuseOutputOnInput } = await import('../io/paths.js');
  // Before the first scene (which can take minutes): the outputs' folder is usable and no output is an input.
  await checkOutputFile(out, '--out');
  await refuseOutputOnInput(
    [
      { path: out, what: '--out' },
      { path: progressPath, what: 'the progress file' },
    ],
    [
      { path: values.model, what: 'the model' },
      { path: values.data, what: '--data' },
    ],
  );
  await checkModelPath(values.model);
  const fs = await import('node:fs/promises');
  const { readCalibrationScenes } = await import('../calibrate/dataset/reader.js');
  const { calibrate } = await import('../calibrate/calibrate.js');
  let resumeFrom;
  if (!values.restart) {
    const text = await fs.readFile(progressPath, 'utf8').catch(() => null);
    if (text) {
      try {
        resumeFrom = JSON.parse(text);
      } catch (e) {
        throw new HessError('IO_ERROR', `${progressPath} is not valid JSON`, 'delete it or pass --restart', {
          cause: e,
        });
      }
      io.err(`resuming: ${resumeFrom?.done?.length ?? 0} scene(s) already done (${progressPath})`);
    }
  }
  const scenes = await readCalibrationScenes(values.data, { maxScenes });
  const target =
    device === 'webgpu'
      ? {
          ep: 'webgpu' as const,
          gpu: await (await import('../gpu/device.js')).createDevice().catch((e) => {
            throw withWasmFix(e);
          }),
        }
      : { ep: 'wasm' as const };
  const t0 = performance.now();
  const hess = await calibrate({ checkpoint: values.model, gradients: { target } }, scenes, {
    lambda,
    epsilon,
    resumeFrom,
    targetSize,
    description: `hess-vggt calibrate on ${values.data}`,
    onProgress: (e) => {
      const done = e.index + (e.stage === 'scene-done' || e.stage === 'skip' ? 1 : 0);
      const elapsed = performance.now() - t0;
      const eta =
        e.total && done > 0 && done < e.total
          ? `, ETA ${((elapsed * (e.total - done)) / done / 1000).toFixed(0)} s`
          : '';
      io.err(`[${e.index + 1}/${e.total ?? '?'}] ${e.scene}: ${e.stage} (${(elapsed / 1000).toFixed(0)} s${eta})`);
    },
    // Temporary + rename: a kill mid-write never leaves a truncated progress file.
    onSceneDone: (state) => writeFileAtomic(progressPath, JSON.stringify(state)),
  });
  await writeFileAtomic(out, JSON.stringify(hess, null, 2));
  // The heat map of the scores beside the file (the picture users look at first).
  const heatmap = out.replace(/(\.json)?$/i, '.svg');
  const { renderHessHeatmap } = await import('../evaluate/heatmap.js');
  await writeFileAtomic(heatmap, renderHessHeatmap(hess));
  await fs.rm(progressPath, { force: true });
  io.log(
    `wrote ${out} and ${heatmap} (${hess.layers} layers × ${hess.heads} heads, ${hess.calibration.scenes} scenes)`,
  );
  return 0;
}

/** `hess-vggt co3d <root> <outdir> --categories a,b [--frames 10] [--max-sequences N]`. */
export async function co3dCommand(argv: string[], io: CliIo = consoleIo): Promise<number> {
  const { values, positionals } = parse('co3d', {
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      categories: { type: 'string' },
      frames: { type: 'string' },
      'max-sequences': { type: 'string' },
    },
  } as const);
  if (values.help) return (io.log(commandHelp('co3d')), 0);
  if (positionals.length !== 2 || !values.categories)
    throw usage('co3d', 'co3d needs <co3d-root> <outdir> --categories a,b');
  const [root, out] = positionals;
  const frames = positiveInt(values.frames, 'frames', 100_000) ?? 10;
  const maxSeq = positiveInt(values['max-sequences'], 'max-sequences');
  const categories = values.categories
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (categories.length === 0) throw usage('co3d', '--categories is empty');
  const { checkPlainName } = await import('../calibrate/dataset/format.js');
  for (const c of categories) {
    try {
      checkPlainName(c, 'category');
    } catch {
      throw new HessError(
        'INVALID_ARGUMENT',
        `--categories: "${c}" is not a category folder name`,
        'e.g. --categories apple,teddybear',
      );
    }
  }
  const { checkWritableFolder } = await import('../io/atomic-write.js');
  const { refuseOutputOnInput, resolveInside } = await import('../io/paths.js');
  await refuseOutputOnInput([{ path: out, what: '<outdir>' }], [{ path: root, what: '<co3d-root>' }]);
  await checkWritableFolder(out, { create: true, what: '<outdir>' });
  const fs = await import('node:fs/promises');
  const { gunzipSync } = await import('node:zlib');
  const { co3dToCalibration, parseCo3dAnnotations, parsePlyPoints, writeCalibrationScene, joinPath } = await import(
    '../calibrate/dataset/index.js'
  );
  let written = 0;
  for (const cat of categories) {
    const annPath = joinPath(root, cat, 'frame_annotations.jgz');
    const raw = await fs.readFile(annPath).catch((e) => {
      throw new HessError(
        'IO_ERROR',
        `cannot read ${annPath}: ${String(e?.message ?? e)}`,
        'point <co3d-root> at the CO3Dv2 folder holding <category>/frame_annotations.jgz',
      );
    });
    let json: unknown;
    try {
      json = JSON.parse(gunzipSync(raw).toString('utf8'));
    } catch (e) {
      throw new HessError('BAD_DATASET', `${annPath} is not gzip-compressed JSON`, 'use the CO3Dv2 annotation file', {
        cause: e,
      });
    }
    const all = parseCo3dAnnotations(json, annPath); // BAD_DATASET for {}, [null], a frame without image, "../" names
    type Frame = (typeof all)[number];
    const bySeq = new Map<string, Frame[]>();
    for (const f of all) if (f.viewpoint) bySeq.set(f.sequence_name, [...(bySeq.get(f.sequence_name) ?? []), f]);
    let seqs = [...bySeq.keys()].sort();
    if (maxSeq) seqs = seqs.slice(0, maxSeq);
    for (const seq of seqs) {
      const fr = bySeq.get(seq)!.sort((a, b) => a.frame_number - b.frame_number);
      // Evenly spaced frames: deterministic, and spread over the whole trajectory.
      const n = Math.min(frames, fr.length);
      const picked = Array.from({ length: n }, (_, i) => fr[Math.floor((i * fr.length) / n)]);
      const plyPath = await resolveInside(root, [cat, seq, 'pointcloud.ply'], `sequence_name`);
      const ply = await fs.readFile(plyPath).catch(() => null);
      const pointCloud = ply ? parsePlyPoints(new Uint8Array(ply.buffer, ply.byteOffset, ply.byteLength)) : undefined;
      const conv = co3dToCalibration(picked, { sequenceName: seq, pointCloud });
      if (!conv.points)
        io.err(`warning: ${cat}/${seq} has no pointcloud.ply: cameras only (the eval needs GT points or depth)`);
      const images = [];
      for (const i of conv.images)
        images.push({ name: i.target, source: await resolveInside(root, [i.source], `${cat}/${seq}: image.path`) });
      await writeCalibrationScene(out, `${cat}_${seq}`, { cameras: conv.cameras, images, points: conv.points });
      written++;
    }
  }
  io.log(`wrote ${written} scene(s) to ${out}`);
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// dispatch
// ---------------------------------------------------------------------------------------------------------------

const COMMANDS: Record<CommandName, (argv: string[], io: CliIo) => Promise<number>> = {
  run: runCommand,
  convert: convertCommand,
  eval: evalCommand,
  calibrate: calibrateCommand,
  co3d: co3dCommand,
  probe: probeCommand,
};

/** Codes that mean the run itself failed (not the user's input): exit 1 instead of 2. */
const RUNTIME_CODES: ReadonlySet<HessErrorCode> = new Set([
  'ORT_ERROR',
  'GPU_ERROR',
  'DEVICE_LOST',
  'ABORTED',
  'DISPOSED',
]);

/**
 * The whole CLI: dispatch `argv` (the arguments after `hess-vggt`) and turn every HessError into one line
 * `error [CODE]: message — fix` on `io.err`. Returns the exit code: 0, 2 for errors in the input (arguments,
 * files, data), 1 for failures of the run itself. Anything not a HessError is a bug and is rethrown.
 *
 * @example process.exit(await runCli(process.argv.slice(2), consoleIo, '0.1.0'));
 */
export async function runCli(argv: string[], io: CliIo = consoleIo, version = '?'): Promise<number> {
  const cmd = argv[0];
  try {
    if (cmd === '--help' || cmd === '-h' || cmd === 'help') return (io.log(HELP), 0);
    if (cmd === '--version' || cmd === '-v' || cmd === 'version') return (io.log(version), 0);
    if (cmd === undefined)
      throw new HessError('INVALID_ARGUMENT', 'no command given', "run 'hess-vggt --help' for the commands");
    if (!Object.hasOwn(COMMANDS, cmd)) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `unknown command "${cmd.slice(0, 80)}"`,
        `use one of ${Object.keys(COMMANDS).join(', ')} (usage: hess-vggt --help)`,
      );
    }
    return await COMMANDS[cmd as CommandName](argv.slice(1), io);
  } catch (err) {
    let e = err;
    // A system error from a file operation we did not wrap (it names the path and the errno): still the input's fault.
    const sys = e as { code?: unknown; syscall?: unknown; message?: unknown };
    if (!(e instanceof HessError) && typeof sys?.code === 'string' && typeof sys.syscall === 'string') {
      e = new HessError('IO_ERROR', String(sys.message), 'check the paths given', { cause: err });
    }
    if (!(e instanceof HessError)) throw e;
    // One line: messages may quote user input or file text with newlines.
    io.err(`error [${e.code}]: ${e.message.replace(/\s*\n\s*/g, ' ')}`);
    return RUNTIME_CODES.has(e.code) ? 1 : 2;
  }
}
