import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { f32ToF16Bits } from '../../../src/attention/f16.js';
import { SafetensorsWriter, convertCheckpoint } from '../../../src/model/convert/convert.js';
import { toFloat32 } from '../../../src/model/source/safetensors-dtype.js';
import { fileSource, openSafetensors } from '../../../src/model/source/safetensors.js';
import { cameraHeadInputsGraph } from '../../../src/model/vggt/camera-head.js';
import { loadHeadFeeds } from '../../../src/model/heads/head-params.js';
import { Vggt } from '../../../src/model/vggt/model.js';
import { loadOrt, createSession } from '../../../src/runtime/ort.js';
import { outputs, sourceDirForTests } from './convert-helpers.js';
import { freshSeed, randn, relError, rng } from '../../helpers/random.js';
import { FIXTURE, loadFixture } from '../../../bench/vggt-tiny.js';

const decodeHalf = (bits: number) => toFloat32(new Uint8Array([bits & 0xff, bits >>> 8]), 'F16', 1)[0];

describe('float32 → float16 rounding', () => {
  it('gives the nearest half (ties to even) for random values over the whole range', () => {
    const rand = rng(freshSeed('f16 rounding'));
    for (let i = 0; i < 20000; i++) {
      // log-uniform magnitudes from deep subnormal (2^-26) to near the max (2^15.9), random sign
      const v = Math.fround((rand() < 0.5 ? -1 : 1) * 2 ** (-26 + rand() * 41.9));
      const h = f32ToF16Bits(v);
      const got = decodeHalf(h);
      const err = Math.abs(got - v);
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7fff) >= 0x7c00 || n < 0 || ((n ^ h) & 0x8000) !== 0) continue;
        expect(err, `v=${v} h=${h.toString(16)} neighbour ${n.toString(16)}`).toBeLessThanOrEqual(
          Math.abs(decodeHalf(n) - v),
        );
      }
    }
  });

  it('is exact on representable values; ties go to even; overflow → ±Inf; NaN stays NaN', () => {
    for (let h = 0; h < 0x7c00; h += 7) expect(f32ToF16Bits(decodeHalf(h))).toBe(h);
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: even mantissa (1) wins; 1 + 3·2^-11 rounds up to 1 + 2^-9.
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16Bits(70000)).toBe(0x7c00);
    expect(f32ToF16Bits(-70000)).toBe(0xfc00);
    expect(Number.isNaN(decodeHalf(f32ToF16Bits(NaN)))).toBe(true);
  });
});

describe('SafetensorsWriter', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hess-st-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('round-trips random F32 and F16 tensors through our reader; data is 8-byte aligned', async () => {
    const rand = rng(freshSeed('st writer'));
    const a = randn(3 * 5, rand);
    const b = randn(7, rand);
    const file = join(dir, 'x.safetensors');
    const w = await SafetensorsWriter.create(
      file,
      [
        { name: 'a', dtype: 'F32', shape: [3, 5] },
        { name: 'b.half', dtype: 'F16', shape: [7] },
        { name: 'empty', dtype: 'F32', shape: [0] },
      ],
      { note: 'test' },
    );
    await w.write('a', a);
    await w.write('b.half', b);
    await w.write('empty', new Float32Array(0));
    await w.close();
    const st = await openSafetensors(await fileSource(file));
    expect(st.metadata.note).toBe('test');
    expect((8 + st.headerLength) % 8).toBe(0);
    expect(st.tensors.get('a')!.shape).toEqual([3, 5]);
    expect(st.tensors.get('b.half')!.dtype).toBe('F16');
    expect(Array.from(await st.read('a'))).toEqual(Array.from(a));
    const bh = await st.read('b.half');
    for (let i = 0; i < 7; i++)
      expect(Math.abs(bh[i] - b[i])).toBeLessThanOrEqual(Math.abs(b[i]) * 2 ** -11 + 2 ** -25);
    await st.close();
  });

  it('rejects out-of-order writes, wrong sizes and unwritten tensors', async () => {
    const w = await SafetensorsWriter.create(join(dir, 'y.safetensors'), [
      { name: 'a', dtype: 'F32', shape: [2] },
      { name: 'b', dtype: 'F32', shape: [2] },
    ]);
    await expect(w.write('b', new Float32Array(2))).rejects.toThrow(/expected tensor a/);
    await expect(w.write('a', new Float32Array(3))).rejects.toThrow(/do not match shape/);
    await w.write('a', new Float32Array(2));
    await expect(w.close()).rejects.toThrow(/only 1 of 2/);
  });
});

describe('convertCheckpoint on the vggt-tiny fixture (wasm EP)', () => {
  const tmp = sourceDirForTests('hess-convert-');

  it('fp32: config.json, weights without the track head, segments; Vggt.load(outdir) matches the reference ≤ 1e-4', async () => {
    const out = join(tmp.dir, 'fp32');
    const stages = new Set<string>();
    const r = await convertCheckpoint(join(tmp.src, 'model.safetensors'), out, {
      cameraHeads: 4,
      onProgress: (e) => stages.add(e.stage),
    });
    expect(r.dropped).toBe(1);
    expect(r.dtype).toBe('F32');
    expect([...stages]).toEqual(['weights', 'segments', 'done']);
    const fixtureCfg = JSON.parse(await readFile(resolve(FIXTURE, 'config.json'), 'utf8'));
    const cfg = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    for (const k of [
      'embed_dim',
      'num_heads',
      'depth',
      'dino_depth',
      'dino_heads',
      'dino_img_size',
      'patch_size',
      'num_register_tokens',
      'camera_heads',
      'camera_trunk_depth',
      'dpt_features',
      'dpt_out_channels',
      'patch_start_idx',
    ]) {
      expect(cfg[k], k).toEqual(fixtureCfg[k]);
    }
    expect(cfg.weights_dtype).toBe('float32');
    const st = await openSafetensors(await fileSource(join(out, 'model.safetensors')));
    expect([...st.tensors.keys()].some((k) => k.startsWith('track_head.'))).toBe(false);
    expect(st.tensors.size).toBe(1095);
    await st.close();

    const fx = await loadFixture();
    const model = await Vggt.load(out, { device: 'wasm' });
    try {
      const res = await model.run({ data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W });
      for (const [name, got] of Object.entries(outputs(res)))
        expect(relError(got, await fx.ref(name)), name).toBeLessThan(1e-4);
    } finally {
      await model.dispose();
    }
  });

  it('segments: every .onnx opens in onnxruntime; the exported camera head reproduces pose_enc', async () => {
    const seg = join(tmp.dir, 'fp32', 'segments');
    const files = (await readdir(seg)).sort();
    expect(files).toEqual([
      'attention_dense.onnx',
      'camera_head.onnx',
      'depth_head_70x98.onnx',
      'dino_block.onnx',
      'dino_bridge.onnx',
      'frame_block.onnx',
      'global_post.onnx',
      'global_pre.onnx',
      'manifest.json',
      'patch_embed.onnx',
      'point_head_70x98.onnx',
    ]);
    const manifest = JSON.parse(await readFile(join(seg, 'manifest.json'), 'utf8'));
    expect(manifest.model).toBe('vggt');
    const ort = await loadOrt();
    const converted = await openSafetensors(await fileSource(join(tmp.dir, 'fp32', 'model.safetensors')));
    for (const m of manifest.segments) {
      // Every weight the manifest names is a tensor of the converted model ({i} over the graph's `count` blocks).
      for (const pattern of Object.values<string>(m.weights ?? {})) {
        const name = pattern.replace(/ \(transposed to \[in, out\]\)$/, '');
        if (name.includes('{i}')) expect(m.count, m.file).toBeGreaterThan(0);
        for (let i = 0; i < (name.includes('{i}') ? m.count : 1); i++)
          expect(converted.tensors.has(name.replace('{i}', `${i}`)), `${m.file}: ${name} (${i})`).toBe(true);
      }
      const s = await createSession(ort, new Uint8Array(await readFile(join(seg, m.file))), { ep: 'wasm' });
      // Every weight input named in the manifest is a graph input.
      for (const input of Object.keys(m.weights ?? {})) expect(s.inputNames, `${m.file} ${input}`).toContain(input);
      if (/_head/.test(m.file)) {
        // Heads take their weights as inputs: the file is a small fraction of the weights it names.
        const prefix = m.file.replace(/(_\d+x\d+)?\.onnx$/, '');
        const fx = await loadFixture();
        const weightBytes = [...fx.model.tensors.values()]
          .filter((t) => t.name.startsWith(`${prefix}.`))
          .reduce((a, t) => a + t.byteLength, 0);
        expect(Object.keys(m.weights).length, m.file).toBeGreaterThan(0);
        expect((await stat(join(seg, m.file))).size, m.file).toBeLessThan(weightBytes / 4);
      }
      if (m.file === 'camera_head.onnx') {
        const fx = await loadFixture();
        const last = fx.layers.get(23)!;
        const C = 128;
        const tokens = new Float32Array(fx.S * C);
        for (let i = 0; i < fx.S; i++) tokens.set(last.subarray(i * fx.P * C, i * fx.P * C + C), i * C);
        const { params } = cameraHeadInputsGraph(fx.model.tensors, fx.cfg.camera!, 4, 'camera_head');
        expect(Object.keys(m.weights).sort()).toEqual(params.map((p) => p.input).sort());
        const { feeds } = await loadHeadFeeds(fx.model, 'camera_head', params, ort, { ep: 'wasm' });
        const o = await s.run({ ...feeds, tokens: new ort.Tensor('float32', tokens, [fx.S, C]) });
        expect(relError(o.pose_enc!.data as Float32Array, await fx.ref('pose_enc'))).toBeLessThan(1e-4);
      }
      await s.release();
    }
    await converted.close();
  });

  it('bad inputs are typed errors', async () => {
    const missing = await convertCheckpoint(join(tmp.dir, 'nope.safetensors'), join(tmp.dir, 'x')).catch((e) => e);
    expect(missing).toBeInstanceOf(HessError);
    expect(missing.code).toBe('IO_ERROR');
    const junk = join(tmp.dir, 'junk.safetensors');
    await writeFile(junk, new Uint8Array(64));
    const bad = await convertCheckpoint(junk, join(tmp.dir, 'y')).catch((e) => e);
    expect(bad).toBeInstanceOf(HessError);
    expect(bad.code).toBe('BAD_CHECKPOINT');
  });
});
