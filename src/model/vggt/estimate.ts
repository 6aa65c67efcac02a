/**
 * VGGT's part of the memory estimate (the trunk's stages are every model's: `estimate/trunk.ts`): its camera and DPT
 * heads as a {@link HeadsMemory}, modelled from the current implementation (camera-head.ts, dpt-head.ts,
 * head-params.ts): their weights are graph inputs in the model's dtype, uploaded once on WebGPU (JS arrays copied into
 * the wasm heap per run on the wasm EP); fp16 heads take the aggregator's float16 layers on the GPU, their activations
 * are float16, their outputs float32. {@link estimateMemory} and {@link checkMemoryFit} are the public pre-flight.
 */
import { DINOV2_VITL14_REG, type VggtConfig } from '../config.js';
import { checkModelFit } from '../estimate/fit.js';
import { blockParams, dptChunkBytes, term } from '../estimate/terms.js';
import { estimateModelMemory } from '../estimate/trunk.js';
import type {
  EstimateInput,
  FitReport,
  HeadsMemory,
  MemoryEstimate,
  MemoryLimits,
  MemoryLocation,
  MemoryTerm,
} from '../estimate/types.js';
import { dptFrameBytes } from './dpt-head.js';

/** VGGT-1B (facebook/VGGT-1B) as inferVggtConfig reads it: what to estimate before downloading 5 GB. */
export const VGGT_1B_CONFIG: VggtConfig = {
  embedDim: 1024,
  numHeads: 16,
  headDim: 64,
  depth: 24,
  mlpHiddenDim: 4096,
  patchSize: 14,
  numRegisterTokens: 4,
  patchStartIdx: 5,
  dino: DINOV2_VITL14_REG,
  camera: { dim: 2048, heads: 16, headDim: 128, trunkDepth: 4, mlpHiddenDim: 8192, poseDim: 9 },
  depthHead: { features: 256, outChannels: [256, 512, 1024, 1024], outputDim: 2 },
  pointHead: { features: 256, outChannels: [256, 512, 1024, 1024], outputDim: 4 },
  hasTrackHead: true,
  assumed: [],
};

/** Parameters of the camera head (pose-branch hidden width dim/2 as in VGGT). */
export function cameraHeadParams(cfg: NonNullable<VggtConfig['camera']>): number {
  const { dim: C, mlpHiddenDim: M, trunkDepth, poseDim: D } = cfg;
  const hb = C / 2;
  return (
    2 * C +
    trunkDepth * blockParams(C, M, 0, false) +
    2 * C +
    D +
    (D * C + C) +
    (3 * C * C + 3 * C) +
    (hb * C + hb) +
    (D * hb + D)
  );
}

/** Parameters of one DPT head (refinenet4 has no first residual unit, as in the checkpoint). */
export function dptHeadParams(head: NonNullable<VggtConfig['depthHead']>, dimIn: number): number {
  const { features: F, outChannels: oc, outputDim: od } = head;
  const F2 = F / 2;
  const hf2 = 32;
  const rcu = 2 * (F * F * 9 + F);
  let n = 2 * dimIn;
  for (let k = 0; k < 4; k++) n += oc[k]! * dimIn + oc[k]! + F * oc[k]! * 9;
  n += oc[0]! * oc[0]! * 16 + oc[0]! + oc[1]! * oc[1]! * 4 + oc[1]! + oc[3]! * oc[3]! * 9 + oc[3]!;
  n += 3 * (2 * rcu + F * F + F) + (rcu + F * F + F);
  return n + (F2 * F * 9 + F2) + (hf2 * F2 * 9 + hf2) + (od * hf2 + od);
}

/**
 * VGGT's camera and DPT heads in the estimate, in the model's dtype (outputs float32). Weights: graph inputs,
 * uploaded once on WebGPU (JS arrays copied into the wasm heap per run on the wasm EP). The camera head's activations
 * are [S, 2C]-sized (negligible); a DPT head runs `framesChunk` frames at a time, its four layer spans copied per
 * chunk (WebGPU) or fed from JS (wasm). fp16 heads keep only their LayerNorm's tokens and the od-channel
 * activations in float32: the output term.
 */
export function vggtHeadsMemory(c: VggtConfig): HeadsMemory {
  const C2 = 2 * c.embedDim;
  const dpt = c.depthHead ?? c.pointHead;
  return {
    loaded: (h = {}) => ({
      camera: (h.camera ?? true) && c.camera !== null,
      depth: (h.depth ?? true) && c.depthHead !== null,
      points: (h.points ?? true) && c.pointHead !== null,
    }),
    framesChunk: ({ S, H, W, ep, dtype, limitBytes }) => {
      if (!dpt) return S;
      const spec = {
        kind: 'depth' as const,
        head: dpt,
        dimIn: C2,
        patchSize: c.patchSize,
        patchStartIdx: c.patchStartIdx,
      };
      const frame = dptFrameBytes(spec, H, W, undefined, dtype === 'fp16' ? 'float16' : 'float32');
      return Math.max(1, Math.floor(dptChunkBytes(ep, limitBytes) / frame));
    },
    terms: (x) => {
      const { S, H, W, ep } = x;
      const e = x.dtype === 'fp16' ? 2 : 4;
      const ty = x.dtype === 'fp16' ? 'f16' : 'f32';
      const dev: MemoryLocation = ep === 'webgpu' ? 'gpu' : 'wasm';
      const L = (H / c.patchSize) * (W / c.patchSize);
      const P = c.patchStartIdx + L;
      const camW = x.heads.camera && c.camera ? cameraHeadParams(c.camera) * e : 0;
      const dptW = (k: 'depthHead' | 'pointHead') => (c[k] ? dptHeadParams(c[k]!, C2) * e : 0);
      const depthW = x.heads.depth ? dptW('depthHead') : 0;
      const pointW = x.heads.points ? dptW('pointHead') : 0;
      const weightWhere: MemoryLocation = ep === 'webgpu' ? 'gpu' : 'host';
      const weights: MemoryTerm[] = [];
      const headLargest = (C: number, M: number) => Math.max(3 * C * C, C * M) * e;
      // a DPT head's largest weight: resize_layers.3 (oc3² · 9) or a projection (oc · 2C)
      const dptLargest = (h: NonNullable<VggtConfig['depthHead']>) =>
        Math.max(
          ...h.outChannels.map((o) => Math.max(o * C2, o * h.features * 9)),
          h.outChannels[3]! ** 2 * 9,
          h.outChannels[0]! ** 2 * 16,
        ) * e;
      if (camW)
        weights.push({
          name: 'camera head weights (inputs)',
          bytes: camW,
          bufferBytes: headLargest(c.camera!.dim, c.camera!.mlpHiddenDim),
          on: weightWhere,
        });
      for (const [k, w] of [
        ['depth', depthW],
        ['point', pointW],
      ] as const) {
        if (w)
          weights.push({
            name: `${k} head weights (inputs)`,
            bytes: w,
            bufferBytes: dptLargest(c[k === 'depth' ? 'depthHead' : 'pointHead']!),
            on: weightWhere,
          });
      }

      // the last layer always (camera head), the four DPT layers when a DPT head is loaded
      const needLayers = x.heads.depth || x.heads.points;
      const count = new Set([c.depth - 1, ...(needLayers ? [4, 11, 17, 23].filter((l) => l < c.depth) : [])]).size;

      const chunk = Math.min(x.framesChunk, S);
      const F = dpt?.features ?? 0;
      const headCopy = (w: number, what: string): MemoryTerm[] =>
        ep === 'wasm' ? [term(`${what} weights (per-run copy)`, 1, w, 'wasm')] : [];
      const f32 = (name: string, count: number, elems: number) => term(name, count, elems * 4, dev);
      const hd = (name: string, count: number, elems: number) => term(`${name} ${ty}`, count, elems * e, dev);
      const dptPhases = (od: number, w: number, what: string): MemoryTerm[][] => {
        const inputs = [...headCopy(w, what), hd(`${what} inputs 4×[f,P,2C]`, 4, chunk * P * C2)];
        const out = [
          f32(`${what} output [f,od,H,W] f32`, 1, chunk * od * H * W),
          term(`${what} output copy-out`, 1, chunk * od * H * W * 4, 'host'),
        ];
        return [
          [...inputs, hd(`${what} fusion maps [f,F,8h,8w]`, 2, chunk * F * 64 * L)],
          [...inputs, hd(`${what} full-res maps [f,F/2,H,W]`, 2, chunk * (F / 2) * H * W), ...out],
        ];
      };
      const resident: MemoryTerm[] = [];
      if (x.heads.depth) resident.push(term('depth + conf [S,H,W] f32', 2, S * H * W * 4, 'host'));
      if (x.heads.points) resident.push(term('points [S,H,W,3] + conf f32', 1, S * H * W * 16, 'host'));
      const phases: MemoryTerm[][] = [];
      if (camW) phases.push([...headCopy(camW, 'camera head'), hd('camera tokens [S,2C]', 4, S * C2)]);
      if (x.heads.depth && c.depthHead) phases.push(...dptPhases(c.depthHead.outputDim, depthW, 'depth head'));
      if (x.heads.points && c.pointHead) phases.push(...dptPhases(c.pointHead.outputDim, pointW, 'point head'));
      return { weights, layers: { count, on: 'gpu' }, resident, phases };
    },
  };
}

/**
 * Estimate a run's memory from the architecture alone.
 *
 * @example
 * const est = estimateMemory(model.config, { S: 32, H: 518, W: 518, dtype: 'fp32', policy: 'hess' });
 * console.log(est.gpuBytes / 2 ** 30, 'GiB peak;', est.largestBuffer);
 */
export function estimateMemory(config: VggtConfig, input: EstimateInput): MemoryEstimate {
  return estimateModelMemory(config, input, vggtHeadsMemory(config));
}

/**
 * Check a run against limits, and find the largest S (same H, W and options) that fits: 0 when even one frame
 * does not.
 *
 * @example
 * const r = checkMemoryFit(cfg, { S: 200, H: 518, W: 518 }, { maxStorageBufferBindingSize: 2 ** 31, maxGpuBytes: 24e9 });
 * if (!r.fits) console.log(r.reason, 'largest S:', r.largestS);
 */
export function checkMemoryFit(config: VggtConfig, input: EstimateInput, limits: MemoryLimits): FitReport {
  return checkModelFit(config, input, limits, vggtHeadsMemory(config));
}
