/**
 * The head layers' layout: two `[N, C]` tensors (frame-block output, global-block output) side by side per token,
 * `[N, 2C]`. On the host a loop of subarray copies; on WebGPU one small copy kernel, so the aggregator can hand
 * its layers to the heads without a readback (one copyBufferToBuffer per token would be 2N copies).
 */
import { STORAGE_USAGE } from '../../gpu/buffers.js';
import { getPipeline } from '../../gpu/pipelines.js';
import { createUniform, uniformStruct } from '../../gpu/uniform.js';

/** [N, C] ⊕ [N, C] → [N, 2C] (per token: `a`'s row, then `b`'s row). */
export function interleaveHost(a: Float32Array, b: Float32Array, N: number, C: number): Float32Array {
  const out = new Float32Array(N * 2 * C);
  for (let n = 0; n < N; n++) {
    out.set(a.subarray(n * C, (n + 1) * C), n * 2 * C);
    out.set(b.subarray(n * C, (n + 1) * C), n * 2 * C + C);
  }
  return out;
}

/** The kernel's pipeline constants: invocations per workgroup, and workgroups per grid row (≤ 65535 per dimension). */
const CONSTANTS = { WG: 256, GRID_X: 32768 } as const;

// Copies 32-bit words, so it is bit-exact whatever they hold (f32, or f16 pairs when a row is an even count).
const interleaveWgsl = /* wgsl */ `
struct Dims { rows: u32, words: u32, total: u32, _pad: u32 }
@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<uniform> dims: Dims;

override WG: u32;
override GRID_X: u32;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = (wg.y * GRID_X + wg.x) * WG + li;
  if (i >= dims.total) { return; }
  let w = dims.words;
  let row = i / (2u * w);
  let j = i - row * 2u * w;
  if (j < w) {
    out[i] = a[row * w + j];
  } else {
    out[i] = b[row * w + j - w];
  }
}`;

const DIMS = uniformStruct(interleaveWgsl, 'Dims');

/**
 * Interleave two GPU buffers of `rows` × `words` 32-bit words each into a new `[rows, 2·words]` storage buffer
 * (the caller owns and destroys it). Only the first `rows · words` words of `a` and `b` are bound (ORT's buffers
 * may be larger). The work is submitted to the device queue, so it runs after everything submitted before it.
 *
 * @example
 * const out = interleaveGpu(device, xf.gpuBuffer, xg.gpuBuffer, N, C); // [N, 2C] float32
 */
export function interleaveGpu(
  device: GPUDevice,
  a: GPUBuffer,
  b: GPUBuffer,
  rows: number,
  words: number,
  label = 'interleaved layer',
): GPUBuffer {
  const total = rows * 2 * words;
  const half = rows * words * 4;
  const out = device.createBuffer({ size: Math.max(4, total * 4), usage: STORAGE_USAGE, label });
  if (total === 0) return out;
  const pipe = getPipeline(device, interleaveWgsl, 'main', CONSTANTS);
  const dims = createUniform(device, DIMS, { rows, words, total }, 'interleave dims');
  const group = device.createBindGroup({
    layout: pipe.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: a, offset: 0, size: half } },
      { binding: 1, resource: { buffer: b, offset: 0, size: half } },
      { binding: 2, resource: { buffer: out } },
      { binding: 3, resource: { buffer: dims } },
    ],
  });
  const groups = Math.ceil(total / CONSTANTS.WG);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipe);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(Math.min(groups, CONSTANTS.GRID_X), Math.ceil(groups / CONSTANTS.GRID_X));
  pass.end();
  device.queue.submit([enc.finish()]);
  dims.destroy(); // the submitted work keeps it alive until it has run
  return out;
}
