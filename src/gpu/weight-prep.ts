// Checkpoint tensors → GPU weight buffers on the device: the raw bytes are uploaded as they are read, and one
// compute pass per tensor converts (F16/BF16 → f32, F32/BF16 → f16), transposes Linear weights and checks values
// (shaders/weight_prep.wgsl). The result is bit-identical to the host path (toFloat32 + transposeLinear, or
// readHalf + transposeHalf) and throws the same errors; it exists because the host path's per-element JS loops
// dominated loading VGGT-1B (1.19 B values) where JS runs unoptimised (Node with dawn.node needs --no-opt).
import weightPrepWgsl from '../../shaders/weight_prep.wgsl';
import { check, HessError } from '../errors.js';
import { createStorageBuffer, createUniformBuffer, readBuffer, STORAGE_USAGE } from './buffers.js';
import { bindBuffers, getPipeline } from './pipelines.js';

/** Checkpoint dtypes the device converts. */
export type RawWeightDtype = 'F32' | 'F16' | 'BF16';
export const RAW_WEIGHT_DTYPES: ReadonlySet<string> = new Set<RawWeightDtype>(['F32', 'F16', 'BF16']);
const SRC_CODE: Record<RawWeightDtype, number> = { F32: 0, F16: 1, BF16: 2 };
const SRC_BYTES: Record<RawWeightDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** One tensor to prepare. */
export interface RawWeight {
  /** Checkpoint name (for errors). */
  readonly name: string;
  /** Raw little-endian bytes as stored in the checkpoint. */
  readonly bytes: Uint8Array;
  readonly dtype: RawWeightDtype;
  readonly numel: number;
  /** A PyTorch Linear weight `[out, in]`: stored transposed, `[in, out]`. */
  readonly linear?: readonly [number, number];
  /**
   * Refuse NaN/±Inf in the checkpoint values (BAD_CHECKPOINT), as the model's host reader does for every tensor
   * it widens to float32.
   */
  readonly checkFinite: boolean;
}

const WORKGROUP = 256;
const MAX_GROUPS_X = 32768;
const NONE = 0xffffffff;

/**
 * Prepare `weights` as storage buffers of float32 (`half` false) or float16 bit patterns (`half` true), in one
 * submit, and check them (one readback). The buffers are the caller's; on error none is left allocated.
 *
 * Errors (those of the host path): BAD_CHECKPOINT for NaN/±Inf where `checkFinite`; INVALID_ARGUMENT for values
 * beyond the float16 range when `half`.
 *
 * @example
 * const [w] = await prepareWeights(device, [{ name, bytes, dtype: 'F16', numel, linear: [out, inDim], checkFinite: true }], false);
 */
export async function prepareWeights(
  device: GPUDevice,
  weights: readonly RawWeight[],
  half: boolean,
): Promise<GPUBuffer[]> {
  for (const w of weights) {
    check(
      RAW_WEIGHT_DTYPES.has(w.dtype),
      `prepareWeights: ${w.name} is ${w.dtype}; only F32, F16 and BF16 are converted on the device`,
    );
    check(
      w.bytes.byteLength === w.numel * SRC_BYTES[w.dtype],
      `tensor ${w.name} has ${w.bytes.byteLength} bytes, expected ${w.numel * SRC_BYTES[w.dtype]} for ${w.dtype}`,
    );
    check(
      !w.linear || w.linear[0] * w.linear[1] === w.numel,
      `linear weight ${w.name} has ${w.numel} elements, expected ${w.linear?.[0]}×${w.linear?.[1]}`,
      'pass the PyTorch weight and its [out, in] shape',
    );
  }
  const pipe = getPipeline(device, weightPrepWgsl);
  const status = createStorageBuffer(
    device,
    new Uint32Array(4 * Math.max(1, weights.length)).fill(NONE),
    'weight-prep status',
  );
  const out: GPUBuffer[] = [];
  const transient: GPUBuffer[] = [status];
  try {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipe);
    weights.forEach((w, slot) => {
      const src = createStorageBuffer(device, w.bytes, `${w.name} (raw)`);
      transient.push(src);
      // padded to 16 bytes, as ORT pads its own: its kernels may read a small tensor as whole vectors (a Cast read a
      // 2-value float16 bias as 8 bytes)
      const dst = device.createBuffer({
        size: Math.max(16, Math.ceil((w.numel * (half ? 2 : 4)) / 16) * 16),
        usage: STORAGE_USAGE,
        label: w.name,
      });
      out.push(dst);
      const [rows, cols] = w.linear ?? [1, w.numel];
      const params = createUniformBuffer(device, [
        w.numel,
        SRC_CODE[w.dtype],
        half ? 1 : 0,
        rows,
        cols,
        w.linear ? 1 : 0,
        slot,
        w.checkFinite ? 1 : 0,
      ]);
      transient.push(params);
      const words = half ? Math.ceil(w.numel / 2) : w.numel;
      const groups = Math.ceil(words / WORKGROUP);
      pass.setBindGroup(0, bindBuffers(device, pipe, [src, dst, status, params]));
      if (groups > 0) pass.dispatchWorkgroups(Math.min(groups, MAX_GROUPS_X), Math.ceil(groups / MAX_GROUPS_X));
    });
    pass.end();
    device.queue.submit([enc.finish()]);
    const s = new Uint32Array(await readBuffer(device, status, 16 * weights.length || 16));
    weights.forEach((w, slot) => {
      const [nan, inf, overflow] = [s[4 * slot]!, s[4 * slot + 1]!, s[4 * slot + 2]!];
      if (nan !== NONE || inf !== NONE) {
        const isNan = nan < inf;
        throw new HessError(
          'BAD_CHECKPOINT',
          `tensor ${w.name} holds ${isNan ? 'NaN' : 'infinite'} values (element ${isNan ? nan : inf})`,
          'the checkpoint is corrupt: fetch or convert it again',
        );
      }
      if (overflow !== NONE) {
        throw new HessError(
          'INVALID_ARGUMENT',
          `${w.name} has values beyond the float16 range (±65504)`,
          "load this checkpoint with dtype 'fp32'",
        );
      }
    });
    return out;
  } catch (e) {
    for (const b of out) b.destroy();
    throw e;
  } finally {
    for (const b of transient) b.destroy();
  }
}
