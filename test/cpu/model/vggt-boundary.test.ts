import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vggt } from '../../../src/model/vggt/model.js';
import { fileSource, openSafetensors } from '../../../src/model/source/safetensors.js';
import { expectCode } from '../../helpers/errors.js';
import { plantedHess } from '../../../bench/planted-hess.js';
import { freshSeed, rng } from '../../helpers/random.js';
import { FIXTURE } from '../../../bench/vggt-tiny.js';
import { buildSafetensors, type Entry } from './st-helpers.js';

// The model's boundary on the wasm EP: the memory pre-flight (before anything runs), and the types and values it
// accepts (weights, images, HeSS files, options).
const have = existsSync(`${FIXTURE}/model.safetensors`);
const config = have ? JSON.parse(readFileSync(`${FIXTURE}/config.json`, 'utf8')) : {};

/** The fixture's tensors as safetensors entries, with `edit` applied to the one named `name`. */
async function fixtureWith(name: string, edit: (e: Entry) => Entry): Promise<Uint8Array> {
  const st = await openSafetensors(await fileSource(`${FIXTURE}/model.safetensors`));
  const entries: Entry[] = [];
  for (const t of st.tensors.values()) {
    const e: Entry = {
      name: t.name,
      dtype: t.dtype,
      shape: [...t.shape],
      bytes: new Uint8Array(await st.readRaw(t.name)),
    };
    entries.push(t.name === name ? edit(e) : e);
  }
  await st.close();
  return buildSafetensors(entries);
}

describe.skipIf(!have)('Vggt boundary (wasm EP, tiny fixture)', () => {
  let model: Vggt;
  const S = 2,
    H = 70,
    W = 98;
  let images: Float32Array;
  beforeAll(async () => {
    model = await Vggt.load(FIXTURE, { device: 'wasm' });
    const r = rng(freshSeed('vggt-boundary images'));
    images = Float32Array.from({ length: S * 3 * H * W }, () => r());
  });
  afterAll(async () => model?.dispose());

  it('refuses before starting a run that cannot fit the 4 GiB wasm heap, naming the largest S, and stays usable', async () => {
    // 13 frames at 518×350: the dense global scores [4, N, N] ×2 alone are 4.7 GB (N = 12090)
    const big = { data: new Float32Array(13 * 3 * 518 * 350).fill(0.5), S: 13, H: 518, W: 350 };
    const est = model.estimate({ S: 13, H: 518, W: 350 }, model.memoryLimits());
    expect(est.wasmBytes).toBeGreaterThan(4 * 2 ** 30);
    expect(est.fit).toMatchObject({ fits: false, code: 'OUT_OF_MEMORY' });
    const largest = est.fit!.largestS;
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThan(13);
    const stages: string[] = [];
    const err = await model.run(big, { onProgress: (e) => stages.push(e.stage) }).catch((e) => e);
    expect(err.code).toBe('OUT_OF_MEMORY');
    expect(err.message).toContain(`at most ${largest} frames`);
    expect(err.fix).toMatch(/use WebGPU or fewer frames/);
    expect(stages).not.toContain('aggregator'); // nothing ran
    // the largest S it names does fit the estimate, one more does not
    expect(model.estimate({ S: largest, H: 518, W: 350 }, model.memoryLimits()).fit!.fits).toBe(true);
    const r = await model.run({ data: images, S, H, W });
    expect(r.depth!.every(Number.isFinite)).toBe(true);
  });

  it('a Float64Array input is converted (same outputs as float32); other arrays are INVALID_ARGUMENT', async () => {
    const a = await model.run({ data: images, S, H, W });
    const b = await model.run({ data: Float64Array.from(images) as unknown as Float32Array, S, H, W });
    expect(b.depth).toEqual(a.depth);
    expect(b.poseEnc).toEqual(a.poseEnc);
    await expectCode(
      model.run({ data: Int32Array.from(images) as unknown as Float32Array, S, H, W }),
      'INVALID_ARGUMENT',
      /Float32Array/,
    );
    await expectCode(model.run(null as never), 'INVALID_ARGUMENT');
  });

  it('NaN or Inf in an input image is INVALID_ARGUMENT naming the frame', async () => {
    for (const [bad, what] of [
      [NaN, 'NaN'],
      [Infinity, 'infinite'],
      [-Infinity, 'infinite'],
    ] as const) {
      const data = images.slice();
      data[3 * H * W + 17] = bad; // frame 1
      await expectCode(model.run({ data, S, H, W }), 'INVALID_ARGUMENT', new RegExp(`frame 1 has a ${what} value`));
    }
  });

  it('a HeSS file for another layer or head count is BAD_HESS_FILE before the run', async () => {
    const r = rng(freshSeed('vggt-boundary hess'));
    const make = (layers: number, heads: number) =>
      plantedHess(Array.from({ length: layers }, () => Array.from({ length: heads }, () => 0.1 + r())));
    const { depth, numHeads } = model.config;
    for (const [l, h] of [
      [depth + 1, numHeads],
      [depth - 1, numHeads],
      [depth, numHeads + 1],
      [depth, numHeads - 1],
    ]) {
      await expectCode(
        model.run({ data: images, S, H, W }, { policy: 'hess', sparsity: 0.5, hess: make(l!, h!) }),
        'BAD_HESS_FILE',
        /HeSS file is for/,
      );
    }
  });

  it("device must be 'webgpu', 'wasm' or a device object", async () => {
    await expectCode(Vggt.load(FIXTURE, { device: 'gpu' as never }), 'INVALID_ARGUMENT', /device must be/);
    await expectCode(Vggt.load(FIXTURE, { device: null as never }), 'INVALID_ARGUMENT', /device must be/);
  });

  it('integer-typed weights are BAD_CHECKPOINT naming the tensor', async () => {
    const name = 'aggregator.frame_blocks.3.attn.proj.weight';
    const bytes = await fixtureWith(name, (e) => ({ ...e, dtype: 'I32' })); // same byte length as F32
    await expectCode(
      Vggt.load(bytes, { device: 'wasm', config }),
      'BAD_CHECKPOINT',
      new RegExp(`${name.replace(/\./g, '\\.')} is I32`),
    );
  });

  it('NaN or Inf in a weight is BAD_CHECKPOINT naming the tensor, at load', async () => {
    for (const [name, bad] of [
      ['aggregator.global_blocks.7.mlp.fc1.weight', NaN],
      ['depth_head.scratch.output_conv1.weight', Infinity],
    ] as const) {
      const bytes = await fixtureWith(name, (e) => {
        const f = new Float32Array(e.bytes!.slice().buffer);
        f[5] = bad;
        return { ...e, bytes: new Uint8Array(f.buffer) };
      });
      await expectCode(
        Vggt.load(bytes, { device: 'wasm', config }),
        'BAD_CHECKPOINT',
        new RegExp(`${name.replace(/\./g, '\\.')} holds`),
      );
    }
  });
});
