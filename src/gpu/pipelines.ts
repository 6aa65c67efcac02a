// One compiled pipeline per (device, shader source, entry point, constants): creating them is slow on software
// adapters (SwiftShader ~200 ms), so every host asks this cache. `constants` sets the shader's `override`
// declarations (GPUComputePipelineDescriptor.compute.constants), the way our shaders take numbers
// (src/gpu/specialize.ts says what stays text).
const cache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/**
 * Get (or compile once) a compute pipeline with an auto layout.
 *
 * @example
 * const pipe = getPipeline(device, matmulWgsl, 'main');
 */
export function getPipeline(
  device: GPUDevice,
  code: string,
  entryPoint = 'main',
  constants?: Record<string, number>,
): GPUComputePipeline {
  let perDevice = cache.get(device);
  if (!perDevice) cache.set(device, (perDevice = new Map()));
  const key = `${entryPoint}|${JSON.stringify(constants ?? {})}|${code}`;
  let pipe = perDevice.get(key);
  if (!pipe) {
    const module = device.createShaderModule({ code });
    pipe = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint, constants } });
    perDevice.set(key, pipe);
  }
  return pipe;
}

/** Bind `buffers` to group 0 in binding order. */
export function bindBuffers(device: GPUDevice, pipe: GPUComputePipeline, buffers: GPUBuffer[]): GPUBindGroup {
  return device.createBindGroup({
    layout: pipe.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
}
