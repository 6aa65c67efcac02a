// The WGSL mask builder: pools and ranks on the GPU, bit-identical to the Wasm builder (see assembly/mask.ts for
// the shared f32 contract). WebGPU-only: not exported from `hess-vggt/planner`.
import poolWgsl from '../../shaders/mask_pool.wgsl';
import topkWgsl from '../../shaders/mask_topk.wgsl';
import { check, HessError } from '../errors.js';
import { createStorageBuffer, f32bits, readBuffer, STORAGE_USAGE } from '../gpu/buffers.js';
import { bindBuffers, getPipeline } from '../gpu/pipelines.js';
import { specializeWgsl } from '../gpu/specialize.js';
import { createUniform, uniformStruct } from '../gpu/uniform.js';
import type { HessDevice } from '../gpu/device.js';
import { prepare, type MaskInput } from './input.js';
import type { MaskLayout } from './layout.js';
import { toMask } from './reference.js';
import type { BlockMask } from './types.js';

/** {@link MaskInput} with Q and K as GPU storage buffers (f32 or f16, token-major [N, heads, headDim]). */
export interface GpuMaskInput extends Omit<MaskInput, 'q' | 'k'> {
  q: GPUBuffer;
  k: GPUBuffer;
  /**
   * Element type of q and k (default 'f32'). 'f16' (needs shader-f16) gives the masks the Wasm builder gives for
   * their f32 widening, bit for bit.
   */
  dtype?: 'f32' | 'f16';
  /** Largest Q/K binding window in bytes (default: the device's maxStorageBufferBindingSize; lower it to test). */
  maxBindingBytes?: number;
}

/** What {@link encodeMaskBuild} leaves on the GPU. Call destroy() when done. */
export interface GpuMaskBuild {
  layout: MaskLayout;
  offsets: Uint32Array;
  /** u32 CSR indices (offsets[last] values). */
  indices: GPUBuffer;
  /** Pooled f32 [heads, sparse query blocks, d] and [heads, candidate key blocks, d]. */
  pooledQ: GPUBuffer;
  pooledK: GPUBuffer;
  destroy(): void;
}

/** mask_topk.wgsl's pipeline constants: MAX_D sizes the workgroup copy of one pooled query row. */
const TOPK_CONSTANTS = { MAX_D: 128 } as const;
/** Invocations per workgroup of mask_pool.wgsl (one per channel of heads·d). */
const POOL_WG = 64;
const POOL_PARAMS = uniformStruct(poolWgsl, 'Params');
const TOPK_PARAMS = uniformStruct(topkWgsl, 'Params');

/** The pooling shader for f32 or f16 Q/K (a storage element type is text: WGSL cannot override a type). */
function poolSource(dtype: 'f32' | 'f16'): string {
  return dtype === 'f32' ? poolWgsl : specializeWgsl(poolWgsl, { f16: true, aliases: { XT: 'f16' } });
}

/**
 * Encode mask planning for one layer into `encoder` (nothing is read back). The mask's `offsets` are known on the
 * host already (they depend only on the budgets); `indices` is filled by the GPU.
 *
 * @example
 * const enc = gpu.device.createCommandEncoder();
 * const m = encodeMaskBuild(gpu, enc, { q: qBuf, k: kBuf, S: 100, P: 1374, heads: 16, headDim: 64, budgets });
 * gpu.device.queue.submit([enc.finish()]); // m.indices feeds the block-sparse attention kernel
 */
export function encodeMaskBuild(gpu: HessDevice, encoder: GPUCommandEncoder, inp: GpuMaskInput): GpuMaskBuild {
  const p = prepare({ ...inp, q: new Float32Array(0), k: new Float32Array(0) }, false);
  const { L, nQ, nK } = p;
  const H = inp.heads,
    d = inp.headDim;
  check(
    d <= TOPK_CONSTANTS.MAX_D,
    `the WGSL mask builder supports headDim ≤ ${TOPK_CONSTANTS.MAX_D}, got ${d}`,
    'use the Wasm builder (buildMasks) for wider heads',
  );
  const dtype = inp.dtype ?? 'f32';
  check(dtype === 'f32' || dtype === 'f16', `dtype must be 'f32' or 'f16', got ${String(dtype)}`);
  if (dtype === 'f16' && !gpu.features.shaderF16) {
    throw new HessError(
      'NO_SHADER_F16',
      'the WGSL mask builder got f16 Q/K, but this device lacks shader-f16',
      'pass f32 Q/K or use the Wasm builder',
    );
  }
  const z = dtype === 'f16' ? 2 : 4; // bytes per element
  check(z === 4 || (H * d) % 2 === 0, 'f16 Q/K need an even heads·headDim (binding windows are whole 4-byte words)');
  const need = L.N * H * d * z;
  for (const [name, b] of [
    ['q', inp.q],
    ['k', inp.k],
  ] as const) {
    if (b.size < need)
      throw new HessError(
        'SHAPE_MISMATCH',
        `${name} buffer has ${b.size} bytes, need ${need} for [${L.N}, ${H}, ${d}] ${dtype}`,
        'pass one layer’s Q/K, token-major',
      );
  }
  const dev = gpu.device;
  const total = p.offsets[p.offsets.length - 1];
  const perm = createStorageBuffer(dev, p.perm, 'mask perm');
  const pooledQ = dev.createBuffer({
    size: Math.max(16, H * nQ * d * 4),
    usage: STORAGE_USAGE,
    label: 'mask pooled q',
  });
  const pooledK = dev.createBuffer({
    size: Math.max(16, H * nK * d * 4),
    usage: STORAGE_USAGE,
    label: 'mask pooled k',
  });
  const budgets = createStorageBuffer(dev, Uint32Array.from(p.budgets), 'mask budgets');
  const offsets = createStorageBuffer(dev, p.offsets, 'mask offsets');
  const indices = dev.createBuffer({ size: Math.max(16, total * 4), usage: STORAGE_USAGE, label: 'mask indices' });
  const temps: GPUBuffer[] = [perm, budgets, offsets];

  const pool = getPipeline(dev, poolSource(dtype), 'main', { WG: POOL_WG });
  const pass = encoder.beginComputePass({ label: 'hess mask' });
  pass.setPipeline(pool);
  const maxBind = Math.min(inp.maxBindingBytes ?? Infinity, gpu.limits.maxStorageBufferBindingSize);
  const align = gpu.limits.minStorageBufferOffsetAlignment;
  const row = H * d;
  for (const [x, out, bs, first, n] of [
    [inp.q, pooledQ, L.queryBlock, L.denseQueryBlocks, nQ],
    [inp.k, pooledK, L.keyBlock, L.specialKeyBlocks, nK],
  ] as const) {
    if (n === 0) continue;
    const lastN = L.N - (first + n - 1) * bs;
    // Chunks of blocks whose rows fit one binding window (rows ascend: pooled blocks hold patch tokens only).
    for (let b0 = 0; b0 < n; ) {
      const rowStart = p.perm[(first + b0) * bs];
      const offset = Math.floor((rowStart * row * z) / align) * align;
      const endOf = (b: number) => (p.perm[Math.min((first + b + 1) * bs, L.N) - 1] + 1) * row * z; // byte end of block b
      let b1 = b0;
      while (b1 < n && endOf(b1) - offset <= maxBind) b1++;
      if (b1 === b0) {
        throw new HessError(
          'LIMIT_TOO_SMALL',
          `one block of ${bs} tokens × ${row} values exceeds maxStorageBufferBindingSize (${maxBind})`,
          'use smaller blocks or the Wasm builder',
        );
      }
      const size = endOf(b1 - 1) - offset;
      // invFull/invLast are f32 bit patterns in u32 fields: the shader bitcasts them (exactly the f32 the Wasm twin uses).
      const params = createUniform(
        dev,
        POOL_PARAMS,
        {
          N: L.N,
          heads: H,
          d,
          blockSize: bs,
          firstBlock: first + b0,
          numBlocks: b1 - b0,
          invFull: f32bits(1 / bs),
          invLast: f32bits(1 / lastN),
          outBlock0: b0,
          outBlocks: n,
          base: offset / z,
        },
        'mask pool params',
      );
      temps.push(params);
      pass.setBindGroup(
        0,
        dev.createBindGroup({
          layout: pool.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: x, offset, size } },
            { binding: 1, resource: { buffer: perm } },
            { binding: 2, resource: { buffer: out } },
            { binding: 3, resource: { buffer: params } },
          ],
        }),
      );
      pass.dispatchWorkgroups(Math.ceil(row / POOL_WG), b1 - b0);
      b0 = b1;
    }
  }
  const topk = getPipeline(dev, topkWgsl, 'main', TOPK_CONSTANTS);
  const params = createUniform(
    dev,
    TOPK_PARAMS,
    {
      heads: H,
      d,
      nQ,
      nK,
      denseQ: L.denseQueryBlocks,
      specialK: L.specialKeyBlocks,
      numQueryBlocks: L.numQueryBlocks,
      numKeyBlocks: L.numKeyBlocks,
    },
    'mask top-k params',
  );
  temps.push(params);
  pass.setPipeline(topk);
  pass.setBindGroup(0, bindBuffers(dev, topk, [pooledQ, pooledK, budgets, offsets, indices, params]));
  pass.dispatchWorkgroups(L.numQueryBlocks, H);
  pass.end();
  return {
    layout: L,
    offsets: p.offsets,
    indices,
    pooledQ,
    pooledK,
    destroy: () => {
      for (const b of [...temps, pooledQ, pooledK, indices]) b.destroy();
    },
  };
}

/**
 * Build one layer's {@link BlockMask} on the GPU and read it back: same masks, bit for bit, as buildMasks (Wasm).
 *
 * @example
 * const mask = await buildMasksGpu(gpu, { q: qBuf, k: kBuf, S: 32, P: 1374, heads: 16, headDim: 64, budgets });
 */
export async function buildMasksGpu(gpu: HessDevice, inp: GpuMaskInput): Promise<BlockMask> {
  const enc = gpu.device.createCommandEncoder();
  gpu.device.pushErrorScope('validation');
  let m: GpuMaskBuild;
  try {
    m = encodeMaskBuild(gpu, enc, inp);
    gpu.device.queue.submit([enc.finish()]);
  } catch (e) {
    await gpu.device.popErrorScope();
    throw e;
  }
  const err = await gpu.device.popErrorScope();
  if (err) {
    m.destroy();
    throw new HessError(
      'GPU_ERROR',
      `WebGPU validation error in the mask builder: ${err.message}`,
      'this is a bug in hess-vggt; please report it',
    );
  }
  try {
    const total = m.offsets[m.offsets.length - 1];
    const indices = new Uint32Array(await readBuffer(gpu.device, m.indices, total * 4));
    return toMask(m.layout, inp.heads, m.offsets, indices);
  } finally {
    m.destroy();
  }
}
