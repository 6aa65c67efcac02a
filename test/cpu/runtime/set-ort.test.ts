// setOrt: a module given by the app (custom ORT build, CDN copy) is what loadOrt — and so Vggt.load — uses.
import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { loadOrt, setOrt, type Ort } from '../../../src/runtime/ort.js';

describe('setOrt', () => {
  it('rejects something that is not an onnxruntime-web module, with a typed error', () => {
    for (const bad of [null, {}, { env: {} }, { InferenceSession: class {} }]) {
      let err: unknown;
      try {
        setOrt(bad as unknown as Ort);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HessError);
      expect((err as HessError).code).toBe('INVALID_ARGUMENT');
      expect((err as HessError).fix).toMatch(/setOrt\(/);
    }
  });

  it('loadOrt returns the injected module (not an import of onnxruntime-web) and applies its options to it', async () => {
    const real = await loadOrt();
    const custom = {
      InferenceSession: class {},
      Tensor: class {},
      env: { wasm: {} as Record<string, unknown> },
    } as unknown as Ort;
    setOrt(custom);
    const got = await loadOrt({ wasmPaths: '/ort/', numThreads: 3, logLevel: 'warning' });
    expect(got).toBe(custom);
    expect(got).not.toBe(real);
    expect(custom.env.wasm.wasmPaths).toBe('/ort/');
    expect(custom.env.wasm.numThreads).toBe(3);
    expect(custom.env.logLevel).toBe('warning');
    setOrt(real); // a later call replaces it
    expect(await loadOrt()).toBe(real);
  });
});
