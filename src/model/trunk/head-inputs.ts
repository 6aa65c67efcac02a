/**
 * Head inputs that may live on the host or on the GPU. An aggregated layer `[S, P, 2·dim]` reaches a head either
 * as a Float32Array or as an onnxruntime-web tensor (CPU, or a GPU buffer on the heads' own WebGPU device; float32,
 * or float16 from a float16 aggregator), so that the aggregator can hand its layers over without a readback. The
 * heads read spans of rows from it (a chunk of frames, or the camera token of each frame): views on the host,
 * buffer-to-buffer copies on the GPU.
 */
import type { Tensor } from 'onnxruntime-web';
import { fromF16, toF16 } from '../../attention/f16.js';
import { HessError } from '../../errors.js';
import { STORAGE_USAGE } from '../../gpu/buffers.js';
import type { ExecutionTarget, Ort } from '../../runtime/ort.js';
import type { ElemType } from '../graph/ops.js';

/** An aggregated layer: host floats, or a float32/float16 ORT tensor (location 'cpu' or 'gpu-buffer'). */
export type HeadInput = Float32Array | Tensor;

/** Number of values in a head input (a tensor must be float32 or float16, on the CPU or in a GPU buffer). */
export function inputLength(x: HeadInput, what: string): number {
  if (x instanceof Float32Array) return x.length;
  if (typeof x !== 'object' || x === null || !('dims' in x)) {
    throw new HessError(
      'INVALID_ARGUMENT',
      `${what} must be a Float32Array or an onnxruntime-web Tensor`,
      'pass the aggregated layer as a Float32Array [S, P, 2·dim] or a float32 GPU tensor of that shape',
    );
  }
  if ((x.type !== 'float32' && x.type !== 'float16') || (x.location !== 'cpu' && x.location !== 'gpu-buffer')) {
    throw new HessError(
      'INVALID_ARGUMENT',
      `${what} is a ${x.type} tensor on '${x.location}'`,
      "pass a float32 (or, to a float16 head, float16) tensor on 'cpu' or in a 'gpu-buffer'",
    );
  }
  return x.dims.reduce((a, d) => a * d, 1);
}

/** A tensor made for one session run and what frees it. */
export interface RunTensor {
  readonly tensor: Tensor;
  dispose(): void;
}

/** The host data of `x`: float32 values, or float16 bit patterns (from a Float16Array too, where ORT uses one). */
function hostData(x: Float32Array | Tensor): Float32Array | Uint16Array {
  if (x instanceof Float32Array) return x;
  const d = x.data as Float32Array | Uint16Array;
  return x.type === 'float16' && !(d instanceof Uint16Array) ? toF16(d as ArrayLike<number>) : d;
}

/**
 * Rows `[o, o + count)` for every `o` in `offsets` (in elements) of `x`, concatenated into one tensor of `dims` and
 * element type `type` (the head's). Host input: a view when there is one span and no conversion, else a copy
 * (narrowed to float16 or widened as `type` needs). GPU input: it must already be `type` (no conversion kernel
 * exists); the tensor itself when the spans are all of it, else `copyBufferToBuffer` into a new storage buffer on
 * the target's device (freed by `dispose`).
 */
export function gatherSpans(
  ort: Ort,
  target: ExecutionTarget,
  x: HeadInput,
  offsets: readonly number[],
  count: number,
  dims: number[],
  type: ElemType = 'float32',
): RunTensor {
  const total = offsets.length * count;
  const whole = offsets.length === 1 && offsets[0] === 0 && total === inputLength(x, 'input');
  if (x instanceof Float32Array || x.location === 'cpu') {
    const a = hostData(x);
    let data: Float32Array | Uint16Array;
    if (offsets.length === 1) {
      data = a.subarray(offsets[0]!, offsets[0]! + count);
    } else {
      data = a instanceof Uint16Array ? new Uint16Array(total) : new Float32Array(total);
      offsets.forEach((o, i) => data.set(a.subarray(o, o + count), i * count));
    }
    // only the gathered rows are converted (a float16 head narrows float32 rows; a float32 head widens float16 ones)
    if (type === 'float16' && data instanceof Float32Array) data = toF16(data);
    else if (type === 'float32' && data instanceof Uint16Array) data = fromF16(data);
    return { tensor: new ort.Tensor(type, data, dims), dispose: () => {} };
  }
  if (target.ep !== 'webgpu') {
    throw new HessError(
      'INVALID_ARGUMENT',
      'a GPU tensor was passed to a head running on the wasm EP',
      'pass a Float32Array (or a CPU tensor), or create the head on the WebGPU device that holds the tensor',
    );
  }
  if (x.type !== type) {
    throw new HessError(
      'INVALID_ARGUMENT',
      `a ${x.type} GPU tensor was passed to a ${type} head`,
      `load the heads with the aggregator's dtype (${x.type === 'float16' ? "'fp16'" : "'fp32'"}), or pass the layer as a Float32Array`,
    );
  }
  const z = type === 'float16' ? 2 : 4;
  // copyBufferToBuffer works on 4-byte multiples: float16 spans must start and end on even elements
  if (offsets.some((o) => (o * z) % 4 !== 0) || (count * z) % 4 !== 0) {
    throw new HessError(
      'SHAPE_MISMATCH',
      `float16 rows of ${count} values at offsets ${offsets.slice(0, 3).join(', ')}… are not 4-byte aligned`,
      'use an even token width (2·embed_dim always is) or pass the layer as a Float32Array',
    );
  }
  if (whole) return { tensor: ort.Tensor.fromGpuBuffer(x.gpuBuffer, { dataType: type, dims }), dispose: () => {} };
  const device = target.gpu.device;
  const out = device.createBuffer({ size: Math.max(4, total * z), usage: STORAGE_USAGE, label: 'head input span' });
  const enc = device.createCommandEncoder();
  offsets.forEach((o, i) => enc.copyBufferToBuffer(x.gpuBuffer as GPUBuffer, o * z, out, i * count * z, count * z));
  device.queue.submit([enc.finish()]);
  return { tensor: ort.Tensor.fromGpuBuffer(out, { dataType: type, dims }), dispose: () => out.destroy() };
}
