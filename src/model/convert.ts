/**
 * `hess-vggt convert`: a VGGT checkpoint → a model folder the runtime loads directly:
 *
 * - `config.json`: the architecture inferred from the tensor shapes (snake_case, the keys `inferVggtConfig`
 *   reads back), with `camera_heads` / `dino_heads` taken from a config.json next to the input or the options;
 * - `model.safetensors`: every tensor but the track head (the runtime has no tracker), as F32 or F16, written
 *   tensor by tensor (the checkpoint is never held in memory whole: VGGT-1B is ~5 GB in fp32);
 * - `segments/*.onnx` + `segments/manifest.json`: the ONNX graphs of the segments the runtime builds (the
 *   aggregator's per-type graphs and the heads take their weights as inputs, named in the manifest; only the
 *   small patch embed and DINO bridge bake theirs), for inspection or use by other ONNX runtimes.
 *
 * F16 halves the download, but the reader widens F16 to f32 on load, so the runtime still computes in fp32:
 * only the weights are rounded (to 11 significant bits), not the arithmetic.
 *
 * Node, Deno or Bun only (writes files).
 */
import { openCheckpointPath } from './checkpoint.js';
import { HessError, check, throwIfAborted } from '../errors.js';
import { inferVggtConfig, type VggtConfig, type VggtConfigOverride } from './config.js';
import type { Safetensors } from './safetensors.js';
import { AGGREGATOR_EPS, DINO_EPS } from './trunk/aggregator.js';
import { buildDenseAttentionGraph } from './trunk/attention-core.js';
import {
  type BlockDims,
  buildBridgeGraph,
  buildEmbedGraph,
  buildGlobalPostGraph,
  buildGlobalPreGraph,
  buildLocalBlockGraph,
  postParams,
  preParams,
} from './trunk/blocks.js';
import { cameraHeadInputsGraph } from './vggt/camera-head.js';
import { dptHeadInputsGraph } from './vggt/dpt-head.js';
import type { HeadParam } from './heads/head-params.js';
import { VGGT_OPSET } from './graph/ops.js';
import { AtomicBatch, checkWritableFolder } from '../io/atomic-write.js';
import { refuseOutputOnInput } from '../io/paths.js';
import { nodeFs, SafetensorsWriter, type TensorSpec } from './safetensors-writer.js';

export { SafetensorsWriter, type TensorSpec, toF16Bytes } from './safetensors-writer.js';

const join = (...p: string[]) => p.join('/').replace(/\/+/g, '/');

// ---------------------------------------------------------------------------------------------------------------
// config.json
// ---------------------------------------------------------------------------------------------------------------

/** The snake_case config.json of a converted model (read back by `inferVggtConfig` as an override). */
export function configJson(cfg: VggtConfig, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const dpt = cfg.depthHead ?? cfg.pointHead;
  return {
    embed_dim: cfg.embedDim,
    num_heads: cfg.numHeads,
    depth: cfg.depth,
    dino_depth: cfg.dino.depth,
    dino_heads: cfg.dino.heads,
    dino_img_size: cfg.dino.imgSize,
    patch_size: cfg.patchSize,
    num_register_tokens: cfg.numRegisterTokens,
    ...(cfg.camera ? { camera_heads: cfg.camera.heads, camera_trunk_depth: cfg.camera.trunkDepth } : {}),
    ...(dpt ? { dpt_features: dpt.features, dpt_out_channels: [...dpt.outChannels] } : {}),
    patch_start_idx: cfg.patchStartIdx,
    mlp_hidden_dim: cfg.mlpHiddenDim,
    heads: { camera: cfg.camera !== null, depth: cfg.depthHead !== null, point: cfg.pointHead !== null },
    assumed: [...cfg.assumed],
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// convertCheckpoint
// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link convertCheckpoint}. */
export interface ConvertOptions {
  /** Store weights as F16 (half the size; the runtime widens them to f32 on load). Default false. */
  fp16?: boolean;
  /** Camera-trunk heads (not visible in the shapes); default: config.json next to the input, else the aggregator's. */
  cameraHeads?: number;
  /** DINO heads; default: config.json next to the input, else the aggregator's. */
  dinoHeads?: number;
  /** Image size the exported DPT-head graphs are built for (they bake H×W); default config height/width or 518×518. */
  segmentSize?: { height: number; width: number };
  /** Skip `segments/` (default false). */
  skipSegments?: boolean;
  onProgress?: (e: { stage: 'weights' | 'segments' | 'done'; progress: number; message?: string }) => void;
  signal?: AbortSignal;
}

/** What {@link convertCheckpoint} wrote. */
export interface ConvertResult {
  config: VggtConfig;
  /** Tensors written / dropped (the track head). */
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
 * Convert a VGGT checkpoint (file path, or a folder holding model.safetensors) into `outdir`
 * (config.json, model.safetensors without the track head, segments/*.onnx). Validates the checkpoint with
 * {@link inferVggtConfig} first; throws BAD_CHECKPOINT on a malformed one.
 *
 * @example
 * await convertCheckpoint('VGGT-1B/model.safetensors', './vggt-1b-fp16', { fp16: true, cameraHeads: 16 });
 * const model = await Vggt.load('./vggt-1b-fp16');
 */
export async function convertCheckpoint(
  source: string,
  outdir: string,
  opts: ConvertOptions = {},
): Promise<ConvertResult> {
  const fs = await nodeFs();
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
  let override = opened.override;
  if (opts.cameraHeads !== undefined) override = { ...override, camera_heads: opts.cameraHeads };
  if (opts.dinoHeads !== undefined) override = { ...override, dino_heads: opts.dinoHeads };
  // Every file goes to a temporary sibling; all are renamed into place only after the last one is complete.
  const batch = await AtomicBatch.create();
  try {
    const config = inferVggtConfig(st.tensors, override);
    const dtype = opts.fp16 ? 'F16' : 'F32';
    const keep = [...st.tensors.values()].filter((t) => !t.name.startsWith('track_head.'));
    const dropped = st.tensors.size - keep.length;
    const floatTypes = new Set(['F64', 'F32', 'F16', 'BF16']);
    for (const t of keep) {
      if (!floatTypes.has(t.dtype)) {
        throw new HessError(
          'BAD_CHECKPOINT',
          `tensor ${t.name} is ${t.dtype}; VGGT weights are floating point`,
          'use an unmodified VGGT checkpoint',
        );
      }
    }
    const segmentSize = opts.skipSegments ? undefined : segmentSizeOf(config, opts, override);
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
      weights_dtype: dtype === 'F16' ? 'float16' : 'float32',
      compute_dtype: 'float32',
      converted_from: opened.file.split('/').pop(),
    });
    await batch.write(join(outdir, 'config.json'), JSON.stringify(json, null, 2));
    files.push('config.json');

    // --- segment graphs ---
    const segments = segmentSize ? await writeSegments(st, config, outdir, opts, segmentSize, batch) : [];
    files.push(...segments);
    await batch.commit();
    progress({ stage: 'done', progress: 1 });
    return { config, tensors: keep.length, dropped, bytes, dtype, segments, files };
  } catch (e) {
    await batch.abort();
    throw e;
  } finally {
    await st.close();
  }
}

/** The image size the DPT-head graphs are built for, checked before anything is written. */
function segmentSizeOf(
  c: VggtConfig,
  opts: ConvertOptions,
  override: VggtConfigOverride,
): { height: number; width: number } {
  const H = opts.segmentSize?.height ?? (typeof override.height === 'number' ? override.height : 518);
  const W = opts.segmentSize?.width ?? (typeof override.width === 'number' ? override.width : 518);
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
  return { height: H, width: W };
}

interface SegmentEntry {
  file: string;
  description: string;
  /** Weight inputs: input name → checkpoint tensor name pattern ({i} = block index). */
  weights?: Record<string, string>;
  blocks?: string;
  imageSize?: [number, number];
}

async function writeSegments(
  st: Safetensors,
  c: VggtConfig,
  outdir: string,
  opts: ConvertOptions,
  size: { height: number; width: number },
  batch: AtomicBatch,
): Promise<string[]> {
  const dir = join(outdir, 'segments');
  await batch.mkdir(dir);
  const written: string[] = [];
  const manifest: SegmentEntry[] = [];
  const steps = 8 + (c.camera ? 1 : 0) + (c.depthHead ? 1 : 0) + (c.pointHead ? 1 : 0);
  const put = async (name: string, bytes: Uint8Array, entry: Omit<SegmentEntry, 'file'>) => {
    throwIfAborted(opts.signal);
    await batch.write(join(dir, name), bytes);
    written.push(`segments/${name}`);
    manifest.push({ file: name, ...entry });
    opts.onProgress?.({ stage: 'segments', progress: written.length / steps, message: name });
  };
  const agg: BlockDims = {
    C: c.embedDim,
    H: c.numHeads,
    d: c.headDim,
    M: c.mlpHiddenDim,
    eps: AGGREGATOR_EPS,
    qkNorm: true,
    rope: true,
  };
  const dino: BlockDims = {
    C: c.dino.dim,
    H: c.dino.heads,
    d: c.dino.headDim,
    M: c.dino.mlpHiddenDim,
    eps: DINO_EPS,
    qkNorm: false,
    rope: false,
  };
  const pe = 'aggregator.patch_embed';
  const feeds = (prefix: string, specs: ReturnType<typeof preParams>) =>
    Object.fromEntries(
      specs.map((s) => [s.input, `${prefix}.${s.key}${s.linear ? ' (transposed to [in, out])' : ''}`]),
    );
  await put(
    'patch_embed.onnx',
    buildEmbedGraph(
      await st.read(`${pe}.patch_embed.proj.weight`),
      await st.read(`${pe}.patch_embed.proj.bias`),
      c.dino.dim,
      c.patchSize,
    ),
    { description: 'DINOv2 patch embedding (conv weights baked) + position embedding + cls/register prefix' },
  );
  await put('dino_block.onnx', buildLocalBlockGraph(dino, 'dino_block'), {
    description: 'one DINOv2 block; weights are inputs',
    blocks: `${pe}.blocks.{i}`,
    weights: feeds(`${pe}.blocks.{i}`, [...preParams(dino), ...postParams(dino)]),
  });
  await put(
    'dino_bridge.onnx',
    buildBridgeGraph(
      await st.read(`${pe}.norm.weight`),
      await st.read(`${pe}.norm.bias`),
      c.dino.dim,
      1 + c.dino.numRegisters,
      DINO_EPS,
    ),
    { description: 'DINO final norm (baked), drops DINO prefix tokens, prepends camera/register tokens' },
  );
  await put('frame_block.onnx', buildLocalBlockGraph(agg, 'frame_block'), {
    description: 'aggregator frame-attention block; weights are inputs',
    blocks: 'aggregator.frame_blocks.{i}',
    weights: feeds('aggregator.frame_blocks.{i}', [...preParams(agg), ...postParams(agg)]),
  });
  await put('global_pre.onnx', buildGlobalPreGraph(agg), {
    description: 'global block up to q, k, v (norm, qkv, qk-norm, RoPE); weights are inputs',
    blocks: 'aggregator.global_blocks.{i}',
    weights: feeds('aggregator.global_blocks.{i}', preParams(agg)),
  });
  await put('attention_dense.onnx', buildDenseAttentionGraph(agg.H, agg.d), {
    description:
      'dense global attention core (the runtime swaps in its WGSL dense / HeSS block-sparse kernels on WebGPU)',
  });
  await put('global_post.onnx', buildGlobalPostGraph(agg), {
    description: 'global block after attention (proj, LayerScale, MLP); weights are inputs',
    blocks: 'aggregator.global_blocks.{i}',
    weights: feeds('aggregator.global_blocks.{i}', postParams(agg)),
  });
  const { height: H, width: W } = size;
  // Head weights are graph inputs too (VGGT-1B's camera head would bake 0.87 GB), fed from model.safetensors.
  const headFeeds = (prefix: string, params: readonly HeadParam[]) =>
    Object.fromEntries(
      params.map((p) => [p.input, `${prefix}.${p.key}${p.linear ? ' (transposed to [in, out])' : ''}`]),
    );
  if (c.camera) {
    const { graph, params } = cameraHeadInputsGraph(st.tensors, c.camera, 4, 'camera_head');
    await put('camera_head.onnx', graph.toModel({ opset: VGGT_OPSET }).model, {
      description: 'camera head: camera tokens [S, 2C] → pose_enc [S, 9]; weights are inputs',
      weights: headFeeds('camera_head', params),
    });
  }
  for (const [kind, head] of [
    ['depth', c.depthHead],
    ['point', c.pointHead],
  ] as const) {
    if (!head) continue;
    const prefix = `${kind}_head`;
    const spec = { kind, head, dimIn: 2 * c.embedDim, patchSize: c.patchSize, patchStartIdx: c.patchStartIdx };
    const { graph, params } = dptHeadInputsGraph(st.tensors, spec, prefix, { size: { H, W } });
    await put(`${prefix}_${H}x${W}.onnx`, graph.toModel({ opset: VGGT_OPSET }).model, {
      description: `DPT ${kind} head for ${H}×${W} images: l0..l3 [S, P, 2C] → values, conf; weights are inputs`,
      imageSize: [H, W],
      weights: headFeeds(prefix, params),
    });
  }
  await batch.write(
    join(dir, 'manifest.json'),
    JSON.stringify({ format: 'hess-vggt-segments', version: 1, segments: manifest }, null, 2),
  );
  written.push('segments/manifest.json');
  return written;
}
