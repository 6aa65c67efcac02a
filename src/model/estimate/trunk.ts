/**
 * Memory model of one run of the trunk every model shares (`trunk/aggregator.ts`), computed from the architecture
 * alone (no device, no weights): per stage, the peak bytes on the GPU, the largest single GPU buffer, the host (JS)
 * bytes and the bytes in onnxruntime-web's wasm heap. A model's heads come as a {@link HeadsMemory} (VGGT's:
 * `vggt/estimate.ts`; π³'s: `pi3/estimate.ts`). `run` checks it against the device's limits before allocating
 * anything (`fit.ts`).
 *
 * It models the CURRENT implementation tensor by tensor (aggregator.ts, chunks.ts, attention-core.ts,
 * runtime/wgsl-attention.ts):
 * - WebGPU: every block's weights are GPU-resident storage buffers (per-type sessions), float16 under dtype 'fp16';
 *   the layers the heads read are GPU tensors in that dtype when the heads ask for them there and they fit.
 * - wasm EP: block weights live in JS and are copied into the wasm heap for each segment run (ORT copies CPU
 *   inputs); the baked embed/bridge initializers live in the wasm heap; activations too.
 * - Pre/post segments run in token chunks of n = ⌊L / (4·max(3C, M))⌋ rows (`planChunks`; L the per-tensor
 *   limit, 4 bytes/element even in fp16), their outputs copied into whole [N, C] tensors. On WebGPU DINO and
 *   frame attention are the WGSL flash kernel (no scores); on the wasm EP ('onnx' local) the whole-block session
 *   runs f frames at a time, f from planChunks (its [f, H, T, T] scores held twice).
 * - ORT frees an intermediate after its last consumer, so a phase's peak is the tensors alive at its widest op.
 *   Fusions (bias-add into MatMul, GELU) are NOT assumed: the counts below are the unfused ones (an upper bound).
 *   ORT's WebGPU buffer cache keeps freed buffers for reuse, so the measured peak of created bytes can exceed this.
 */
import { check } from '../../errors.js';
import { maskLayout } from '../../mask/layout.js';
import type { VggtConfig } from '../config.js';
import { planChunks, WASM_TENSOR_BYTES } from '../trunk/chunks.js';
import { blockParams, MLP_HIDDEN_LIVE, term } from './terms.js';
import {
  ESTIMATE_STAGES,
  type EstimateInput,
  type EstimateStage,
  type HeadsMemory,
  type MemoryEstimate,
  type MemoryLocation,
  type MemoryTerm,
  type StageEstimate,
} from './types.js';

/** Default per-tensor limit L on WebGPU when none is given (a typical adapter's maxStorageBufferBindingSize). */
export const DEFAULT_WEBGPU_LIMIT_BYTES = 2 ** 31;

/**
 * DINO and frame attention on the ONNX local path (wasm EP): MatMul → Softmax over [B, H, T, T] scores for a chunk
 * of B frames, the MatMul output and the Softmax output alive at once (2 buffers). 0 on the WGSL flash path.
 */
export function localScores(B: number, heads: number, T: number, e: number): MemoryTerm[] {
  const one = B * heads * T * T * e;
  return [
    { name: 'local attention scores [f,H,T,T] (MatMul out)', bytes: one, bufferBytes: one, on: 'gpu' },
    { name: 'local attention probs [f,H,T,T] (Softmax out)', bytes: one, bufferBytes: one, on: 'gpu' },
  ];
}

/** Dense ONNX global attention (wasm EP, or attention 'onnx'): [1, H, N, N] scores + probabilities. */
export function globalScores(N: number, heads: number, e: number): MemoryTerm[] {
  const one = heads * N * N * e;
  return [
    { name: 'global attention scores [H,N,N] (MatMul out)', bytes: one, bufferBytes: one, on: 'gpu' },
    { name: 'global attention probs [H,N,N] (Softmax out)', bytes: one, bufferBytes: one, on: 'gpu' },
  ];
}

function resolve(config: VggtConfig, input: EstimateInput, heads: HeadsMemory): MemoryEstimate['input'] {
  const { S, H, W } = input;
  const ps = config.patchSize;
  check(Number.isInteger(S) && S > 0, `S must be a positive integer, got ${S}`);
  check(
    Number.isInteger(H) && Number.isInteger(W) && H > 0 && W > 0 && H % ps === 0 && W % ps === 0,
    `H and W must be positive multiples of ${ps}, got ${H}×${W}`,
  );
  const ep = input.ep ?? 'webgpu';
  const attention = input.attention ?? (ep === 'webgpu' ? 'wgsl' : 'onnx');
  check(ep === 'webgpu' || attention === 'onnx', "attention 'wgsl' needs the WebGPU EP");
  const dtype = input.dtype ?? 'fp32';
  check(dtype === 'fp32' || ep === 'webgpu', "dtype 'fp16' needs the WebGPU EP");
  const L = input.limitBytes ?? (ep === 'webgpu' ? DEFAULT_WEBGPU_LIMIT_BYTES : WASM_TENSOR_BYTES);
  check(L > 0, `limitBytes must be positive, got ${L}`);
  const P = config.patchStartIdx + (H / ps) * (W / ps);
  const T = 1 + config.dino.numRegisters + (H / ps) * (W / ps);
  const plan = planChunks(
    S,
    P,
    T,
    L,
    { C: config.embedDim, H: config.numHeads, M: config.mlpHiddenDim },
    { C: config.dino.dim, H: config.dino.heads, M: config.dino.mlpHiddenDim },
  );
  return {
    S,
    H,
    W,
    ep,
    attention,
    dtype,
    policy: input.policy ?? 'dense',
    sparsity: input.sparsity ?? 0.73,
    framesChunk: input.framesChunk ?? heads.framesChunk({ S, H, W, ep, dtype, limitBytes: L }),
    limitBytes: L,
    chunkTokens: Math.min(input.chunkTokens ?? plan.tokenRows, S * P),
    heads: heads.loaded(input.heads),
  };
}

/**
 * The terms of each stage: `resident` (alive for the whole run from that stage on) and `phases` (each a set of
 * tensors alive at once; the stage's peak is its widest phase). This is the one table of the model.
 */
function stageTerms(
  c: VggtConfig,
  x: MemoryEstimate['input'],
  headsMemory: HeadsMemory,
): Record<EstimateStage, { resident: MemoryTerm[]; phases: MemoryTerm[][] }> {
  const { S, H, W, ep } = x;
  const e = x.dtype === 'fp16' ? 2 : 4; // trunk weights and activations
  const ty = x.dtype === 'fp16' ? 'f16' : 'f32';
  const dev: MemoryLocation = ep === 'webgpu' ? 'gpu' : 'wasm';
  const ps = c.patchSize;
  const gh = H / ps,
    gw = W / ps,
    L = gh * gw;
  const Td = 1 + c.dino.numRegisters + L; // DINO tokens per frame
  const P = c.patchStartIdx + L;
  const N = S * P;
  const { embedDim: C, numHeads: Hh, headDim: d, mlpHiddenDim: M } = c;
  const Cd = c.dino.dim,
    Md = c.dino.mlpHiddenDim;
  const C2 = 2 * C;
  const plan = planChunks(S, P, Td, x.limitBytes, { C, H: Hh, M }, { C: Cd, H: c.dino.heads, M: Md });
  const n = x.chunkTokens; // token rows per aggregator pre/post chunk
  const nd = Math.min(x.chunkTokens, plan.dinoTokenRows, S * Td); // DINO's
  const on = (t: MemoryTerm, where: MemoryLocation): MemoryTerm => ({ ...t, on: where });

  // --- weights -------------------------------------------------------------------------------------------
  const dinoBlock = blockParams(Cd, Md, c.dino.headDim, false);
  const aggBlock = blockParams(C, M, d, true);
  const aggW = (c.dino.depth * dinoBlock + 2 * c.depth * aggBlock) * e;
  const bakedW = (Cd * 3 * ps * ps + Cd + 2 * Cd) * 4; // embed conv + bridge norm: float32 initializers (fp16 too)
  const consts =
    ((1 + c.dino.posGrid ** 2) * Cd + (1 + c.dino.numRegisters) * Cd + (2 + 2 * c.numRegisterTokens) * C) * 4;
  const largestWeight = Math.max(3 * C * C, C * M, Cd * Md, 3 * Cd * Cd) * e; // qkv or fc1 of one block
  const weightWhere: MemoryLocation = ep === 'webgpu' ? 'gpu' : 'host';
  const heads = headsMemory.terms(x);
  const weightsResident: MemoryTerm[] = [
    // WebGPU: one storage buffer per block weight; wasm: JS Float32Arrays fed (copied into the heap) per run
    { name: 'aggregator block weights', bytes: aggW, bufferBytes: largestWeight, on: weightWhere },
    term('embed + bridge initializers', 1, bakedW, dev),
    term('aggregator constants (pos-embed, tokens)', 1, consts, 'host'),
    ...heads.weights,
  ];

  // --- per run -------------------------------------------------------------------------------------------
  const run: MemoryTerm[] = [term('input images [S,3,H,W] f32', 1, S * 3 * H * W * 4, 'host')];
  // On WebGPU the aggregator hands the layers to the heads as GPU tensors in its dtype (interleaved on the device)
  // when asked and one [N,2C] buffer fits the limit; else (and on wasm) they are read back to the host as float32.
  const layersOnGpu = ep === 'webgpu' && heads.layers.on === 'gpu' && 2 * N * C * e <= x.limitBytes;
  const headLayers = layersOnGpu
    ? term(`head layers [S,P,2C] ${ty} (GPU)`, heads.layers.count, S * P * C2 * e, 'gpu')
    : term('head layers [S,P,2C] f32 (host)', heads.layers.count, S * P * C2 * 4, 'host');

  // A wasm-EP segment run copies its block weights into the heap for the run.
  const blockCopy = (params: number, what: string): MemoryTerm[] =>
    ep === 'wasm' ? [term(`${what} block weights (per-run copy)`, 1, params * 4, 'wasm')] : [];
  const act = (name: string, count: number, elems: number) => term(name, count, elems * e, dev);
  // Whole [rows, C] tensors the chunks are assembled into: on the wasm EP JS arrays, on WebGPU GPU buffers.
  const whole = (name: string, count: number, elems: number) =>
    term(name, count, elems * e, ep === 'webgpu' ? 'gpu' : 'host');

  /**
   * A block split at its attention into token-chunked pre/post segments (global blocks; DINO and frame blocks on
   * WebGPU): x and the assembled q, k, v, o, y are whole [R, C]; a chunk of r rows runs the segment.
   */
  const split = (
    R: number,
    r: number,
    CC: number,
    MM: number,
    pre: number,
    post: number,
    what: string,
  ): MemoryTerm[][] => [
    [
      ...blockCopy(pre, `${what} pre`),
      whole(`${what} x, q, k, v [R,C]`, 4, R * CC),
      act(`${what} x chunk [r,C]`, 1, r * CC),
      act(`${what} qkv MatMul + bias out [r,3C]`, 2, r * 3 * CC),
      act(`${what} q, k, v chunk [r,C]`, 3, r * CC),
    ],
    [
      ...blockCopy(post, `${what} post`),
      whole(`${what} x, o, y [R,C]`, 3, R * CC),
      act(`${what} x, o chunks [r,C]`, 2, r * CC),
      act(`${what} x1 [r,C]`, 1, r * CC),
      act(`${what} MLP hidden [r,M]`, MLP_HIDDEN_LIVE, r * MM),
      act(`${what} y chunk [r,C]`, 1, r * CC),
    ],
  ];
  /** The attention core over whole tensors: x, q, k, v in, o out (the WGSL flash kernels hold no scores). */
  const flash = (R: number, CC: number, what: string): MemoryTerm[] => [
    whole(`${what} x, q, k, v, o [R,C]`, 5, R * CC),
  ];
  const preParams = (CC: number, dd: number, qk: boolean) => 4 * CC + 3 * CC * CC + 3 * CC + (qk ? 4 * dd : 0);

  /** A whole local block as one ONNX session over f frames at a time (wasm EP): x and y whole, scores per chunk. */
  const onnxLocal = (
    T: number,
    CC: number,
    MM: number,
    heads: number,
    params: number,
    f: number,
    what: string,
  ): MemoryTerm[][] => [
    [
      ...blockCopy(params, what),
      whole(`${what} x, y [S,T,C]`, 2, S * T * CC),
      act(`${what} x chunk, q/k/v heads [f,T,C]`, 4, f * T * CC),
      ...localScores(f, heads, T, e).map((t) => on(t, dev)),
    ],
    [
      ...blockCopy(params, what),
      whole(`${what} x, y [S,T,C]`, 2, S * T * CC),
      act(`${what} x chunk, x1 [f,T,C]`, 2, f * T * CC),
      act(`${what} MLP hidden [f·T,M]`, MLP_HIDDEN_LIVE, f * T * MM),
    ],
  ];
  const wgslLocal = ep === 'webgpu';
  const dinoPre = preParams(Cd, c.dino.headDim, false);
  const aggPre = preParams(C, d, true);
  const dino = wgslLocal
    ? [...split(S * Td, nd, Cd, Md, dinoPre, dinoBlock - dinoPre, 'DINO'), flash(S * Td, Cd, 'DINO')]
    : onnxLocal(Td, Cd, Md, c.dino.heads, dinoBlock, plan.dinoFrames, 'DINO');
  // RoPE tables over all N tokens, uploaded once per run in the chunks' cut (WebGPU); host arrays on wasm.
  const rope = term('RoPE tables [N,1,d]', 2, N * d * (ep === 'webgpu' ? e : 4), ep === 'webgpu' ? 'gpu' : 'host');
  const frame = wgslLocal
    ? [...split(N, n, C, M, aggPre, aggBlock - aggPre, 'frame'), flash(N, C, 'frame')]
    : onnxLocal(P, C, M, Hh, aggBlock, plan.frames, 'frame');
  // Global blocks: the frame-block output xf is held throughout (read back as a head layer with the block output).
  const xf = whole('global xf [N,C]', 1, N * C);
  const global = split(N, n, C, M, aggPre, aggBlock - aggPre, 'global').map((ph) => [xf, ...ph]);
  if (ep === 'webgpu' && !layersOnGpu)
    global[1]!.push(term('layer readback staging [N,C] (fp16)', 1, N * C * e, 'gpu'));

  // Global attention core: xf, q, k, v in, o out; the WGSL sparse path adds 4 permuted copies and the block mask.
  const core: MemoryTerm[] = [
    xf,
    ...flash(N, C, 'global').map((t) => ({ ...t, name: 'global q, k, v, o [N,C]', bytes: (t.bytes * 4) / 5 })),
  ];
  if (x.attention === 'onnx') {
    core.push(act('q/k/v transposed [H,N,d]', 3, N * C), ...globalScores(N, Hh, e).map((t) => on(t, dev)));
  } else if (x.policy !== 'dense') {
    const Lm = maskLayout(S, P);
    const keptPerRow = Lm.specialKeyBlocks + Math.ceil((1 - x.sparsity) * Lm.candidateKeyBlocks);
    const rows = Lm.denseQueryBlocks * Lm.numKeyBlocks + (Lm.numQueryBlocks - Lm.denseQueryBlocks) * keptPerRow;
    core.push(
      term('permuted q, k, v, o [N,H,d] f32', 4, N * C * 4, 'gpu'),
      term('block mask indices', 1, Hh * rows * 4, 'gpu'),
    );
    if (N < 4096) core.push(term('q, k read back for the Wasm planner', 2, N * C * 4, 'host'));
  }
  const attention = { resident: [], phases: [core] };

  return {
    weights: { resident: weightsResident, phases: [[]] },
    dino: { resident: run, phases: dino },
    frame: { resident: [rope, headLayers], phases: frame },
    global: { resident: [], phases: global },
    attention,
    heads: { resident: heads.resident, phases: heads.phases.length ? heads.phases : [[]] },
  };
}

const sumOn = (ts: MemoryTerm[], where: MemoryLocation) => ts.reduce((a, t) => a + (t.on === where ? t.bytes : 0), 0);

/** A model's memory estimate: the trunk's stages from `config`, the heads' from `heads`. */
export function estimateModelMemory(config: VggtConfig, input: EstimateInput, heads: HeadsMemory): MemoryEstimate {
  const x = resolve(config, input, heads);
  const table = stageTerms(config, x, heads);
  const stages: StageEstimate[] = [];
  const resident: MemoryTerm[] = [];
  for (const stage of ESTIMATE_STAGES) {
    const s = table[stage];
    resident.push(...s.resident);
    let best: StageEstimate | null = null;
    for (const phase of s.phases) {
      const terms = [...resident, ...phase];
      const gpu = sumOn(terms, 'gpu'),
        host = sumOn(terms, 'host'),
        wasm = sumOn(terms, 'wasm');
      if (!best)
        best = { stage, gpuBytes: gpu, hostBytes: host, wasmBytes: wasm, largestBuffer: { name: '', bytes: 0 }, terms };
      else {
        // per location, the widest phase; terms reported for the phase widest on the model's device
        if (x.ep === 'webgpu' ? gpu > best.gpuBytes : wasm > best.wasmBytes) best.terms = terms;
        best.gpuBytes = Math.max(best.gpuBytes, gpu);
        best.hostBytes = Math.max(best.hostBytes, host);
        best.wasmBytes = Math.max(best.wasmBytes, wasm);
      }
      for (const t of phase.concat(resident)) {
        if (t.on === 'gpu' && t.bufferBytes > best.largestBuffer.bytes)
          best.largestBuffer = { name: t.name, bytes: t.bufferBytes };
      }
    }
    stages.push(best!);
  }
  const top = stages.reduce((a, s) => (s.largestBuffer.bytes > a.largestBuffer.bytes ? s : a));
  return {
    input: x,
    stages,
    gpuBytes: Math.max(...stages.map((s) => s.gpuBytes)),
    largestBuffer: { ...top.largestBuffer, stage: top.stage },
    hostBytes: Math.max(...stages.map((s) => s.hostBytes)),
    wasmBytes: Math.max(...stages.map((s) => s.wasmBytes)),
    // as Aggregator.run: S · max(P, T) · C · 4
    attentionCheckBytes:
      x.S *
      (Math.max(config.patchStartIdx, 1 + config.dino.numRegisters) + (x.H * x.W) / config.patchSize ** 2) *
      config.embedDim *
      4,
  };
}
