import { describe, expect, it } from 'vitest';
import { HessError } from '../../src/errors.js';
import { createDevice, probe } from '../../src/gpu/device.js';
import { testDevice } from '../helpers/gpu.js';

describe('device', () => {
  it('probe() reports WebGPU, features and Wasm SIMD without creating a device', async () => {
    const caps = await probe();
    expect(caps.webgpu).toBe(true);
    expect(caps.adapter?.vendor).toBeTruthy();
    expect(caps.wasmSimd).toBe(true);
    // Node 20 validates relaxed SIMD only behind a flag; the probe must say so rather than guess.
    expect(typeof caps.wasmRelaxedSimd).toBe('boolean');
  });

  it('createDevice() asks for what the adapter has and reports it', async () => {
    const d = await testDevice();
    const caps = await probe();
    expect(d.features.shaderF16).toBe(caps.shaderF16);
    expect(d.features.subgroups).toBe(caps.subgroups);
    expect(d.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(d.name.length).toBeGreaterThan(0);
  });

  it('adopts a caller-provided device', async () => {
    const d = await testDevice();
    const again = await createDevice({ device: d.device });
    expect(again.device).toBe(d.device);
    expect(again.features).toEqual(d.features);
  });

  it('a limit the adapter cannot give is LIMIT_TOO_SMALL with a fix', async () => {
    const err = await createDevice({ requiredLimits: { maxBufferSize: 2 ** 52 } }).catch((e) => e);
    expect(err).toBeInstanceOf(HessError);
    expect(err.code).toBe('LIMIT_TOO_SMALL');
    expect(err.fix).toMatch(/fewer frames|larger limits/);
  });

  it('requireF16 fails with NO_SHADER_F16 exactly when the adapter lacks shader-f16', async () => {
    const caps = await probe();
    const r = await createDevice({ requireF16: true }).then(
      (d) => d,
      (e) => e,
    );
    if (caps.shaderF16) expect(r.features.shaderF16).toBe(true);
    else expect(r.code).toBe('NO_SHADER_F16');
  });

  it('a gpu object with no adapter gives NO_ADAPTER', async () => {
    const fake = { requestAdapter: async () => null } as unknown as GPU;
    const err = await createDevice({ gpu: fake }).catch((e) => e);
    expect(err.code).toBe('NO_ADAPTER');
    expect((await probe({ gpu: fake })).webgpu).toBe(false);
  });
});
