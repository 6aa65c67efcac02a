import { HessError } from '../errors.js';

// GPUBufferUsage / GPUMapMode values from the WebGPU spec, by name: the globals do not exist in Node until the npm
// `webgpu` package is loaded, and this module must load everywhere (a GPU test checks them against the globals).
export const BufferUsage = {
  MAP_READ: 0x1,
  MAP_WRITE: 0x2,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  INDEX: 0x10,
  VERTEX: 0x20,
  UNIFORM: 0x40,
  STORAGE: 0x80,
  INDIRECT: 0x100,
  QUERY_RESOLVE: 0x200,
} as const;
export const MapMode = { READ: 0x1, WRITE: 0x2 } as const;

/** Usage for buffers our kernels and onnxruntime-web both read and write. */
export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

/** Round up to a multiple of 4 bytes (WebGPU buffer sizes and copies must be). */
export const align4 = (n: number) => Math.ceil(n / 4) * 4;

/**
 * Create a storage buffer (STORAGE | COPY_SRC | COPY_DST), optionally filled with `data`.
 *
 * @example
 * const a = createStorageBuffer(device, new Float32Array([1, 2, 3]));
 * const out = createStorageBuffer(device, 1024); // 1024 bytes, zeroed
 */
export function createStorageBuffer(device: GPUDevice, data: ArrayBufferView | number, label?: string): GPUBuffer {
  const size = align4(typeof data === 'number' ? data : data.byteLength);
  const buf = device.createBuffer({ size: Math.max(size, 4), usage: STORAGE_USAGE, label });
  if (typeof data !== 'number') writeBuffer(device, buf, data);
  return buf;
}

/** queue.writeBuffer with the size padded to 4 bytes. */
export function writeBuffer(device: GPUDevice, buf: GPUBuffer, data: ArrayBufferView, offset = 0): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength % 4 === 0) {
    device.queue.writeBuffer(buf, offset, bytes as Uint8Array<ArrayBuffer>);
  } else {
    const padded = new Uint8Array(align4(bytes.byteLength));
    padded.set(bytes);
    device.queue.writeBuffer(buf, offset, padded);
  }
}

/**
 * A uniform buffer holding `words` (u32/f32 bit patterns), padded to 16 bytes. Our kernels pack their uniforms by
 * field name instead (`createUniform` in ./uniform.ts).
 */
export function createUniformBuffer(
  device: GPUDevice,
  words: ArrayLike<number> | Uint32Array,
  label?: string,
): GPUBuffer {
  const n = Math.max(4, Math.ceil(words.length / 4) * 4);
  const data = new Uint32Array(n);
  data.set(words as ArrayLike<number>);
  const buf = device.createBuffer({ size: data.byteLength, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST, label });
  device.queue.writeBuffer(buf, 0, data);
  return buf;
}

/** f32 bit pattern as u32 (to put floats into a u32 uniform array). */
export function f32bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}

/**
 * Copy `bytes` of `src` (from `offset`) back to the CPU. Surfaces GPU validation errors raised by the work
 * submitted before it as GPU_ERROR.
 */
export async function readBuffer(
  device: GPUDevice,
  src: GPUBuffer,
  bytes = src.size,
  offset = 0,
): Promise<ArrayBuffer> {
  const size = align4(bytes);
  const staging = device.createBuffer({ size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, offset, staging, 0, size);
  device.queue.submit([enc.finish()]);
  try {
    await staging.mapAsync(MapMode.READ);
  } catch (e) {
    staging.destroy();
    throw new HessError('GPU_ERROR', `readback failed: ${String(e)}`, 'check the device was not lost', { cause: e });
  }
  const out = staging.getMappedRange().slice(0, bytes);
  staging.unmap();
  staging.destroy();
  return out;
}

/** Read back a float32 buffer. */
export async function readF32(device: GPUDevice, src: GPUBuffer, count?: number): Promise<Float32Array> {
  const n = count ?? src.size / 4;
  return new Float32Array(await readBuffer(device, src, n * 4));
}

/**
 * Fill a buffer with a NaN bit pattern, so that any element a kernel forgets to write is caught by the test
 * that reads it back.
 */
export function poisonBuffer(device: GPUDevice, buf: GPUBuffer): void {
  const words = new Uint32Array(buf.size / 4).fill(0x7fc00bad);
  device.queue.writeBuffer(buf, 0, words);
}
