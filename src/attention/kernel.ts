import flashWgsl from '../../shaders/attention_flash.wgsl';
import { HessError, check } from '../errors.js';
import { BufferUsage, createStorageBuffer, poisonBuffer, readBuffer } from '../gpu/buffers.js';
import type { HessDevice } from '../gpu/device.js';
import { getPipeline } from '../gpu/pipelines.js';
import { specializeWgsl } from '../gpu/specialize.js';
import { createUniform, uniformStruct } from '../gpu/uniform.js';
import { fromF16, toF16 } from './f16.js';
import { type AttentionShape, type BlockSparseLayout, validateLayout, validateShape } from './layout.js';

/** Storage precision of Q, K, V, O. Arithmetic is fp32 either way; 'f16' needs the device's shader-f16. */
export type AttentionDType = 'f32' | 'f16';

/** Caller-owned GPU buffers, all token-major `[N, H, D]` (f32, or f16 for dtype 'f16'). `o` must not alias the others. */
export interface AttentionBuffers {
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  o: GPUBuffer;
}

/** Kernel tile sizes (defaults are chosen from D; exposed for benchmarking). */
export interface AttentionTiling {
  /** Query rows per workgroup = invocations per workgroup (default 128). */
  rows?: number;
  /** Keys per workgroup-memory tile (default: 64 for D ≤ 32, 32 for D = 64, 16 for D = 128). */
  keys?: number;
}

export interface AttentionOptions {
  dtype?: AttentionDType;
  tiling?: AttentionTiling;
}

const STORAGE = BufferUsage.STORAGE;

function tiles(gpu: HessDevice, D: number, t: AttentionTiling = {}): { BQ: number; BK: number } {
  // 128 rows: one workgroup covers a whole default 128-token query block, so each K/V tile is loaded once per block.
  const BQ = t.rows ?? 128;
  const BK = t.keys ?? (D <= 32 ? 64 : D <= 64 ? 32 : 16);
  check(
    Number.isInteger(BQ) && BQ >= 1 && BQ <= gpu.limits.maxComputeInvocationsPerWorkgroup,
    `attention: tiling.rows must be an integer in [1, ${gpu.limits.maxComputeInvocationsPerWorkgroup}], got ${BQ}`,
  );
  check(
    Number.isInteger(BK) && BK >= 4 && BK <= 256 && BK % 4 === 0,
    `attention: tiling.keys must be a multiple of 4 in [4, 256], got ${BK}`,
  );
  const shared = 2 * BK * D * 4;
  if (shared > gpu.limits.maxComputeWorkgroupStorageSize) {
    throw new HessError(
      'LIMIT_TOO_SMALL',
      `attention: K/V tiles need ${shared} bytes of workgroup memory, the device allows ${gpu.limits.maxComputeWorkgroupStorageSize}`,
      'use a smaller tiling.keys',
    );
  }
  return { BQ, BK };
}

/**
 * The WGSL variant for (D, BK, dtype). These three are text (src/gpu/specialize.ts): the element type cannot be
 * overridden, and D and BK size function-scope arrays, which overrides may not. The rows per workgroup are the
 * pipeline constant BQ (see `attentionPipeline`).
 *
 * @example
 * const code = attentionShaderSource(64, 32, 'f16'); // enable f16; vec4<f16> storage, D = 64, 32 keys per tile
 */
export function attentionShaderSource(D: number, BK: number, dtype: AttentionDType): string {
  return specializeWgsl(flashWgsl, { f16: dtype === 'f16', aliases: { T4: `vec4<${dtype}>` }, consts: { D, BK } });
}

/** The compiled (cached) pipeline of one entry point for a head dim, tiles and dtype. */
function attentionPipeline(
  gpu: HessDevice,
  entry: 'dense' | 'sparse',
  D: number,
  t: { BQ: number; BK: number },
  dtype: AttentionDType,
) {
  return getPipeline(gpu.device, attentionShaderSource(D, t.BK, dtype), entry, { BQ: t.BQ });
}

/** The shader's `struct Params`, packed by field name. */
const PARAMS = uniformStruct(flashWgsl, 'Params');
type AttentionParams = {
  n: number;
  h: number;
  qBlock: number;
  kBlock: number;
  nQB: number;
  subPerQB: number;
  scale: number;
};

const paramCache = new WeakMap<GPUDevice, Map<string, GPUBuffer>>();

// Params are immutable per (shape, blocks, tiles): keep one uniform buffer per distinct set, so repeated encodes
// (every layer, every frame) allocate nothing.
function params(device: GPUDevice, values: AttentionParams): GPUBuffer {
  let m = paramCache.get(device);
  if (!m) paramCache.set(device, (m = new Map()));
  const key = JSON.stringify(values);
  let buf = m.get(key);
  if (!buf) m.set(key, (buf = createUniform(device, PARAMS, values, 'attention params')));
  return buf;
}

const dummies = new WeakMap<GPUDevice, GPUBuffer>();
function dummy(device: GPUDevice): GPUBuffer {
  let b = dummies.get(device);
  if (!b) dummies.set(device, (b = createStorageBuffer(device, new Uint32Array(4), 'attention unused')));
  return b;
}

function checkBuffers(
  gpu: HessDevice,
  b: AttentionBuffers,
  shape: AttentionShape,
  dtype: AttentionDType,
  what: string,
): void {
  check(dtype === 'f32' || dtype === 'f16', `${what}: dtype must be 'f32' or 'f16', got ${String(dtype)}`);
  if (dtype === 'f16' && !gpu.features.shaderF16) {
    throw new HessError(
      'NO_SHADER_F16',
      `${what}: dtype 'f16' needs the shader-f16 feature, which this device lacks`,
      "use dtype 'f32' (always available)",
    );
  }
  const bytes = (shape.batch ?? 1) * shape.N * shape.H * shape.D * (dtype === 'f16' ? 2 : 4);
  if (bytes > gpu.limits.maxStorageBufferBindingSize) {
    throw new HessError(
      'LIMIT_TOO_SMALL',
      `${what}: one [batch·N, H, D] tensor is ${bytes} bytes, over maxStorageBufferBindingSize ${gpu.limits.maxStorageBufferBindingSize}`,
      'use fewer frames, or fp16',
    );
  }
  for (const name of ['q', 'k', 'v', 'o'] as const) {
    const buf = b[name];
    check(buf && typeof buf.size === 'number', `${what}: buffer ${name} is missing`);
    if (buf.size < bytes) {
      throw new HessError(
        'SHAPE_MISMATCH',
        `${what}: buffer ${name} has ${buf.size} bytes, [batch=${shape.batch ?? 1} × N=${shape.N}, H=${shape.H}, D=${shape.D}] ${dtype} needs ${bytes}`,
        'pass token-major [batch·N, H, D] buffers of the given dtype',
      );
    }
    check(
      (buf.usage & STORAGE) !== 0,
      `${what}: buffer ${name} lacks STORAGE usage`,
      'create it with GPUBufferUsage.STORAGE',
    );
  }
  check(
    b.o !== b.q && b.o !== b.k && b.o !== b.v,
    `${what}: the output buffer must not be one of q, k, v`,
    'write the output to its own buffer',
  );
}

function dispatch(
  gpu: HessDevice,
  encoder: GPUCommandEncoder,
  pipe: GPUComputePipeline,
  bufs: [number, GPUBuffer][],
  x: number,
  y: number,
  z = 1,
): void {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (x > max || y > max || z > max) {
    throw new HessError(
      'LIMIT_TOO_SMALL',
      `attention: ${x}×${y}×${z} workgroups exceed maxComputeWorkgroupsPerDimension ${max}`,
      'use fewer tokens or sequences per call, or larger tiling.rows',
    );
  }
  const pass = encoder.beginComputePass({ label: 'hess attention' });
  pass.setPipeline(pipe);
  pass.setBindGroup(
    0,
    gpu.device.createBindGroup({
      layout: pipe.getBindGroupLayout(0),
      entries: bufs.map(([binding, buffer]) => ({ binding, resource: { buffer } })),
    }),
  );
  pass.dispatchWorkgroups(x, y, z);
  pass.end();
}

/**
 * Encode dense attention O = softmax(Q·Kᵀ·scale)·V into the caller's `encoder` (nothing is submitted or read back).
 * All four buffers are token-major `[N, H, D]` = `[N, H·D]` (what Linear + Reshape gives; no Transpose), f32, or f16
 * with `dtype: 'f16'`. Flash-style: online softmax, K/V tiles in workgroup memory; no N×N scores. With
 * `shape.batch = B` the buffers are `[B·N, H, D]` and each of the B sequences attends within itself, in one
 * dispatch (workgroup id z = sequence).
 *
 * @example
 * const enc = gpu.device.createCommandEncoder();
 * encodeAttention(gpu, enc, { q, k, v, o }, { N: 2748, H: 16, D: 64 });
 * encodeAttention(gpu, enc, { q, k, v, o }, { N: 1374, H: 16, D: 64, batch: 8 }); // 8 frames, per-frame attention
 * gpu.device.queue.submit([enc.finish()]);
 */
export function encodeAttention(
  gpu: HessDevice,
  encoder: GPUCommandEncoder,
  buffers: AttentionBuffers,
  shape: AttentionShape,
  opts: AttentionOptions = {},
): void {
  const scale = validateShape(shape, 'attention');
  const dtype = opts.dtype ?? 'f32';
  checkBuffers(gpu, buffers, shape, dtype, 'attention');
  const { BQ, BK } = tiles(gpu, shape.D, opts.tiling);
  const pipe = attentionPipeline(gpu, 'dense', shape.D, { BQ, BK }, dtype);
  const p = params(gpu.device, {
    n: shape.N,
    h: shape.H,
    qBlock: 0,
    kBlock: 0,
    nQB: 0,
    subPerQB: 1,
    scale: scale * Math.LOG2E,
  });
  // The dense entry shares the sparse loop, so it statically uses blockIdx (binding 6) but never reads it.
  dispatch(
    gpu,
    encoder,
    pipe,
    [
      [0, buffers.q],
      [1, buffers.k],
      [2, buffers.v],
      [3, buffers.o],
      [4, p],
      [6, dummy(gpu.device)],
    ],
    Math.ceil(shape.N / BQ),
    shape.H,
    shape.batch ?? 1,
  );
}

/** A validated block-sparse layout uploaded to the GPU, reusable across encodes. */
export interface BlockSparsePlan {
  readonly shape: Readonly<AttentionShape>;
  readonly queryBlock: number;
  readonly keyBlock: number;
  readonly nQB: number;
  readonly nKB: number;
  /** Listed blocks per head, as a fraction of H·nQB·nKB. */
  readonly keptFraction: number;
  readonly offsets: GPUBuffer;
  readonly indices: GPUBuffer;
  /** Free the two list buffers. */
  destroy(): void;
}

/**
 * Validate a block-sparse layout (typed errors; EMPTY_ROW for a row with no block) and upload its lists.
 *
 * @example
 * const plan = createBlockSparsePlan(gpu, { N, H: 16, D: 64 }, { queryBlock: 128, keyBlock: 64, offsets, indices });
 */
export function createBlockSparsePlan(
  gpu: HessDevice,
  shape: AttentionShape,
  layout: BlockSparseLayout,
): BlockSparsePlan {
  const { nQB, nKB } = validateLayout(shape, layout);
  const offsets = createStorageBuffer(gpu.device, Uint32Array.from(layout.offsets), 'attention row offsets');
  const indices = createStorageBuffer(
    gpu.device,
    Uint32Array.from(layout.indices.length ? layout.indices : [0]),
    'attention key blocks',
  );
  return {
    shape: { ...shape },
    queryBlock: layout.queryBlock,
    keyBlock: layout.keyBlock,
    nQB,
    nKB,
    keptFraction: layout.indices.length / (shape.H * nQB * nKB),
    offsets,
    indices,
    destroy: () => {
      offsets.destroy();
      indices.destroy();
    },
  };
}

/**
 * Encode block-sparse attention: head h, query block i attends only to the key blocks the plan lists for it.
 * Buffers as in {@link encodeAttention}; `shape` must match the plan's.
 *
 * @example
 * const enc = gpu.device.createCommandEncoder();
 * encodeBlockSparseAttention(gpu, enc, { q, k, v, o }, plan);
 * gpu.device.queue.submit([enc.finish()]);
 */
export function encodeBlockSparseAttention(
  gpu: HessDevice,
  encoder: GPUCommandEncoder,
  buffers: AttentionBuffers,
  plan: BlockSparsePlan,
  opts: AttentionOptions = {},
): void {
  const shape = plan.shape;
  const scale = validateShape(shape, 'block-sparse attention');
  const dtype = opts.dtype ?? 'f32';
  checkBuffers(gpu, buffers, shape, dtype, 'block-sparse attention');
  const { BQ, BK } = tiles(gpu, shape.D, opts.tiling);
  const sub = Math.ceil(plan.queryBlock / BQ);
  const pipe = attentionPipeline(gpu, 'sparse', shape.D, { BQ, BK }, dtype);
  const p = params(gpu.device, {
    n: shape.N,
    h: shape.H,
    qBlock: plan.queryBlock,
    kBlock: plan.keyBlock,
    nQB: plan.nQB,
    subPerQB: sub,
    scale: scale * Math.LOG2E,
  });
  dispatch(
    gpu,
    encoder,
    pipe,
    [
      [0, buffers.q],
      [1, buffers.k],
      [2, buffers.v],
      [3, buffers.o],
      [4, p],
      [5, plan.offsets],
      [6, plan.indices],
    ],
    plan.nQB * sub,
    shape.H,
  );
}

/**
 * Convenience for tests and demos: upload q, k, v (token-major `[N, H, D]` floats), run dense attention (or
 * block-sparse with `layout`), read O back as floats. The output buffer is NaN-poisoned first.
 *
 * @example
 * const o = await runAttention(gpu, { q, k, v }, { N: 256, H: 2, D: 64 }, { layout });
 */
export async function runAttention(
  gpu: HessDevice,
  data: { q: Float32Array; k: Float32Array; v: Float32Array },
  shape: AttentionShape,
  opts: AttentionOptions & { layout?: BlockSparseLayout } = {},
): Promise<Float32Array> {
  validateShape(shape, 'runAttention');
  const n = (shape.batch ?? 1) * shape.N * shape.H * shape.D;
  for (const name of ['q', 'k', 'v'] as const) {
    if (data[name]?.length !== n) {
      throw new HessError(
        'SHAPE_MISMATCH',
        `runAttention: ${name} has ${data[name]?.length} elements, batch·N·H·D = ${n}`,
      );
    }
  }
  const dtype = opts.dtype ?? 'f32';
  const { device } = gpu;
  const up = (x: Float32Array) => createStorageBuffer(device, dtype === 'f16' ? toF16(x) : x);
  const bufs: AttentionBuffers = {
    q: up(data.q),
    k: up(data.k),
    v: up(data.v),
    o: createStorageBuffer(device, n * (dtype === 'f16' ? 2 : 4)),
  };
  const plan = opts.layout ? createBlockSparsePlan(gpu, shape, opts.layout) : undefined;
  try {
    poisonBuffer(device, bufs.o);
    const enc = device.createCommandEncoder();
    if (plan) encodeBlockSparseAttention(gpu, enc, bufs, plan, opts);
    else encodeAttention(gpu, enc, bufs, shape, opts);
    device.pushErrorScope('validation');
    device.queue.submit([enc.finish()]);
    const err = await device.popErrorScope();
    if (err)
      throw new HessError(
        'GPU_ERROR',
        `attention: WebGPU validation error: ${err.message}`,
        'this is a bug in hess-vggt; please report it',
      );
    const raw = await readBuffer(device, bufs.o, n * (dtype === 'f16' ? 2 : 4));
    return dtype === 'f16' ? fromF16(new Uint16Array(raw)) : new Float32Array(raw);
  } finally {
    plan?.destroy();
    for (const b of Object.values(bufs)) b.destroy();
  }
}
