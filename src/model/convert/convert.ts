/**
 * `hess-vggt convert`: a VGGT or π³ checkpoint (told apart by its tensor names, `detectModelKind`) → a model
 * folder the runtime loads directly (`Vggt.load`, `Pi3.load`, `loadModel`):
 *
 * - `config.json`: the architecture inferred from the tensor shapes, in the snake_case keys the model's config
 *   reader takes back (`inferVggtConfig`, `inferPi3Config`), and `model: 'vggt' | 'pi3'` (checked against the
 *   tensors on load). Head counts the shapes cannot show come from the options, else a config.json next to the
 *   input, else a default listed in `assumed` (VGGT: camera trunk and DINO heads; π³: encoder and head-decoder
 *   heads, defaulting to the decoder's, which is right for yyfz233/Pi3);
 * - `model.safetensors`: as F32 or F16, written tensor by tensor (the checkpoint is never held in memory whole:
 *   VGGT-1B is ~5 GB in fp32). VGGT loses its track head (the runtime has no tracker); π³ keeps every tensor;
 * - `segments/*.onnx` + `segments/manifest.json` (`convert-segments.ts`): the ONNX graphs the runtime builds.
 *
 * F16 halves the download. How it is computed is chosen when loading, not here: with the default `dtype: 'fp32'`
 * the reader widens F16 to float32, so only the weights are rounded (to 11 significant bits), not the arithmetic;
 * with `dtype: 'fp16'` (WebGPU with shader-f16) the F16 tensors are uploaded as stored, without widening or a
 * second rounding, and the trunk (and VGGT's heads) compute in float16.
 *
 * Node, Deno or Bun only (writes files).
 */
import { HessError, check, throwIfAborted } from '../../errors.js';
import { AtomicBatch, checkWritableFolder } from '../../io/atomic-write.js';
import { refuseOutputOnInput } from '../../io/paths.js';
import { openCheckpointPath } from '../source/checkpoint.js';
import {
  inferVggtConfig,
  type TensorShapes,
  type TrunkConfig,
  type VggtConfig,
  type VggtConfigOverride,
} from '../config.js';
import { configJson } from './config-json.js';
import { type SegmentModel, writeSegments } from './segments.js';
import { detectModelKind, type ModelKind } from '../load-model.js';
import { inferPi3Config, type Pi3Config } from '../pi3/config.js';
import { PI3_DECODERS, pi3DecoderDims } from '../pi3/heads-graph.js';
import { nodeFs } from '../../io/node-fs.js';
import { SafetensorsWriter, type TensorSpec } from './safetensors-writer.js';

export { configJson } from './config-json.js';
export { SafetensorsWriter, type TensorSpec, toF16Bytes } from './safetensors-writer.js';

const join = (...p: string[]) => p.join('/').replace(/\/+/g, '/');

/** Options of {@link convertCheckpoint}. */
export interface ConvertOptions {
  /** Store weights as F16 (half the size; see the module comment for how they are computed). Default false. */
  fp16?: boolean;
  /** VGGT only: camera-trunk heads (not visible in the shapes); default: config.json next to the input, else the aggregator's. */
  cameraHeads?: number;
  /** DINO heads (π³: its DINOv2 encoder's); default: config.json next to the input, else the trunk's. */
  dinoHeads?: number;
  /** π³ only: heads of the point, conf and camera decoders (they share one count); default: config.json, else the decoder's. */
  headHeads?: number;
  /**
   * Image size the exported head graphs are built for (they bake H×W). VGGT's DPT heads: default config.json's
   * height/width, else 518×518. π³'s heads graph takes any size unless this is given.
   */
  segmentSize?: { height: number; width: number };
  /** Skip `segments/` (default false). */
  skipSegments?: boolean;
  onProgress?: (e: { stage: 'weights' | 'segments' | 'done'; progress: number; message?: string }) => void;
  signal?: AbortSignal;
}

/** What {@link convertCheckpoint} wrote. */
export interface ConvertResult {
  /** Which model the checkpoint holds (also config.json's `model`). */
  model: ModelKind;
  config: VggtConfig | Pi3Config;
  /** Tensors written / dropped (VGGT's track head; π³ drops none). */
  tensors: number;
  dropped: number;
  /** Bytes of the output model.safetensors. */
  bytes: number;
  dtype: 'F32' | 'F16';
  /** Segment files written (relative to outdir). */
  segments: string[];
  files: string[];
}

/**
 * Convert a VGGT or π³ checkpoint (file path, or a folder holding model.safetensors; the model is detected from
 * the tensor names) into `outdir` (config.json, model.safetensors, segments/*.onnx). Validates the checkpoint with
 * the model's config reader first; throws BAD_CHECKPOINT on a malformed one, INVALID_ARGUMENT for an option of the
 * other model.
 *
 * @example
 * await convertCheckpoint('VGGT-1B/model.safetensors', './vggt-1b-fp16', { fp16: true, cameraHeads: 16 });
 * await convertCheckpoint('Pi3/model.safetensors', './pi3-fp16', { fp16: true });
 * const model = await loadModel('./pi3-fp16'); // a Pi3
 */
export async function convertCheckpoint(
  source: string,
  outdir: string,
  opts: ConvertOptions = {},
): Promise<ConvertResult> {
  const { fs } = await nodeFs('convert');
  const progress = opts.onProgress ?? (() => {});
  // Before any work: the outputs must not land on the checkpoint (or its config.json) and the folder must be usable.
  const sourceFile = source.startsWith('file:') ? new URL(source).pathname : source;
  const inputs = [{ path: sourceFile, what: 'the checkpoint' }];
  if (
    !(await fs.stat(sourceFile).then(
      (st) => st.isDirectory(),
      () => true,
    ))
  ) {
    inputs.push({
      path: join(sourceFile.includes('/') ? sourceFile.replace(/[^/]*$/, '') : '.', 'config.json'),
      what: "the checkpoint's config.json",
    });
  }
  await refuseOutputOnInput(
    ['model.safetensors', 'config.json', 'segments'].map((f) => ({ path: join(outdir, f), what: `the output ${f}` })),
    inputs,
  );
  await checkWritableFolder(outdir, { create: true, what: '<outdir>' });
  const opened = await openCheckpointPath(source, { signal: opts.signal });
  const { st } = opened;
  // Every file goes to a temporary sibling; all are renamed into place only after the last one is complete.
  const batch = await AtomicBatch.create();
  try {
    const model = detectModelKind(st.tensors, opened.override as { model?: unknown });
    const config = readConfig(model, st.tensors, opened.override, opts);
    const name = model === 'pi3' ? 'π³' : 'VGGT';
    const dtype = opts.fp16 ? 'F16' : 'F32';
    const keep = [...st.tensors.values()].filter((t) => model === 'pi3' || !t.name.startsWith('track_head.'));
    const dropped = st.tensors.size - keep.length;
    const floatTypes = new Set(['F64', 'F32', 'F16', 'BF16']);
    for (const t of keep) {
      if (!floatTypes.has(t.dtype)) {
        throw new HessError(
          'BAD_CHECKPOINT',
          `tensor ${t.name} is ${t.dtype}; ${name} weights are floating point`,
          `use an unmodified ${name} checkpoint`,
        );
      }
    }
    const segmentModel = opts.skipSegments ? null : segmentModelOf(model, config, opts, opened.override);
    await batch.mkdir(outdir);
    const files: string[] = [];

    // --- weights, streamed ---
    const modelPath = join(outdir, 'model.safetensors');
    const specs: TensorSpec[] = keep.map((t) => ({ name: t.name, dtype, shape: t.shape }));
    const modelTemp = batch.reserve(modelPath);
    const writer = await SafetensorsWriter.create(modelTemp, specs, {
      format: 'pt',
      converted_by: 'hess-vggt convert',
      source_dtype: [...new Set(keep.map((t) => t.dtype))].join(','),
    });
    try {
      let i = 0;
      for (const t of keep) {
        throwIfAborted(opts.signal);
        await writer.write(t.name, await st.read(t.name));
        progress({ stage: 'weights', progress: ++i / keep.length });
      }
    } catch (e) {
      await writer.abort(); // the write's own error is the one to report, not "only k of n tensors were written"
      throw e;
    }
    await writer.close();
    files.push('model.safetensors');
    const bytes = (await fs.stat(modelTemp)).size;

    const json = configJson(config, {
      ...(model === 'pi3' ? pi3HeadWidths(st.tensors) : {}),
      weights_dtype: dtype === 'F16' ? 'float16' : 'float32',
      converted_from: opened.file.split('/').pop(),
    });
    await batch.write(join(outdir, 'config.json'), JSON.stringify(json, null, 2));
    files.push('config.json');

    // --- segment graphs ---
    const segments = segmentModel
      ? await writeSegments(st, segmentModel, outdir, batch, { signal: opts.signal, onProgress: progress })
      : [];
    files.push(...segments);
    await batch.commit();
    progress({ stage: 'done', progress: 1 });
    return { model, config, tensors: keep.length, dropped, bytes, dtype, segments, files };
  } catch (e) {
    await batch.abort();
    throw e;
  } finally {
    await st.close();
  }
}

/** The model's config from the shapes, config.json beside the input and the options (which win over it). */
function readConfig(
  model: ModelKind,
  tensors: TensorShapes,
  override: VggtConfigOverride,
  opts: ConvertOptions,
): VggtConfig | Pi3Config {
  const other = (option: string, fix: string) =>
    new HessError(
      'INVALID_ARGUMENT',
      `${option} is for ${model === 'pi3' ? 'VGGT' : 'π³'}; this checkpoint is ${model === 'pi3' ? 'π³' : 'VGGT'}`,
      fix,
    );
  if (model === 'pi3') {
    // VGGT's camera trunk heads have no π³ counterpart of their own: π³'s point, conf and camera decoders share one.
    if (opts.cameraHeads !== undefined)
      throw other('cameraHeads (--camera-heads)', "drop it; π³'s head decoders share one head count: --head-heads N");
    return inferPi3Config(tensors, {
      ...override,
      ...(opts.dinoHeads !== undefined ? { encoder_heads: opts.dinoHeads } : {}),
      ...(opts.headHeads !== undefined ? { head_dec_heads: opts.headHeads } : {}),
    });
  }
  if (opts.headHeads !== undefined)
    throw other('headHeads (--head-heads)', "drop it; VGGT's head counts are --camera-heads and --dino-heads");
  return inferVggtConfig(tensors, {
    ...override,
    ...(opts.cameraHeads !== undefined ? { camera_heads: opts.cameraHeads } : {}),
    ...(opts.dinoHeads !== undefined ? { dino_heads: opts.dinoHeads } : {}),
  });
}

/** π³'s head-decoder widths (informational: the runtime reads them from the shapes); checks the heads exist. */
function pi3HeadWidths(tensors: TensorShapes): Record<string, number> {
  const [point, , camera] = PI3_DECODERS.map((d) => pi3DecoderDims(tensors, d));
  return { head_dec_dim: point!.dim, head_dec_depth: point!.depth, camera_dim: camera!.outDim };
}

/** What the segments are built for, the image size checked before anything is written. */
function segmentModelOf(
  model: ModelKind,
  config: VggtConfig | Pi3Config,
  opts: ConvertOptions,
  override: VggtConfigOverride,
): SegmentModel {
  if (model === 'pi3') {
    const c = config as Pi3Config;
    return { kind: 'pi3', config: c, size: opts.segmentSize && checkSize(c, opts.segmentSize) };
  }
  const c = config as VggtConfig;
  const size = {
    height: opts.segmentSize?.height ?? (typeof override.height === 'number' ? override.height : 518),
    width: opts.segmentSize?.width ?? (typeof override.width === 'number' ? override.width : 518),
  };
  return { kind: 'vggt', config: c, size: checkSize(c, size) };
}

function checkSize(c: TrunkConfig, size: { height: number; width: number }): { height: number; width: number } {
  const { height: H, width: W } = size;
  check(
    Number.isSafeInteger(H) &&
      Number.isSafeInteger(W) &&
      H > 0 &&
      W > 0 &&
      H % c.patchSize === 0 &&
      W % c.patchSize === 0,
    `segment size ${H}×${W} must be positive multiples of ${c.patchSize}`,
    `pass e.g. --segment-size ${c.patchSize * 25}x${c.patchSize * 37}`,
  );
  return size;
}
