/**
 * `segments/*.onnx` + `segments/manifest.json` of a converted model: the ONNX graphs the runtime builds, for
 * inspection or use by other ONNX runtimes. The trunk's graphs are the shared trunk's (`trunk/`), built under the
 * model's {@link TrunkLayout} (its norm eps, its block names); the heads are the model's own. Block and head weights
 * are graph inputs, named in the manifest with the checkpoint tensor that feeds them; only the small patch embed
 * and DINO bridge bake theirs. What the runtime computes on the host between graphs (position embedding resize,
 * RoPE tables, special tokens, π³'s pose orthogonalisation) is described, not exported.
 */
import { throwIfAborted } from '../../errors.js';
import type { AtomicBatch } from '../../io/atomic-write.js';
import type { VggtConfig } from '../config.js';
import { VGGT_OPSET } from '../graph/ops.js';
import type { HeadParam } from '../heads/head-params.js';
import type { Pi3Config } from '../pi3/config.js';
import { pi3HeadsInputsGraph } from '../pi3/heads-graph.js';
import { pi3Layout } from '../pi3/trunk.js';
import type { Safetensors } from '../source/safetensors.js';
import { DINO_EPS, encoderDims, trunkDims, type TrunkLayout, vggtLayout } from '../trunk/aggregator.js';
import { buildDenseAttentionGraph } from '../trunk/attention-core.js';
import {
  buildBridgeGraph,
  buildEmbedGraph,
  buildGlobalPostGraph,
  buildGlobalPreGraph,
  buildLocalBlockGraph,
  postParams,
  preParams,
} from '../trunk/blocks.js';
import { cameraHeadInputsGraph } from '../vggt/camera-head.js';
import { dptHeadInputsGraph } from '../vggt/dpt-head.js';

/** The model to export: VGGT (its DPT heads bake `size`) or π³ (its heads graph bakes `size` when given). */
export type SegmentModel =
  | { kind: 'vggt'; config: VggtConfig; size: { height: number; width: number } }
  | { kind: 'pi3'; config: Pi3Config; size?: { height: number; width: number } };

/** One manifest entry. */
export interface SegmentEntry {
  file: string;
  description: string;
  /** Weight inputs: input name → checkpoint tensor name pattern (`{i}`, `{2i}`, `{2i+1}`: i = 0…count−1). */
  weights?: Record<string, string>;
  /** The blocks this graph runs, as a tensor-name prefix pattern, and how many (i = 0…count−1). */
  blocks?: string;
  count?: number;
  imageSize?: [number, number];
}

/** Names of each model's blocks (patterns over i = 0…depth−1), beside the layout the runtime builds them under. */
const TRUNKS = {
  vggt: {
    layout: () => vggtLayout(),
    frame: 'aggregator.frame_blocks.{i}',
    global: 'aggregator.global_blocks.{i}',
    bridge:
      'prepends the camera token and 4 registers (aggregator.camera_token / register_token: slot 0 for the first frame, slot 1 for the others)',
  },
  pi3: {
    layout: (c: Pi3Config) => pi3Layout(c),
    frame: 'decoder.{2i}',
    global: 'decoder.{2i+1}',
    bridge: 'prepends the register tokens (register_token, the same for every frame: no reference frame)',
  },
} as const;

const join = (...p: string[]) => p.join('/').replace(/\/+/g, '/');

/** Write `outdir/segments/` (every file through `batch`); returns the paths written, relative to outdir. */
export async function writeSegments(
  st: Safetensors,
  m: SegmentModel,
  outdir: string,
  batch: AtomicBatch,
  opts: {
    signal?: AbortSignal;
    onProgress?: (e: { stage: 'segments'; progress: number; message?: string }) => void;
  } = {},
): Promise<string[]> {
  const dir = join(outdir, 'segments');
  await batch.mkdir(dir);
  const written: string[] = [];
  const manifest: SegmentEntry[] = [];
  const vggt = m.kind === 'vggt' ? m.config : null;
  const heads = vggt ? (vggt.camera ? 1 : 0) + (vggt.depthHead ? 1 : 0) + (vggt.pointHead ? 1 : 0) : 1;
  const steps = 7 + heads;
  const put = async (name: string, bytes: Uint8Array, entry: Omit<SegmentEntry, 'file'>) => {
    throwIfAborted(opts.signal);
    await batch.write(join(dir, name), bytes);
    written.push(`segments/${name}`);
    manifest.push({ file: name, ...entry });
    opts.onProgress?.({ stage: 'segments', progress: written.length / steps, message: name });
  };

  // --- trunk: DINOv2 encoder, then depth pairs of a frame block and a global block ---
  const c = m.config;
  const names = TRUNKS[m.kind];
  const layout: TrunkLayout = m.kind === 'pi3' ? TRUNKS.pi3.layout(m.config) : TRUNKS.vggt.layout();
  const agg = trunkDims(c, layout);
  const dino = encoderDims(c);
  const pe = layout.encoder;
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
    {
      description: `DINOv2 patch embedding (conv weights baked) + position embedding (input pos: ${pe}.pos_embed's patch grid resized to the image's, bicubic, antialiased) + cls/register prefix (input)`,
    },
  );
  await put('dino_block.onnx', buildLocalBlockGraph(dino, 'dino_block'), {
    description: 'one DINOv2 block; weights are inputs',
    blocks: `${pe}.blocks.{i}`,
    count: c.dino.depth,
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
    { description: `DINO final norm (baked), drops DINO's cls and registers, ${names.bridge} (input special)` },
  );
  const rope = `RoPE inputs rope_cos/rope_sin: 2D RoPE, base ${layout.ropeBase}, special tokens at position 0, patches at their (row, column) + 1`;
  await put('frame_block.onnx', buildLocalBlockGraph(agg, 'frame_block'), {
    description: `frame-attention block (one frame's tokens); weights are inputs; ${rope}`,
    blocks: names.frame,
    count: c.depth,
    weights: feeds(names.frame, [...preParams(agg), ...postParams(agg)]),
  });
  await put('global_pre.onnx', buildGlobalPreGraph(agg), {
    description: `global block up to q, k, v (norm, qkv, qk-norm, RoPE); weights are inputs; ${rope}`,
    blocks: names.global,
    count: c.depth,
    weights: feeds(names.global, preParams(agg)),
  });
  await put('attention_dense.onnx', buildDenseAttentionGraph(agg.H, agg.d), {
    description:
      'dense global attention core over all frames (the runtime swaps in its WGSL dense / HeSS block-sparse kernels on WebGPU)',
  });
  await put('global_post.onnx', buildGlobalPostGraph(agg), {
    description: 'global block after attention (proj, LayerScale, MLP); weights are inputs',
    blocks: names.global,
    count: c.depth,
    weights: feeds(names.global, postParams(agg)),
  });

  // --- heads: weights are graph inputs too (VGGT-1B's camera head would bake 0.87 GB), fed from model.safetensors ---
  const headFeeds = (prefix: string, params: readonly HeadParam[]) =>
    Object.fromEntries(
      params.map((p) => [p.input, `${prefix}.${p.key}${p.linear ? ' (transposed to [in, out])' : ''}`]),
    );
  if (m.kind === 'vggt') {
    const v = m.config;
    const { height: H, width: W } = m.size;
    if (v.camera) {
      const { graph, params } = cameraHeadInputsGraph(st.tensors, v.camera, 4, 'camera_head');
      await put('camera_head.onnx', graph.toModel({ opset: VGGT_OPSET }).model, {
        description: 'camera head: camera tokens [S, 2C] → pose_enc [S, 9]; weights are inputs',
        weights: headFeeds('camera_head', params),
      });
    }
    for (const [kind, head] of [
      ['depth', v.depthHead],
      ['point', v.pointHead],
    ] as const) {
      if (!head) continue;
      const prefix = `${kind}_head`;
      const spec = { kind, head, dimIn: 2 * v.embedDim, patchSize: v.patchSize, patchStartIdx: v.patchStartIdx };
      const { graph, params } = dptHeadInputsGraph(st.tensors, spec, prefix, { size: { H, W } });
      await put(`${prefix}_${H}x${W}.onnx`, graph.toModel({ opset: VGGT_OPSET }).model, {
        description: `DPT ${kind} head for ${H}×${W} images: l0..l3 [S, P, 2C] → values, conf; weights are inputs`,
        imageSize: [H, W],
        weights: headFeeds(prefix, params),
      });
    }
  } else {
    const p = m.config;
    const size = m.size && { H: m.size.height, W: m.size.width };
    const { graph, params } = pi3HeadsInputsGraph(
      st.tensors,
      { heads: p.headHeads, registers: p.numRegisterTokens, patchSize: p.patchSize, ropeFreq: p.ropeBase },
      { size },
    );
    const last = `cat(decoder.${p.decoderDepth - 2}, decoder.${p.decoderDepth - 1}) outputs`;
    await put(
      size ? `pi3_heads_${size.H}x${size.W}.onnx` : 'pi3_heads.onnx',
      graph.toModel({ opset: VGGT_OPSET }).model,
      {
        description:
          `π³ heads (point, conf, camera decoders + heads) for ${size ? `${size.H}×${size.W} images` : 'any image size'}: ` +
          `hidden [N, ${p.numRegisterTokens} + P, 2C] (the last trunk layer, ${last}) → local_points [N, H, W, 3], ` +
          'conf [N, H, W] (logits), pose_raw [N, 12] (translation, then a 9-number rotation); weights are inputs' +
          (size ? '' : `; inputs grid [H/${p.patchSize}, W/${p.patchSize}] and ${rope}`) +
          '. Not in the graph (host code, src/model/pi3/camera-pose.ts): the SVD that makes pose_raw a 4×4 ' +
          'camera-to-world pose, and points = pose · local_points',
        ...(size ? { imageSize: [size.H, size.W] as [number, number] } : {}),
        weights: Object.assign({}, ...params.map((x) => headFeeds(x.prefix, x.params))),
      },
    );
  }
  await batch.write(
    join(dir, 'manifest.json'),
    JSON.stringify({ format: 'hess-vggt-segments', version: 1, model: m.kind, segments: manifest }, null, 2),
  );
  written.push('segments/manifest.json');
  return written;
}
