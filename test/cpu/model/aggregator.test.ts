import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors';
import { inferVggtConfig } from '../../../src/model/config';
import { bytesSource, openSafetensors, type Safetensors } from '../../../src/model/safetensors';
import { Aggregator } from '../../../src/model/vggt/aggregator';
import { relError } from '../../helpers/random';

const FIXTURE = resolve(process.cwd(), '../shared/fixtures/vggt-tiny');
const LAYERS = [0, 4, 11, 17, 23];

async function f64(st: Safetensors, name: string): Promise<Float64Array> {
  const raw = await st.readRaw(name);
  return new Float64Array(raw.slice().buffer); // copy: the view may be unaligned
}

describe('VGGT aggregator on onnxruntime-web (wasm EP) vs the float64 reference (vggt-tiny)', () => {
  it('reproduces aggregated.{0,4,11,17,23} to ≤ 1e-4 relative error', async () => {
    const model = await openSafetensors(bytesSource(new Uint8Array(await readFile(`${FIXTURE}/model.safetensors`))));
    const io = await openSafetensors(bytesSource(new Uint8Array(await readFile(`${FIXTURE}/io.safetensors`))));
    const cfg = inferVggtConfig(model.tensors, JSON.parse(await readFile(`${FIXTURE}/config.json`, 'utf8')));
    const [S, , H, W] = io.tensors.get('images')!.shape;
    const images = Float32Array.from(await f64(io, 'images'));

    const t0 = performance.now();
    const agg = await Aggregator.create(model, cfg, { target: { ep: 'wasm' } });
    const t1 = performance.now();
    const out = await agg.run(images, { S, H, W }, { layers: LAYERS });
    const t2 = performance.now();
    console.info(`[aggregator wasm] create ${(t1 - t0).toFixed(0)} ms, run ${(t2 - t1).toFixed(0)} ms`);

    expect(out.patchStart).toBe(5);
    expect([...out.layers.keys()].sort((a, b) => a - b)).toEqual(LAYERS);
    for (const l of LAYERS) {
      const ref = await f64(io, `aggregated.${l}`);
      const got = out.layers.get(l)!;
      expect(got.length).toBe(ref.length);
      const e = relError(got, ref);
      console.info(`[aggregator wasm] layer ${l}: relError ${e.toExponential(2)}`);
      expect(e).toBeLessThanOrEqual(1e-4);
    }

    // Bad input is a typed error, not a crash; an aborted signal stops the run.
    await expect(agg.run(images, { S, H: H + 1, W })).rejects.toBeInstanceOf(HessError);
    await expect(agg.run(images.subarray(1), { S, H, W })).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    await expect(agg.run(images, { S, H, W }, { layers: [cfg.depth] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(agg.run(images, { S, H, W }, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
    await agg.dispose();
    await expect(agg.run(images, { S, H, W })).rejects.toMatchObject({ code: 'DISPOSED' });
  }, 120_000);
});
