import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../../src/model/trunk/aggregator.js';
import {
  LOCAL_SCORE_BYTES,
  planChunks,
  rowChunks,
  tensorByteLimit,
  WASM_TENSOR_BYTES,
} from '../../../src/model/trunk/chunks.js';
import type { HessDevice } from '../../../src/gpu/device.js';
import { relError } from '../../helpers/random.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';

// vggt-tiny: C = 64, 4 heads, MLP 256; S = 3 frames of P = 40 aggregator tokens (T = 40 DINO tokens), N = 120.
// A 32 KiB "binding" still holds one [N, C] float32 tensor (30 720 bytes) but only 32 rows of the MLP hidden
// [n, 256] and not one frame's MLP hidden: 4 token chunks per pre/post segment, 3 one-frame chunks per ONNX local block.
const TINY = 32 * 1024;

describe('chunk planning', () => {
  it('rowChunks covers the rows exactly, in whole units, each chunk within the maximum', () => {
    for (const [rows, max, unit] of [
      [120, 32, 1],
      [120, 40, 40],
      [120, 79, 40],
      [7, 100, 1],
      [1374 * 5, 5000, 1374],
      [10, 1, 1],
    ]) {
      const ch = rowChunks(rows, max, unit);
      expect(ch[0][0]).toBe(0);
      expect(ch[ch.length - 1][1]).toBe(rows);
      for (let i = 0; i < ch.length; i++) {
        const [a, b] = ch[i];
        if (i > 0) expect(a).toBe(ch[i - 1][1]);
        expect(b - a).toBeGreaterThan(0);
        expect((b - a) % unit).toBe(0);
        expect(b - a).toBeLessThanOrEqual(Math.max(max - (max % unit), unit));
      }
    }
    expect(() => rowChunks(121, 40, 40)).toThrow();
  });

  it('sizes token rows from max(3C, M) floats and frames from the [f, H, T, T] scores (VGGT-1B and vggt-tiny)', () => {
    const vggt = { C: 1024, H: 16, M: 4096 };
    // 2 GiB binding at 518²: 131 072 token rows per pre/post run; 2 frames of 16·1374² scores fit 256 MiB.
    const big = planChunks(8, 1374, 1374, 2 ** 31, vggt, vggt);
    expect(big).toEqual({ tokenRows: 131072, dinoTokenRows: 131072, frames: 2, dinoFrames: 2 });
    expect(Math.floor(LOCAL_SCORE_BYTES / (4 * 16 * 1374 ** 2))).toBe(2);
    // Never below one row or one frame, never above S frames.
    expect(planChunks(3, 40, 40, 100, vggt, vggt)).toEqual({
      tokenRows: 1,
      dinoTokenRows: 1,
      frames: 1,
      dinoFrames: 1,
    });
    const tiny = { C: 64, H: 4, M: 256 };
    expect(planChunks(3, 40, 40, 2 ** 30, tiny, tiny).frames).toBe(3);
    expect(planChunks(3, 40, 40, TINY, tiny, tiny)).toEqual({
      tokenRows: 32,
      dinoTokenRows: 32,
      frames: 1,
      dinoFrames: 1,
    });
  });

  it('the byte limit is the smaller device limit, only lowered by overrides; wasm has its own default', () => {
    const gpu = { limits: { maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 32 } } as unknown as HessDevice;
    expect(tensorByteLimit({ ep: 'webgpu', gpu })).toBe(2 ** 31);
    expect(tensorByteLimit({ ep: 'webgpu', gpu }, { maxBufferSize: 1000 })).toBe(1000);
    expect(tensorByteLimit({ ep: 'webgpu', gpu }, { maxStorageBufferBindingSize: 2 ** 40 })).toBe(2 ** 31);
    expect(tensorByteLimit({ ep: 'wasm' })).toBe(WASM_TENSOR_BYTES);
    expect(tensorByteLimit({ ep: 'wasm' }, { maxStorageBufferBindingSize: TINY })).toBe(TINY);
    expect(() => tensorByteLimit({ ep: 'wasm' }, { maxBufferSize: 0 })).toThrow();
  });
});

describe('chunked aggregator on the wasm EP (vggt-tiny)', () => {
  it('frame chunks (ONNX local blocks) and token chunks (global pre/post) equal the unchunked run to 1e-5', async () => {
    const { model, cfg, S, H, W, ref } = await loadFixture();
    const images = Float32Array.from(await ref('images'));
    const layers = [0, 11, 23];
    const whole = await Aggregator.create(model, cfg, { target: { ep: 'wasm' } });
    const a = await whole.run(images, { S, H, W }, { layers });
    await whole.dispose();
    expect(a.chunks).toEqual({ dino: 1, frame: 1, global: 1 });

    const t0 = performance.now();
    const chunked = await Aggregator.create(model, cfg, {
      target: { ep: 'wasm' },
      limits: { maxStorageBufferBindingSize: TINY },
    });
    const b = await chunked.run(images, { S, H, W }, { layers });
    console.info(
      `[aggregator wasm chunked] ${(performance.now() - t0).toFixed(0)} ms, chunks ${JSON.stringify(b.chunks)}`,
    );
    expect(b.chunks).toEqual({ dino: 3, frame: 3, global: 4 });
    for (const l of layers) {
      const e = relError(b.layers.get(l)!, a.layers.get(l)!);
      const r = relError(b.layers.get(l)!, await ref(`aggregated.${l}`));
      console.info(
        `[aggregator wasm chunked] layer ${l}: vs unchunked ${e.toExponential(2)}, vs reference ${r.toExponential(2)}`,
      );
      expect(e).toBeLessThanOrEqual(1e-5);
      expect(r).toBeLessThanOrEqual(1e-4);
    }

    // One [N, C] attention tensor over the limit: refused before any work, naming the largest S that fits (2),
    // and the same aggregator then runs 2 frames.
    const tight = await Aggregator.create(model, cfg, { target: { ep: 'wasm' }, limits: { maxBufferSize: 30_000 } });
    await expect(tight.run(images, { S, H, W }, { layers: [0] })).rejects.toMatchObject({
      code: 'LIMIT_TOO_SMALL',
      fix: expect.stringContaining('at most 2 frames'),
    });
    const two = await tight.run(images.subarray(0, 2 * 3 * H * W), { S: 2, H, W }, { layers: [0] });
    expect(two.layers.get(0)!.every(Number.isFinite)).toBe(true);
    expect(two.chunks.global).toBe(3); // 80 rows, 29 per chunk at 30 000 bytes
    await Promise.all([chunked.dispose(), tight.dispose()]);
  });

  it("localAttention 'wgsl' on the wasm EP is a typed error", async () => {
    const { model, cfg } = await loadFixture();
    await expect(
      Aggregator.create(model, cfg, { target: { ep: 'wasm' }, localAttention: 'wgsl' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
