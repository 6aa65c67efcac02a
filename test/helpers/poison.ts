/**
 * NaN-poison every storage buffer created on `device` while `fn` runs, right at creation: the queue runs that
 * write before any later submit, so an element that a kernel or onnxruntime-web's WebGPU EP forgets to write stays
 * NaN and fails the comparison that reads it (relError of NaN is NaN). Model-level runs allocate their outputs
 * inside ORT and our cores, where a test cannot reach them before the run; this reaches all of them.
 */
import { poisonBuffer } from '../../src/gpu/buffers.js';

const STORAGE = 0x80;
const COPY_DST = 0x08;

export async function withPoisonedBuffers<T>(
  device: GPUDevice,
  fn: () => Promise<T>,
): Promise<{ result: T; poisoned: number }> {
  const original = device.createBuffer;
  let poisoned = 0;
  device.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor): GPUBuffer {
    const buf = original.call(this, desc);
    if (!desc.mappedAtCreation && desc.usage & STORAGE && desc.usage & COPY_DST && desc.size % 4 === 0) {
      poisonBuffer(this, buf);
      poisoned++;
    }
    return buf;
  };
  try {
    return { result: await fn(), poisoned };
  } finally {
    device.createBuffer = original;
  }
}
