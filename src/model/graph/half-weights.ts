/**
 * Weights for a float16 model: read straight into float16 bit patterns (F16 tensors without widening, BF16
 * rounded from its bits, F32 and the rest narrowed once on load), and transposed in that form.
 */
import { f32ToF16Bits, toF16 } from '../../attention/f16.js';
import { check, HessError } from '../../errors.js';
import type { ExecutionTarget } from '../../runtime/ort.js';
import type { ElemType } from './ops.js';

/** A source of named float32 tensors (a `Safetensors` works). */
export interface WeightReader {
  read(name: string): Promise<Float32Array>;
}

/** What a Safetensors adds to a {@link WeightReader}: dtypes and raw bytes. */
interface RawTensors {
  readonly tensors: ReadonlyMap<string, { readonly dtype: string; readonly numel: number }>;
  readRaw(name: string): Promise<Uint8Array>;
}

const bf16Bits = new Uint32Array(1);
const bf16Value = new Float32Array(bf16Bits.buffer);

/**
 * Tensor `name` as float16 bit patterns. F16 is copied as is; BF16 is rounded to nearest even per value (its
 * exponent range is wider: values past ±65504 become ±Inf and are refused); other dtypes go through `read`.
 *
 * @example
 * const w = await readHalf(st, 'aggregator.frame_blocks.0.attn.qkv.weight'); // Uint16Array
 */
export async function readHalf(reader: WeightReader, name: string): Promise<Uint16Array> {
  const raw16 = reader as WeightReader & Partial<RawTensors>;
  const info = raw16.tensors?.get?.(name);
  let out: Uint16Array;
  if (info && typeof raw16.readRaw === 'function' && (info.dtype === 'F16' || info.dtype === 'BF16')) {
    const raw = await raw16.readRaw(name);
    // A copy: the raw bytes may be unaligned, and the caller owns the result.
    const src = new Uint16Array(raw.slice().buffer, 0, info.numel);
    if (info.dtype === 'F16') return src;
    out = new Uint16Array(info.numel);
    for (let i = 0; i < out.length; i++) {
      bf16Bits[0] = src[i] << 16;
      out[i] = f32ToF16Bits(bf16Value[0]);
    }
  } else {
    out = toF16(await reader.read(name));
  }
  for (let i = 0; i < out.length; i++) {
    if ((out[i] & 0x7fff) === 0x7c00) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `${name} has values beyond the float16 range (±65504)`,
        "load this checkpoint with dtype 'fp32'",
      );
    }
  }
  return out;
}

/** PyTorch Linear weight `[out, in]` → `[in, out]`, on float16 bit patterns (as transposeLinear does on floats). */
export function transposeHalf(w: Uint16Array, out: number, inDim: number): Uint16Array {
  const t = new Uint16Array(w.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inDim; i++) t[i * out + o] = w[o * inDim + i];
  return t;
}

/** Check that `dtype` can run on `target`: 'fp16' needs the WebGPU EP and the device's shader-f16. */
export function checkComputeType(dtype: unknown, target: ExecutionTarget): ElemType {
  check(
    dtype === undefined || dtype === 'fp32' || dtype === 'fp16',
    `unknown dtype ${JSON.stringify(dtype)}`,
    "use 'fp32' or 'fp16'",
  );
  if (dtype !== 'fp16') return 'float32';
  if (target.ep !== 'webgpu') {
    throw new HessError(
      'INVALID_ARGUMENT',
      "dtype 'fp16' needs the WebGPU EP (the wasm EP runs fp32 only)",
      "use dtype 'fp32' on the wasm EP, or load on a WebGPU device with shader-f16",
    );
  }
  if (!target.gpu.features.shaderF16) {
    throw new HessError(
      'NO_SHADER_F16',
      `dtype 'fp16' needs the shader-f16 feature, which ${target.gpu.name} lacks`,
      "use dtype 'fp32' on this device (or a GPU/browser that exposes shader-f16)",
    );
  }
  return 'float16';
}
