/**
 * Head inputs that may live on the host or on the GPU. An aggregated layer `[S, P, 2·dim]` reaches a head either
 * as a Float32Array or as an onnxruntime-web tensor (CPU, or a GPU buffer on the heads' own WebGPU device), so
 * that the aggregator can hand its layers over without a readback. The heads read spans of rows from it (a chunk
 * of frames, or the camera token of each frame): views on the host, buffer-to-buffer copies on the GPU.
 */
import type { Tensor } from 'onnxruntime-web';
import { HessError } from '../../errors';
import { STORAGE_USAGE } from '../../gpu/buffers';
import type { ExecutionTarget, Ort } from '../../runtime/ort';

/** An aggregated layer: host floats, or a float32 ORT tensor (location 'cpu' or 'gpu-buffer'). */
export type HeadInput = Float32Array | Tensor;

/** Number of float32 values in a head input (a tensor must be float32 on the CPU or in a GPU buffer). */
export function inputLength(x: HeadInput, what: string): number {
  if (x instanceof Float32Array) return x.length;
  if (typeof x !== 'object' || x === null || !('dims' in x)) {
    throw new HessError('INVALID_ARGUMENT', `${what} must be a Float32Array or an onnxruntime-web Tensor`,
      'pass the aggregated layer as a Float32Array [S, P, 2·dim] or a float32 GPU tensor of that shape');
  }
  if (x.type !== 'float32' || (x.location !== 'cpu' && x.location !== 'gpu-buffer')) {
    throw new HessError('INVALID_ARGUMENT', `${what} is a ${x.type} tensor on '${x.location}'`,
      "pass a float32 tensor on 'cpu' or in a 'gpu-buffer'");
  }
  return x.dims.reduce((a, d) => a * d, 1);
}

/** A tensor made for one session run and what frees it. */
export interface RunTensor {
  readonly tensor: Tensor;
  dispose(): void;
}

/**
 * Rows `[o, o + count)` for every `o` in `offsets` (in float32 elements) of `x`, concatenated into one tensor of
 * `dims`. Host input: a view when there is one span, else a copy. GPU input: the tensor itself when the spans are
 * all of it, else `copyBufferToBuffer` into a new storage buffer on the target's device (freed by `dispose`).
 */
export function gatherSpans(ort: Ort, target: ExecutionTarget, x: HeadInput, offsets: readonly number[], count: number, dims: number[]): RunTensor {
  const total = offsets.length * count;
  const whole = offsets.length === 1 && offsets[0] === 0 && total === inputLength(x, 'input');
  if (x instanceof Float32Array || x.location === 'cpu') {
    const a = x instanceof Float32Array ? x : (x.data as Float32Array);
    let data: Float32Array;
    if (offsets.length === 1) {
      data = a.subarray(offsets[0]!, offsets[0]! + count);
    } else {
      data = new Float32Array(total);
      offsets.forEach((o, i) => data.set(a.subarray(o, o + count), i * count));
    }
    return { tensor: new ort.Tensor('float32', data, dims), dispose: () => {} };
  }
  if (target.ep !== 'webgpu') {
    throw new HessError('INVALID_ARGUMENT', 'a GPU tensor was passed to a head running on the wasm EP',
      'pass a Float32Array (or a CPU tensor), or create the head on the WebGPU device that holds the tensor');
  }
  if (whole) return { tensor: ort.Tensor.fromGpuBuffer(x.gpuBuffer, { dataType: 'float32', dims }), dispose: () => {} };
  const device = target.gpu.device;
  const out = device.createBuffer({ size: Math.max(4, total * 4), usage: STORAGE_USAGE, label: 'head input span' });
  const enc = device.createCommandEncoder();
  offsets.forEach((o, i) => enc.copyBufferToBuffer(x.gpuBuffer as GPUBuffer, o * 4, out, i * count * 4, count * 4));
  device.queue.submit([enc.finish()]);
  return { tensor: ort.Tensor.fromGpuBuffer(out, { dataType: 'float32', dims }), dispose: () => out.destroy() };
}
