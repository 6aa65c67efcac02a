import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../../src/model/convert/convert.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import { relError } from '../../helpers/random.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';
import { outputs, sourceDirForTests } from './convert-helpers.js';

describe('convertCheckpoint --fp16 on the vggt-tiny fixture (wasm EP)', () => {
  const tmp = sourceDirForTests('hess-convert16-');

  it('fp16: half the bytes; loads and stays within the measured fp16-weight tolerance', async () => {
    const out = join(tmp.dir, 'fp16');
    const r32 = (await stat(join(tmp.src, 'model.safetensors'))).size;
    const r = await convertCheckpoint(join(tmp.src, 'model.safetensors'), out, {
      fp16: true,
      cameraHeads: 4,
      skipSegments: true,
    });
    expect(r.dtype).toBe('F16');
    expect(r.bytes).toBeLessThan(r32 * 0.52);
    const cfg = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(cfg.weights_dtype).toBe('float16');
    expect(cfg.compute_dtype).toBeUndefined(); // chosen when loading (dtype), not by the file
    const fx = await loadFixture();
    const model = await Vggt.load(out, { device: 'wasm' });
    try {
      const res = await model.run({ data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W });
      const errs = Object.fromEntries(
        await Promise.all(
          Object.entries(outputs(res)).map(async ([k, v]) => [k, relError(v, await fx.ref(k))] as const),
        ),
      );
      console.info('[convert fp16] rel errors vs the fp64 reference', errs);
      // Weights rounded to 11 significant bits (2^-11 ≈ 4.9e-4 relative) through 48 blocks. Measured on this
      // fixture: pose_enc 7.6e-4, world_points 5.5e-4, depth 1.1e-5, confidences ≤ 7.4e-6; bound with ~2.5× margin.
      for (const [k, e] of Object.entries(errs)) expect(e, k).toBeLessThan(2e-3);
      // …and not bit-equal to fp32 (the weights really were rounded).
      expect(Math.max(...Object.values(errs))).toBeGreaterThan(1e-6);
    } finally {
      await model.dispose();
    }
  });
});
