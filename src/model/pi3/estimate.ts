/**
 * π³'s heads in the memory estimate (estimate/trunk.ts models the trunk both models share). Modelled from the
 * current implementation (heads.ts, heads-graph.ts):
 * - Weights: the three head decoders' and the three heads' tensors, graph inputs in the heads' dtype, uploaded once
 *   on WebGPU (JS arrays copied into the wasm heap per run on the wasm EP).
 * - The trunk hands over its last layer `[S, T, 2C]` only: on the GPU when the heads take the trunk's dtype, else
 *   read back to the host as float32.
 * - One session runs `f` frames at a time (f sized as `Pi3Heads` sizes it, from one frame's largest intermediate).
 *   Its widest op is a decoder block's Softmax: the block input, q, k, v heads and the `[f, heads, T, T]` scores and
 *   probabilities (float32 always: `denseAttention` computes in float32), beside the chunk's input and the outputs
 *   already made; then the MLP hidden `[f, T, M]` (unfused, {@link MLP_HIDDEN_LIVE} live) and the pixel shuffles.
 */
import { DINOV2_VITL14_REG, type VggtConfig } from '../config.js';
import { checkModelFit } from '../estimate/fit.js';
import { blockParams, dptChunkBytes, MLP_HIDDEN_LIVE, term } from '../estimate/terms.js';
import { estimateModelMemory } from '../estimate/trunk.js';
import type {
  EstimateInput,
  FitReport,
  HeadsMemory,
  MemoryEstimate,
  MemoryLimits,
  MemoryTerm,
} from '../estimate/types.js';
import type { Pi3Config } from './config.js';
import { type Pi3HeadsConfig, pi3HeadsFrameBytes } from './heads.js';
import type { Pi3HeadsGraphDims } from './heads-graph.js';

/** π³ as the estimate needs it: the trunk's config, the heads' spec and the head decoders' widths and depths. */
export interface Pi3EstimateConfig {
  readonly trunk: Pi3Config;
  readonly heads: Pi3HeadsConfig;
  readonly dims: Pi3HeadsGraphDims;
}

/**
 * yyfz233/Pi3 (ViT-L encoder, 36 decoder blocks of width 1024, 16 heads; head decoders 2048 → 1024, 5 blocks, the
 * camera decoder's output 512): what to estimate before downloading 3.7 GB.
 */
export const PI3_CONFIG: Pi3EstimateConfig = (() => {
  const dec = (outDim: number) => ({ inDim: 2048, dim: 1024, depth: 5, mlp: 4096, outDim });
  return {
    trunk: {
      model: 'pi3',
      embedDim: 1024,
      numHeads: 16,
      headDim: 64,
      depth: 18,
      decoderDepth: 36,
      mlpHiddenDim: 4096,
      patchSize: 14,
      numRegisterTokens: 5,
      patchStartIdx: 5,
      ropeBase: 100,
      headHeads: 16,
      dino: DINOV2_VITL14_REG,
      assumed: [],
    },
    heads: { heads: 16, registers: 5, patchSize: 14, ropeFreq: 100 },
    dims: {
      decoders: { point_decoder: dec(1024), conf_decoder: dec(1024), camera_decoder: dec(512) },
      cameraDim: 512,
      headDim: 64,
    },
  };
})();

/** Parameters of π³'s heads: three decoders (projection, blocks without LayerScale, output), point/conf/camera heads. */
export function pi3HeadsParams(dims: Pi3HeadsGraphDims, patchSize: number): number {
  const lin = (i: number, o: number) => i * o + o;
  let n = 0;
  for (const d of Object.values(dims.decoders)) {
    n += lin(d.inDim, d.dim) + d.depth * (blockParams(d.dim, d.mlp, 0, false) - 2 * d.dim) + lin(d.dim, d.outDim);
  }
  const r2 = patchSize ** 2;
  const C = dims.cameraDim;
  // point and conf heads: one Linear to 3·r² / r² channels; camera: 2 residual blocks of 3 Linears, 2 MLPs, t, rot
  n += lin(dims.decoders.point_decoder.outDim, 3 * r2) + lin(dims.decoders.conf_decoder.outDim, r2);
  return n + 8 * lin(C, C) + lin(C, 3) + lin(C, 9);
}

/** The heads' part of a π³ estimate, with their weights and activations in `dtype`. */
export function pi3HeadsMemory(config: Pi3HeadsConfig, dims: Pi3HeadsGraphDims, dtype: 'fp32' | 'fp16'): HeadsMemory {
  const e = dtype === 'fp16' ? 2 : 4;
  const ty = dtype === 'fp16' ? 'f16' : 'f32';
  const ps = config.patchSize;
  const { inDim: Ci, dim: D, mlp: M, outDim: od } = dims.decoders.point_decoder; // the three share dim and inDim
  const params = pi3HeadsParams(dims, ps);
  // the largest weight: a decoder's projection, qkv, fc1 or linear_out, or the point head's projection
  const largest =
    e *
    Math.max(
      ...Object.values(dims.decoders).map((d) => Math.max(d.inDim * d.dim, 3 * d.dim * d.dim, d.mlp * d.dim)),
      3 * ps * ps * od,
    );
  return {
    loaded: () => ({ camera: false, depth: false, points: false }), // π³ has none of VGGT's heads
    framesChunk: ({ H, W, ep, limitBytes }) =>
      Math.max(
        1,
        Math.floor(
          dptChunkBytes(ep, limitBytes) / pi3HeadsFrameBytes(config, dims, H, W, ty === 'f16' ? 'float16' : 'float32'),
        ),
      ),
    terms: (x) => {
      const { S, H, W, ep } = x;
      const dev = ep === 'webgpu' ? 'gpu' : 'wasm';
      const T = config.registers + (H / ps) * (W / ps);
      const HW = H * W;
      const f = Math.min(x.framesChunk, S);
      const on: 'gpu' | 'host' = dtype === x.dtype ? 'gpu' : 'host';
      const layerOnGpu = ep === 'webgpu' && on === 'gpu' && S * T * Ci * (x.dtype === 'fp16' ? 2 : 4) <= x.limitBytes;
      const act = (name: string, count: number, elems: number) => term(`π³ heads ${name} ${ty}`, count, elems * e, dev);
      const f32 = (name: string, count: number, elems: number) => term(`π³ heads ${name} f32`, count, elems * 4, dev);
      // in every phase: the per-run weight copy (wasm), the chunk's input (a GPU span copy or an upload, unless one
      // chunk takes the whole GPU layer in place) and the outputs made so far (local points, conf)
      const base: MemoryTerm[] = [
        ...(ep === 'wasm' ? [term('π³ head weights (per-run copy)', 1, params * e, 'wasm')] : []),
        ...(f === S && layerOnGpu ? [] : [act('input [f,T,2C]', 1, f * T * Ci)]),
        f32('local points + conf [f,H,W,4]', 1, f * HW * 4),
      ];
      const attention = [
        ...base,
        act('block input, q, k, v [f,T,D]', 4, f * T * D),
        ...(e === 2 ? [f32('q, k, v for attention [f,T,D]', 3, f * T * D)] : []),
        f32('attention scores + probs [f,H,T,T]', 2, f * config.heads * T * T),
      ];
      const mlp = [...base, act('x1 [f,T,D]', 1, f * T * D), act('MLP hidden [f,T,M]', MLP_HIDDEN_LIVE, f * T * M)];
      const shuffle = [
        ...base,
        act('decoder output [f,T,od]', 1, f * T * od),
        act('pixel-shuffle maps [f,H·W,3]', 3, f * HW * 3),
        term('π³ heads outputs copy-out', 1, f * HW * 4 * 4, 'host'),
      ];
      return {
        weights: [
          {
            name: 'π³ head weights (inputs)',
            bytes: params * e,
            bufferBytes: largest,
            on: ep === 'webgpu' ? 'gpu' : 'host',
          },
        ],
        layers: { count: 1, on },
        // world points, local points [S,H,W,3] and conf [S,H,W], float32 on the host
        resident: [term('π³ outputs: points, local points, conf f32', 1, S * HW * 7 * 4, 'host')],
        phases: [attention, mlp, shuffle],
      };
    },
  };
}

/** The trunk's part of π³ as the shared estimate's config: no VGGT heads (π³'s come from {@link pi3HeadsMemory}). */
export function pi3TrunkEstimateConfig(c: Pi3Config): VggtConfig {
  // The estimate counts VGGT's special tokens as (2 + 2R)·C floats; 2 registers ≥ π³'s 5 tokens per frame.
  return {
    ...c,
    numRegisterTokens: Math.ceil(Math.max(0, c.patchStartIdx - 2) / 2),
    camera: null,
    depthHead: null,
    pointHead: null,
    hasTrackHead: false,
  };
}

/**
 * A π³ run's memory (trunk and heads), with `limits` whether it fits and the largest S that does. `headsDtype`: the
 * heads' weights and activations (default: the input's dtype).
 *
 * @example
 * const e = estimatePi3Memory(PI3_CONFIG, { S: 32, H: 518, W: 518, dtype: 'fp16' }, { maxGpuBytes: 24e9 });
 */
export function estimatePi3Memory(
  config: Pi3EstimateConfig,
  input: EstimateInput,
  limits?: MemoryLimits,
  headsDtype: 'fp32' | 'fp16' = input.dtype ?? 'fp32',
): MemoryEstimate & { fit: FitReport | null } {
  const trunk = pi3TrunkEstimateConfig(config.trunk);
  const heads = pi3HeadsMemory(config.heads, config.dims, headsDtype);
  return {
    ...estimateModelMemory(trunk, input, heads),
    fit: limits ? checkModelFit(trunk, input, limits, heads) : null,
  };
}
