/**
 * The `convert`, `eval`, `calibrate` and `co3d` commands of the `hess-vggt` CLI, as functions (main.ts dispatches to them;
 * tests call them directly). Each takes the arguments after the command name and returns an exit code.
 */
import { parseArgs } from 'node:util';
import { HessError } from '../errors';

/** Where commands print (tests capture it). */
export interface CliIo {
  log(line: string): void;
  err(line: string): void;
}

export const consoleIo: CliIo = { log: (l) => console.log(l), err: (l) => console.error(l) };

export const USAGE = `usage:
  hess-vggt run <images…> --model <model.safetensors|dir> --out <scene.ply> [--device webgpu|wasm] [--mode crop|pad] [--min-conf 1.5]
  hess-vggt convert <model.safetensors|dir> <outdir> [--fp16] [--camera-heads N] [--dino-heads N] [--segment-size HxW] [--no-segments]
  hess-vggt eval --model <dir> --data <dir> [--policies dense,uniform,hess] [--sparsity 0.43,0.73,0.9] [--hess hess.json] [--out <dir>]
                 [--device webgpu|wasm] [--query-block 128] [--key-block 64] [--planner wasm|gpu|auto] [--mode crop|pad]
                 [--target-size 518] [--max-scenes N] [--max-frames N] [--min-conf 0] [--threshold d]
  hess-vggt co3d <co3d-root> <outdir> --categories apple,teddybear [--frames 10] [--max-sequences N]
  hess-vggt calibrate --model <dir> --data <dir> --out hess.json [--lambda 0.5] [--epsilon 0.05] [--max-scenes N] [--restart]
                 [--device wasm|webgpu]
  hess-vggt probe
  hess-vggt --help | <command> --help   (details and the commands reproducing the HeSS paper's setting)`;

export const HELP = `${USAGE}

convert
  Validates a VGGT checkpoint (architecture read from the tensor shapes) and writes <outdir>/config.json,
  <outdir>/model.safetensors (without the track head; F32, or F16 with --fp16) and <outdir>/segments/*.onnx
  (+ manifest.json): the ONNX graphs the runtime runs. Head counts the shapes cannot show (camera trunk, DINO)
  come from a config.json next to the input or --camera-heads / --dino-heads (16 for VGGT-1B).
  --fp16 halves the file, but the loader widens F16 to float32: the model still computes in fp32; only the
  weights are rounded. DPT-head graphs bake the image size: --segment-size (default 518x518).
  Weights are streamed tensor by tensor; the checkpoint is never held in memory whole.

eval
  Runs the model on every scene folder of --data (calibration/eval format: cameras.json, images/, points.bin|ply
  and/or depth/; see src/calibrate/dataset/README.md) under each policy and sparsity ('dense' once), aligns each
  prediction to the GT with a similarity (Umeyama on the camera centres) and writes <out>/report.md,
  report.json and report.svg: camera AUC@30 (+RRA/RTA@15), point-cloud accuracy / completeness / Chamfer / F1
  (threshold: --threshold, default 1% of the GT bounding-box diagonal), depth AbsRel (if GT depth), the achieved
  sparsity and the run time. Sparse policies need WebGPU; 'hess' and 'reverse' need --hess.

calibrate
  HeSS calibration: for every scene of --data (same folder format as eval, with GT cameras and points), the
  gradients of the camera error e_cam and the point-cloud error e_pc (after similarity alignment) w.r.t. every
  global-attention head's query weights, folded into Fisher traces; writes the HeSS file (--out). Progress is
  saved to <out>.progress.json after each scene: a killed run started again continues where it stopped
  (--restart ignores it). Runs the dense model and its backward graphs on the wasm EP (default) or, with
  --device webgpu, on onnxruntime-web's WebGPU EP (needed for VGGT-1B: its fp32 weights fill the wasm heap).
  Memory stays bounded for large scenes: block activations above 256 MB are checkpointed (every ⌈√depth⌉-th
  kept, the rest recomputed) and global attention's backward runs by query chunks above 256 MB.

co3d
  Converts CO3Dv2 sequences (<root>/<category>/frame_annotations.jgz, <category>/<seq>/pointcloud.ply) into the
  scene-folder format with the CO3D adapter (PyTorch3D → OpenCV cameras), keeping --frames evenly spaced frames
  per sequence (default 10, as VGGT's CO3D evaluation).

Reproducing the HeSS paper's setting (CO3Dv2 cameras, DTU point clouds; target sparsities 0.43 / 0.73 / 0.9):
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

function usageError(io: CliIo, message: string): number {
  io.err(`error: ${message}`);
  io.err(USAGE);
  return 2;
}

type ParseConfig = NonNullable<Parameters<typeof parseArgs>[0]>;

/** parseArgs, with its errors (unknown option, missing value) turned into a usage error (null). */
function parse<T extends ParseConfig>(io: CliIo, config: T): ReturnType<typeof parseArgs<T>> | null {
  try {
    return parseArgs(config);
  } catch (e) {
    if (String((e as { code?: string }).code ?? '').startsWith('ERR_PARSE_ARGS')) {
      usageError(io, (e as Error).message.split('\n')[0]);
      return null;
    }
    throw e;
  }
}

function positiveInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new HessError('INVALID_ARGUMENT', `--${name} must be a positive integer, got ${v}`, `e.g. --${name} 16`);
  return n;
}

function numberList(v: string, name: string): number[] {
  const out = v.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (out.length === 0 || out.some((x) => !Number.isFinite(x))) {
    throw new HessError('INVALID_ARGUMENT', `--${name} must be comma-separated numbers, got "${v}"`, `e.g. --${name} 0.43,0.73,0.9`);
  }
  return out;
}

/** `hess-vggt convert <src> <outdir> [...]`. */
export async function convertCommand(argv: string[], io: CliIo = consoleIo): Promise<number> {
  const parsed = parse(io, {
    args: argv, allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' }, fp16: { type: 'boolean' }, 'camera-heads': { type: 'string' }, 'dino-heads': { type: 'string' },
      'segment-size': { type: 'string' }, 'no-segments': { type: 'boolean' },
    },
  } as const);
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  if (values.help) return (io.log(HELP), 0);
  if (positionals.length !== 2) return usageError(io, 'convert needs <model.safetensors|dir> and <outdir>');
  let segmentSize: { height: number; width: number } | undefined;
  if (values['segment-size']) {
    const m = /^(\d+)x(\d+)$/.exec(values['segment-size']);
    if (!m) return usageError(io, `--segment-size must be HxW (e.g. 350x518), got ${values['segment-size']}`);
    segmentSize = { height: Number(m[1]), width: Number(m[2]) };
  }
  const { convertCheckpoint } = await import('../model/convert');
  const t0 = performance.now();
  const r = await convertCheckpoint(positionals[0], positionals[1], {
    fp16: values.fp16 ?? false,
    cameraHeads: positiveInt(values['camera-heads'], 'camera-heads'),
    dinoHeads: positiveInt(values['dino-heads'], 'dino-heads'),
    segmentSize,
    skipSegments: values['no-segments'] ?? false,
  });
  if (r.config.assumed.length) io.err(`warning: assumed (not in the shapes or a config.json): ${r.config.assumed.join(', ')}; pass --camera-heads / --dino-heads`);
  io.log(`wrote ${positionals[1]}: ${r.tensors} tensors as ${r.dtype} (${(r.bytes / 2 ** 20).toFixed(1)} MiB)` +
    `${r.dropped ? `, dropped ${r.dropped} track-head tensors` : ''}, ${r.segments.length} segment files, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

/** `hess-vggt eval --model <dir> --data <dir> [...]`. */
export async function evalCommand(argv: string[], io: CliIo = consoleIo): Promise<number> {
  const parsed = parse(io, {
    args: argv, allowPositionals: false,
    options: {
      help: { type: 'boolean', short: 'h' }, model: { type: 'string' }, data: { type: 'string' }, policies: { type: 'string' }, sparsity: { type: 'string' },
      hess: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' }, 'query-block': { type: 'string' },
      'key-block': { type: 'string' }, planner: { type: 'string' }, mode: { type: 'string' }, 'target-size': { type: 'string' },
      'max-scenes': { type: 'string' }, 'max-frames': { type: 'string' }, 'min-conf': { type: 'string' }, threshold: { type: 'string' },
    },
  } as const);
  if (!parsed) return 2;
  const { values } = parsed;
  if (values.help) return (io.log(HELP), 0);
  if (!values.model || !values.data) return usageError(io, 'eval needs --model and --data');
  const policies = (values.policies ?? 'dense').split(',').map((s) => s.trim()).filter(Boolean) as ('dense' | 'uniform' | 'hess' | 'reverse')[];
  const sparsities = numberList(values.sparsity ?? '0.43,0.73,0.9', 'sparsity');
  const device = (values.device ?? 'webgpu') as 'webgpu' | 'wasm';
  if (device !== 'webgpu' && device !== 'wasm') return usageError(io, `--device must be webgpu or wasm, got ${device}`);
  const mode = (values.mode ?? 'crop') as 'crop' | 'pad';
  if (mode !== 'crop' && mode !== 'pad') return usageError(io, `--mode must be crop or pad, got ${mode}`);
  const planner = values.planner as 'wasm' | 'gpu' | 'auto' | undefined;
  if (planner && !['wasm', 'gpu', 'auto'].includes(planner)) return usageError(io, `--planner must be wasm, gpu or auto, got ${planner}`);
  const fs = await import('node:fs/promises');
  let hess;
  if (values.hess) {
    const { parseHessFile } = await import('../calibrate/hess-file');
    const text = await fs.readFile(values.hess, 'utf8').catch((e) => {
      throw new HessError('IO_ERROR', `cannot read ${values.hess}: ${String(e?.message ?? e)}`, 'check the --hess path');
    });
    hess = parseHessFile(text);
  }
  const { readCalibrationScenes } = await import('../calibrate/dataset/reader');
  const { Vggt } = await import('../model/vggt/model');
  const { evaluate } = await import('../evaluate/harness');
  const { writeReport, renderMarkdown } = await import('../evaluate/report');
  const scenes = await readCalibrationScenes(values.data, { maxScenes: positiveInt(values['max-scenes'], 'max-scenes') });
  const model = await Vggt.load(values.model, { device });
  try {
    const report = await evaluate(model, scenes, {
      policies, sparsities, hess,
      queryBlock: positiveInt(values['query-block'], 'query-block'),
      keyBlock: positiveInt(values['key-block'], 'key-block'),
      planner, mode,
      targetSize: positiveInt(values['target-size'], 'target-size'),
      maxFrames: positiveInt(values['max-frames'], 'max-frames'),
      minConf: values['min-conf'] !== undefined ? Number(values['min-conf']) : undefined,
      threshold: values.threshold !== undefined ? Number(values.threshold) : undefined,
      onProgress: (e) => io.err(`[${e.done}/${e.total}] ${e.scene} ${e.policy}${e.policy === 'dense' ? '' : ` ρ=${e.sparsity}`}`),
    });
    const files = await writeReport(report, values.out ?? './eval-report');
    io.log(renderMarkdown(report).split('\n## Per scene')[0]);
    io.log(`wrote ${files.md}, ${files.json}, ${files.svg}`);
  } finally {
    await model.dispose();
  }
  return 0;
}

/** `hess-vggt calibrate --model <dir> --data <dir> --out hess.json`, resumable through <out>.progress.json. */
export async function calibrateCommand(argv: string[], io: CliIo = consoleIo): Promise<number> {
  const parsed = parse(io, {
    args: argv, allowPositionals: false,
    options: {
      help: { type: 'boolean', short: 'h' }, model: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' },
      lambda: { type: 'string' }, epsilon: { type: 'string' }, 'max-scenes': { type: 'string' }, restart: { type: 'boolean' },
      device: { type: 'string' },
    },
  } as const);
  if (!parsed) return 2;
  const { values } = parsed;
  if (values.help) return (io.log(HELP), 0);
  if (!values.model || !values.data || !values.out) return usageError(io, 'calibrate needs --model, --data and --out');
  const device = values.device ?? 'wasm';
  if (device !== 'webgpu' && device !== 'wasm') return usageError(io, `--device must be webgpu or wasm, got ${device}`);
  const fs = await import('node:fs/promises');
  const { readCalibrationScenes } = await import('../calibrate/dataset/reader');
  const { calibrate } = await import('../calibrate/calibrate');
  const progressPath = `${values.out}.progress.json`;
  let resumeFrom;
  if (!values.restart) {
    const text = await fs.readFile(progressPath, 'utf8').catch(() => null);
    if (text) {
      try {
        resumeFrom = JSON.parse(text);
      } catch (e) {
        throw new HessError('IO_ERROR', `${progressPath} is not valid JSON`, 'delete it or pass --restart', { cause: e });
      }
      io.err(`resuming: ${resumeFrom?.done?.length ?? 0} scene(s) already done (${progressPath})`);
    }
  }
  const scenes = await readCalibrationScenes(values.data, { maxScenes: positiveInt(values['max-scenes'], 'max-scenes') });
  const target = device === 'webgpu'
    ? { ep: 'webgpu' as const, gpu: await (await import('../gpu/device')).createDevice() }
    : { ep: 'wasm' as const };
  const hess = await calibrate({ checkpoint: values.model, gradients: { target } }, scenes, {
    lambda: values.lambda !== undefined ? Number(values.lambda) : undefined,
    epsilon: values.epsilon !== undefined ? Number(values.epsilon) : undefined,
    resumeFrom,
    description: `hess-vggt calibrate on ${values.data}`,
    onProgress: (e) => io.err(`[${e.index + 1}/${e.total ?? '?'}] ${e.scene}: ${e.stage}`),
    // Written to a temporary file and renamed, so a kill mid-write never leaves a truncated progress file.
    onSceneDone: async (state) => {
      await fs.writeFile(`${progressPath}.tmp`, JSON.stringify(state));
      await fs.rename(`${progressPath}.tmp`, progressPath);
    },
  });
  await fs.writeFile(values.out, JSON.stringify(hess, null, 2));
  await fs.rm(progressPath, { force: true });
  io.log(`wrote ${values.out} (${hess.layers} layers × ${hess.heads} heads, ${hess.calibration.scenes} scenes)`);
  return 0;
}

/** `hess-vggt co3d <root> <outdir> --categories a,b [--frames 10] [--max-sequences N]`. */
export async function co3dCommand(argv: string[], io: CliIo = consoleIo): Promise<number> {
  const parsed = parse(io, {
    args: argv, allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, categories: { type: 'string' }, frames: { type: 'string' }, 'max-sequences': { type: 'string' } },
  } as const);
  if (!parsed) return 2;
  const { values, positionals } = parsed;
  if (values.help) return (io.log(HELP), 0);
  if (positionals.length !== 2 || !values.categories) return usageError(io, 'co3d needs <co3d-root> <outdir> --categories a,b');
  const [root, out] = positionals;
  const frames = positiveInt(values.frames, 'frames') ?? 10;
  const maxSeq = positiveInt(values['max-sequences'], 'max-sequences');
  const fs = await import('node:fs/promises');
  const { gunzipSync } = await import('node:zlib');
  const { co3dToCalibration, parsePlyPoints, writeCalibrationScene } = await import('../calibrate/dataset/index');
  type Frame = import('../calibrate/dataset/co3d').Co3dFrameAnnotation;
  let written = 0;
  for (const cat of values.categories.split(',').map((s) => s.trim()).filter(Boolean)) {
    const annPath = `${root}/${cat}/frame_annotations.jgz`;
    const raw = await fs.readFile(annPath).catch((e) => {
      throw new HessError('IO_ERROR', `cannot read ${annPath}: ${String(e?.message ?? e)}`, 'point <co3d-root> at the CO3Dv2 folder holding <category>/frame_annotations.jgz');
    });
    let all: Frame[];
    try {
      all = JSON.parse(gunzipSync(raw).toString('utf8')) as Frame[];
    } catch (e) {
      throw new HessError('BAD_DATASET', `${annPath} is not gzip-compressed JSON`, 'use the CO3Dv2 annotation file', { cause: e });
    }
    const bySeq = new Map<string, Frame[]>();
    for (const f of all) if (f.viewpoint) bySeq.set(f.sequence_name, [...(bySeq.get(f.sequence_name) ?? []), f]);
    let seqs = [...bySeq.keys()].sort();
    if (maxSeq) seqs = seqs.slice(0, maxSeq);
    for (const seq of seqs) {
      const fr = bySeq.get(seq)!.sort((a, b) => a.frame_number - b.frame_number);
      // Evenly spaced frames: deterministic, and spread over the whole trajectory.
      const n = Math.min(frames, fr.length);
      const picked = Array.from({ length: n }, (_, i) => fr[Math.floor((i * fr.length) / n)]);
      const plyPath = `${root}/${cat}/${seq}/pointcloud.ply`;
      const ply = await fs.readFile(plyPath).catch(() => null);
      const pointCloud = ply ? parsePlyPoints(new Uint8Array(ply.buffer, ply.byteOffset, ply.byteLength)) : undefined;
      const conv = co3dToCalibration(picked, { sequenceName: seq, pointCloud });
      if (!conv.points) io.err(`warning: ${cat}/${seq} has no pointcloud.ply: cameras only (the eval needs GT points or depth)`);
      await writeCalibrationScene(out, `${cat}_${seq}`, {
        cameras: conv.cameras,
        images: conv.images.map((i) => ({ name: i.target, source: `${root}/${i.source}` })),
        points: conv.points,
      });
      written++;
    }
  }
  io.log(`wrote ${written} scene(s) to ${out}`);
  return 0;
}
