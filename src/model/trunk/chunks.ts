/**
 * Chunking of the aggregator's segments so that no tensor passes the device's limits: how many token rows (or
 * frames) one segment run may take, and the EP-specific row slicing/assembling that lets a whole `[rows, width]`
 * tensor be produced chunk by chunk (on WebGPU with copyBufferToBuffer on the device ORT shares with us, so the
 * assembled tensor never leaves the GPU).
 */
import type { Tensor } from 'onnxruntime-web';
import { check } from '../../errors.js';
import { readBuffer, readF32, STORAGE_USAGE } from '../../gpu/buffers.js';
import type { ExecutionTarget, Ort } from '../../runtime/ort.js';

/** The two device limits a single tensor must respect (a WebGPU device's, or overrides). */
export interface BufferLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/**
 * Bytes one tensor may take on the wasm EP, which has no binding limit but one 4 GiB heap shared by every
 * intermediate of a run (a GELU over the MLP hidden holds several tensors of that size at once).
 */
export const WASM_TENSOR_BYTES = 256 * 2 ** 20;
/** Bytes one local-attention score tensor `[frames, H, T, T]` may take on the ONNX local path (it is held twice). */
export const LOCAL_SCORE_BYTES = 256 * 2 ** 20;

/**
 * The largest tensor one segment run may produce: the smaller of the two limits. On WebGPU the device's limits
 * (`override` may only lower them); on the wasm EP {@link WASM_TENSOR_BYTES} unless `override` says otherwise.
 */
export function tensorByteLimit(target: ExecutionTarget, override?: Partial<BufferLimits>): number {
  const base =
    target.ep === 'webgpu'
      ? Math.min(target.gpu.limits.maxStorageBufferBindingSize, target.gpu.limits.maxBufferSize)
      : WASM_TENSOR_BYTES;
  const o = Math.min(override?.maxStorageBufferBindingSize ?? Infinity, override?.maxBufferSize ?? Infinity);
  check(!(o <= 0), `limits must be positive byte counts, got ${JSON.stringify(override)}`);
  return target.ep === 'webgpu' ? Math.min(base, o) : Number.isFinite(o) ? o : base;
}

/** Widths (in floats per token) of a block's largest per-token tensors: qkv (3C) and the MLP hidden (M). */
export interface RowWidths {
  C: number;
  H: number;
  M: number;
}

/** How one run of the aggregator is cut (shared by {@link Aggregator.run} and tests / memory estimates). */
export interface ChunkPlan {
  /** Token rows per pre/post segment run: frame and global blocks (N = S·P rows in all). */
  tokenRows: number;
  /** Token rows per pre/post segment run of the DINO blocks (S·T rows, T = 1 + registers + patches). */
  dinoTokenRows: number;
  /** Frames per run of a whole-block ONNX local session (frame blocks / DINO blocks). */
  frames: number;
  dinoFrames: number;
}

/**
 * Chunk sizes for one aggregator run at `S` frames of `P` aggregator tokens and `T` DINO tokens, under
 * `limitBytes` per tensor: token rows so that the largest per-token tensor (max(3C, M) floats) fits; frames so
 * that the ONNX local path's `[f, H, T, T]` scores fit min(limit, {@link LOCAL_SCORE_BYTES}) and its MLP hidden
 * fits the limit. Never below one row / one frame.
 *
 * @example
 * const plan = planChunks(8, 1374, 1374, 2 ** 31, agg, dino); // VGGT-1B at 518²: tokenRows 131072, frames 2
 */
export function planChunks(
  S: number,
  P: number,
  T: number,
  limitBytes: number,
  agg: RowWidths,
  dino: RowWidths,
): ChunkPlan {
  const rows = (w: RowWidths) => Math.max(1, Math.floor(limitBytes / (4 * Math.max(3 * w.C, w.M))));
  const frames = (w: RowWidths, t: number) => {
    const scores = Math.floor(Math.min(limitBytes, LOCAL_SCORE_BYTES) / (4 * w.H * t * t));
    return Math.max(1, Math.min(S, scores, Math.floor(rows(w) / t)));
  };
  return { tokenRows: rows(agg), dinoTokenRows: rows(dino), frames: frames(agg, P), dinoFrames: frames(dino, T) };
}

/** [a, b) row ranges of at most `maxRows` rows each, in multiples of `unit` rows (whole frames), covering `rows`. */
export function rowChunks(rows: number, maxRows: number, unit = 1): Array<[number, number]> {
  check(rows % unit === 0, `rowChunks: ${rows} rows are not whole units of ${unit}`);
  const step = Math.max(1, Math.floor(maxRows / unit)) * unit;
  const out: Array<[number, number]> = [];
  for (let a = 0; a < rows; a += step) out.push([a, Math.min(a + step, rows)]);
  return out;
}

/**
 * Row slicing and assembling of `[rows, width]` tensors (float32, or float16 on WebGPU) on one EP. On WebGPU the
 * tensors are GPU buffers (ORT's outputs, or ours via `Tensor.fromGpuBuffer` on the shared device) and rows move
 * by copyBufferToBuffer; on the wasm EP they are typed arrays.
 */
export class RowTensors {
  /** Bytes per element. */
  private readonly size: number;

  constructor(
    private readonly ort: Ort,
    private readonly target: ExecutionTarget,
    private readonly type: 'float32' | 'float16' = 'float32',
  ) {
    check(type === 'float32' || target.ep === 'webgpu', 'float16 row tensors need the WebGPU EP');
    this.size = type === 'float16' ? 2 : 4;
  }

  /** A zero-filled `[rows, width]` tensor (shaped `dims`) to {@link write} chunks into; the caller disposes it. */
  alloc(rows: number, width: number, dims: number[]): Tensor {
    const n = rows * width;
    if (this.target.ep === 'wasm') return new this.ort.Tensor('float32', new Float32Array(n), dims);
    const { device } = this.target.gpu;
    // Buffer sizes must be multiples of 4 bytes (an odd float16 count rounds up).
    const buf = device.createBuffer({
      size: Math.max(4, Math.ceil((n * this.size) / 4) * 4),
      usage: STORAGE_USAGE,
      label: 'aggregator rows',
    });
    const download =
      this.type === 'float16'
        ? async () => new Uint16Array(await readBuffer(device, buf, n * 2))
        : () => readF32(device, buf, n);
    return this.ort.Tensor.fromGpuBuffer(buf, {
      dataType: this.type,
      dims,
      download: download as never,
      dispose: () => buf.destroy(),
    }) as Tensor;
  }

  /** Rows [a, b) of `t` (`[rows, width]` in any shape) as a new tensor shaped `dims`; the caller disposes it. */
  slice(t: Tensor, a: number, b: number, width: number, dims: number[]): Tensor {
    if (t.location === 'cpu') {
      // A host tensor (e.g. an output ORT left on the CPU): float32 or float16 bit patterns, sliced alike.
      const data = t.data as Float32Array | Uint16Array;
      return new this.ort.Tensor(t.type as 'float32', data.subarray(a * width, b * width) as Float32Array, dims);
    }
    const target = this.target;
    check(target.ep === 'webgpu' && t.location === 'gpu-buffer', `cannot slice a tensor at ${t.location}`);
    const out = this.alloc(b - a, width, dims);
    const enc = target.gpu.device.createCommandEncoder();
    const z = this.size;
    check(
      ((b - a) * width * z) % 4 === 0 && (a * width * z) % 4 === 0,
      'float16 row chunks must cover an even number of values',
    );
    enc.copyBufferToBuffer(t.gpuBuffer as GPUBuffer, a * width * z, out.gpuBuffer as GPUBuffer, 0, (b - a) * width * z);
    target.gpu.device.queue.submit([enc.finish()]);
    return out;
  }

  /** Copy `part` (`[n, width]` in any shape) into rows [a, a + n) of `dst` (made by {@link alloc}). */
  write(dst: Tensor, a: number, part: Tensor, width: number): void {
    const n = part.size / width;
    check(
      Number.isInteger(n) && (a + n) * width <= dst.size,
      `row chunk [${a}, ${a + n}) does not fit ${dst.size / width} rows`,
    );
    if (dst.location === 'cpu') {
      (dst.data as Float32Array).set(part.data as Float32Array, a * width);
      return;
    }
    const target = this.target;
    check(
      target.ep === 'webgpu' && part.location === 'gpu-buffer',
      `cannot write a ${part.location} chunk into a GPU tensor`,
    );
    // ORT has submitted the work that produced `part` when its run resolved: the queue orders this copy after it.
    const enc = target.gpu.device.createCommandEncoder();
    const z = this.size;
    check(
      (n * width * z) % 4 === 0 && (a * width * z) % 4 === 0,
      'float16 row chunks must cover an even number of values',
    );
    enc.copyBufferToBuffer(part.gpuBuffer as GPUBuffer, 0, dst.gpuBuffer as GPUBuffer, a * width * z, n * width * z);
    target.gpu.device.queue.submit([enc.finish()]);
  }
}
