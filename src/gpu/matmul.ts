import matmulWgsl from '../../shaders/matmul.wgsl';
import { check } from '../errors.js';
import { createUniform, uniformStruct } from './uniform.js';
import { bindBuffers, getPipeline } from './pipelines.js';

/** Side of the square output tile one workgroup computes (matmul.wgsl's `override T`). */
export const MATMUL_TILE = 16;
const PARAMS = uniformStruct(matmulWgsl, 'Params');

/**
 * Encode C[M,N] = A[M,K]·B[K,N] (row-major fp32 storage buffers) into `encoder`. Nothing is read back.
 *
 * @example
 * const enc = device.createCommandEncoder();
 * encodeMatmul(device, enc, a, b, c, 64, 32, 48);
 * device.queue.submit([enc.finish()]);
 */
export function encodeMatmul(
  device: GPUDevice,
  encoder: GPUCommandEncoder,
  a: GPUBuffer,
  b: GPUBuffer,
  c: GPUBuffer,
  M: number,
  N: number,
  K: number,
): void {
  for (const [name, v] of [
    ['M', M],
    ['N', N],
    ['K', K],
  ] as const) {
    check(Number.isInteger(v) && v > 0, `matmul: ${name} must be a positive integer, got ${v}`);
  }
  check(
    a.size >= M * K * 4 && b.size >= K * N * 4 && c.size >= M * N * 4,
    'matmul: a buffer is smaller than its shape',
  );
  const pipe = getPipeline(device, matmulWgsl, 'main', { T: MATMUL_TILE });
  const params = createUniform(device, PARAMS, { M, N, K }, 'matmul params');
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipe);
  pass.setBindGroup(0, bindBuffers(device, pipe, [a, b, c, params]));
  pass.dispatchWorkgroups(Math.ceil(N / MATMUL_TILE), Math.ceil(M / MATMUL_TILE));
  pass.end();
}
