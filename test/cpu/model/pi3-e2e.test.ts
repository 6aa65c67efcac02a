import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { detectModelKind, loadModel } from '../../../src/model/load-model.js';
import type { ProgressEvent } from '../../../src/model/model-io.js';
import { Pi3 } from '../../../src/model/pi3/model.js';
import { parseHessFile } from '../../../src/hess/hess-file.js';
import { plantedHess } from '../../../bench/planted-hess.js';
import { relError } from '../../helpers/random.js';
import { havePi3Fixture, loadPi3Fixture, PI3_FIXTURE, PI3_OUTPUTS } from '../../fixtures/pi3-tiny.js';

const uniformTraces = (layers: number, heads: number) =>
  Array.from({ length: layers }, () => Array.from({ length: heads }, () => 1));
/** A planted HeSS file that parseHessFile accepts (planted files say 0 calibration scenes). */
const parseable = (layers: number, heads: number) => ({
  ...plantedHess(uniformTraces(layers, heads)),
  calibration: { description: 'planted', scenes: 1 },
});
const VGGT_FIXTURE = resolve(process.cwd(), '../shared/fixtures/vggt-tiny');

describe.skipIf(!havePi3Fixture)('Pi3.load / run end to end on the wasm EP vs the float64 reference (pi3-tiny)', () => {
  it('loads from the fixture folder (+ config.json) and reproduces points, local points, conf and poses to ≤ 1e-4', async () => {
    const { S, H, W, ref } = await loadPi3Fixture();
    const events: ProgressEvent['stage'][] = [];
    const model = await Pi3.load(PI3_FIXTURE, { device: 'wasm', onProgress: (e) => events.push(e.stage) });
    expect(model.kind).toBe('pi3');
    expect(model.config.assumed).toEqual([]); // config.json beside the weights was read
    expect(events[0]).toBe('open');
    expect(events).toContain('weights');
    expect(events.at(-1)).toBe('ready');

    const runEvents: ProgressEvent['stage'][] = [];
    const images = { data: Float32Array.from(await ref('images')), S, H, W };
    const r = await model.run(images, { onProgress: (e) => runEvents.push(e.stage) });
    expect(runEvents).toEqual(['aggregator', 'heads', 'done']);
    expect([r.S, r.H, r.W]).toEqual([S, H, W]);
    expect(r.sparsity).toBeNull();
    for (const [ours, theirs] of PI3_OUTPUTS) {
      const e = relError(r[ours], await ref(theirs));
      console.info(`[pi3 e2e wasm] ${ours}: relError ${e.toExponential(2)}`);
      expect(r[ours].length).toBe((await ref(theirs)).length);
      expect(e).toBeLessThanOrEqual(1e-4);
    }

    // No reference frame: permuting the input frames permutes every output the same way (VGGT would not: its first
    // frame gets other special tokens and defines the world).
    const perm = [2, 0, 1];
    const frame = 3 * H * W;
    const permuted = new Float32Array(images.data.length);
    perm.forEach((src, dst) => permuted.set(images.data.subarray(src * frame, (src + 1) * frame), dst * frame));
    const rp = await model.run({ ...images, data: permuted });
    for (const [ours] of PI3_OUTPUTS) {
      const per = r[ours].length / S;
      const want = new Float32Array(r[ours].length);
      perm.forEach((src, dst) => want.set(r[ours].subarray(src * per, (src + 1) * per), dst * per));
      expect(relError(rp[ours], want), `permuted ${ours}`).toBeLessThan(1e-5);
    }

    // Vggt's conventions: typed errors for bad input, abort, sparse policies without WebGPU, a wrong HeSS file.
    await expect(model.run({ ...images, H: H + 1 })).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
    const nan = Float32Array.from(images.data);
    nan[7] = Number.NaN;
    await expect(model.run({ ...images, data: nan })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(model.run(images, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(model.run(images, { policy: 'uniform', sparsity: 0.5 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    // A HeSS file for VGGT's 24 layers, or one that says it is VGGT's even with π³'s 18 × 4, is refused.
    await expect(model.run(images, { policy: 'hess', hess: plantedHess(uniformTraces(24, 4)) })).rejects.toMatchObject({
      code: 'BAD_HESS_FILE',
    });
    const saysVggt = parseHessFile({ ...parseable(18, 4), model: 'vggt' });
    await expect(model.run(images, { policy: 'hess', hess: saysVggt })).rejects.toMatchObject({
      code: 'BAD_HESS_FILE',
      message: expect.stringMatching(/VGGT/),
    });
    // A memory budget the run cannot fit is refused before anything is allocated.
    await expect(
      model.run({ data: new Float32Array(64 * 3 * 518 * 518), S: 64, H: 518, W: 518 }),
    ).rejects.toMatchObject({ code: 'OUT_OF_MEMORY' });
    // The estimate says what the pre-flight checked: more frames need more, and 64 frames do not fit the wasm heap.
    const small = model.estimate({ S: 2, H: 518, W: 518 }, model.memoryLimits());
    const big = model.estimate({ S: 64, H: 518, W: 518 }, model.memoryLimits());
    expect(big.wasmBytes).toBeGreaterThan(small.wasmBytes);
    expect(small.fit!.fits).toBe(true);
    expect(big.fit).toMatchObject({ fits: false, code: 'OUT_OF_MEMORY' });
    // The model still works after those refusals.
    const again = await model.run(images);
    expect(relError(again.cameraPoses, r.cameraPoses)).toBeLessThan(1e-6);
    await model.dispose();
    await expect(model.run(images)).rejects.toMatchObject({ code: 'DISPOSED' });
  });

  it('loadModel detects π³ and VGGT from the tensor names; anything else is BAD_CHECKPOINT', async () => {
    const { model: st } = await loadPi3Fixture();
    expect(detectModelKind(st.tensors)).toBe('pi3');
    expect(detectModelKind(st.tensors, { model: 'pi3' })).toBe('pi3');
    expect(() => detectModelKind(st.tensors, { model: 'vggt' })).toThrow(
      expect.objectContaining({ code: 'BAD_CHECKPOINT' }),
    );
    const vggtNames = new Map([['aggregator.camera_token', { shape: [1, 2, 1, 8] }]]);
    expect(detectModelKind(vggtNames)).toBe('vggt');
    expect(() => detectModelKind(new Map([['foo', { shape: [1] }]]))).toThrow(HessError);

    const pi3 = await loadModel(PI3_FIXTURE, { device: 'wasm' });
    expect(pi3.kind).toBe('pi3');
    expect(pi3).toBeInstanceOf(Pi3);
    await pi3.dispose();
    // From bytes too (no config.json: the head counts the shapes cannot show are assumed, and said so).
    const bytes = new Uint8Array(await readFile(resolve(PI3_FIXTURE, 'model.safetensors')));
    const fromBytes = await loadModel(bytes, { device: 'wasm', config: { encoder_heads: 4, head_dec_heads: 4 } });
    expect(fromBytes.kind).toBe('pi3');
    await fromBytes.dispose();
    const vggt = await loadModel(VGGT_FIXTURE, { device: 'wasm' });
    expect(vggt.kind).toBe('vggt');
    // VGGT refuses a π³ HeSS file even when its shape fits (24 × 4 here).
    const { S, H, W, ref } = await loadPi3Fixture();
    const saysPi3 = parseHessFile({ ...parseable(24, 4), model: 'pi3' });
    expect(saysPi3.model).toBe('pi3');
    expect('model' in parseHessFile(parseable(24, 4))).toBe(false); // files from before π³ have none
    expect(() => parseHessFile({ ...parseable(24, 4), model: 'dust3r' })).toThrow(
      expect.objectContaining({ code: 'BAD_HESS_FILE' }),
    );
    await expect(
      vggt.run({ data: Float32Array.from(await ref('images')), S, H, W }, { policy: 'hess', hess: saysPi3 }),
    ).rejects.toMatchObject({ code: 'BAD_HESS_FILE', message: expect.stringMatching(/π³/) });
    await vggt.dispose();
  });
});
