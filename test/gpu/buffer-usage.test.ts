// Our named GPUBufferUsage / GPUMapMode tables (src/gpu/buffers.ts, usable before any WebGPU global exists) against
// the real globals once the npm `webgpu` package is loaded.
import { describe, expect, it } from 'vitest';
import { BufferUsage, MapMode } from '../../src/gpu/buffers.js';
import { testDevice } from '../helpers/gpu.js';

describe('buffer usage and map mode names', () => {
  it('equal the WebGPU globals, flag by flag', async () => {
    await testDevice(); // loads the globals
    const g = globalThis as unknown as { GPUBufferUsage: Record<string, number>; GPUMapMode: Record<string, number> };
    for (const [k, v] of Object.entries(BufferUsage)) expect([k, v]).toEqual([k, g.GPUBufferUsage[k]]);
    for (const [k, v] of Object.entries(MapMode)) expect([k, v]).toEqual([k, g.GPUMapMode[k]]);
  });
});
