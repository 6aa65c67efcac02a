import { describe, expect, it } from 'vitest';
import { inferPi3Config } from '../../../src/model/pi3/config.js';
import { createPi3Trunk } from '../../../src/model/pi3/trunk.js';
import { relError } from '../../helpers/random.js';
import { havePi3Fixture, loadPi3Fixture, PI3_DECODER_REFS, pi3DecoderOutputs } from '../../fixtures/pi3-tiny.js';

/** yyfz233/Pi3's tensor shapes (ViT-L/14 encoder with 4 registers, 36 decoder blocks of 1024, 16 heads of 64). */
function fullSizeShapes(): Map<string, { shape: number[] }> {
  const t = new Map<string, { shape: number[] }>();
  const block = (p: string, C: number, M: number, d: number | null) => {
    for (const n of [
      'norm1.weight',
      'norm1.bias',
      'norm2.weight',
      'norm2.bias',
      'attn.proj.bias',
      'mlp.fc2.bias',
      'ls1.gamma',
      'ls2.gamma',
    ])
      t.set(`${p}.${n}`, { shape: [C] });
    t.set(`${p}.attn.qkv.weight`, { shape: [3 * C, C] });
    t.set(`${p}.attn.qkv.bias`, { shape: [3 * C] });
    t.set(`${p}.attn.proj.weight`, { shape: [C, C] });
    t.set(`${p}.mlp.fc1.weight`, { shape: [M, C] });
    t.set(`${p}.mlp.fc1.bias`, { shape: [M] });
    t.set(`${p}.mlp.fc2.weight`, { shape: [C, M] });
    if (d)
      for (const n of ['q_norm', 'k_norm'])
        for (const w of ['weight', 'bias']) t.set(`${p}.attn.${n}.${w}`, { shape: [d] });
  };
  t.set('encoder.patch_embed.proj.weight', { shape: [1024, 3, 14, 14] });
  t.set('encoder.patch_embed.proj.bias', { shape: [1024] });
  t.set('encoder.cls_token', { shape: [1, 1, 1024] });
  t.set('encoder.pos_embed', { shape: [1, 1370, 1024] });
  t.set('encoder.register_tokens', { shape: [1, 4, 1024] });
  t.set('encoder.norm.weight', { shape: [1024] });
  t.set('encoder.norm.bias', { shape: [1024] });
  for (let i = 0; i < 24; i++) block(`encoder.blocks.${i}`, 1024, 4096, null);
  for (let i = 0; i < 36; i++) block(`decoder.${i}`, 1024, 4096, 64);
  t.set('register_token', { shape: [1, 1, 5, 1024] });
  return t;
}

describe('π³ config of the full-size checkpoint (yyfz233/Pi3 shapes, no weights needed)', () => {
  it('reads 18 global layers of 16 heads, a ViT-L encoder and 5 registers from the shapes alone', () => {
    const cfg = inferPi3Config(fullSizeShapes());
    expect(cfg).toMatchObject({
      embedDim: 1024,
      numHeads: 16,
      headDim: 64,
      decoderDepth: 36,
      depth: 18,
      mlpHiddenDim: 4096,
      patchStartIdx: 5,
      dino: {
        dim: 1024,
        depth: 24,
        heads: 16,
        headDim: 64,
        mlpHiddenDim: 4096,
        posGrid: 37,
        imgSize: 518,
        numRegisters: 4,
      },
    });
    expect(cfg.assumed).toEqual(['encoder.heads', 'heads.heads']);
    expect(inferPi3Config(fullSizeShapes(), { encoder_heads: 16, head_dec_heads: 16 }).assumed).toEqual([]);
    // A shape that disagrees with the rest is named.
    const bad = fullSizeShapes();
    bad.set('decoder.7.mlp.fc1.weight', { shape: [2048, 1024] });
    expect(() => inferPi3Config(bad)).toThrow(/decoder\.7\.mlp\.fc1\.weight/);
  });
});

describe.skipIf(!havePi3Fixture)(
  'π³ encoder + decoder on the shared trunk (wasm EP) vs the float64 reference (pi3-tiny)',
  () => {
    it('reads the architecture from the shapes: 2 encoder blocks, 36 decoder blocks = 18 pairs, 5 registers', async () => {
      const { model, cfg, json } = await loadPi3Fixture();
      expect(cfg).toMatchObject({
        model: 'pi3',
        embedDim: json.dec_dim,
        numHeads: json.dec_heads,
        headDim: 16,
        decoderDepth: 36,
        depth: 18,
        patchSize: 14,
        numRegisterTokens: 5,
        patchStartIdx: 5,
        ropeBase: 100,
        headHeads: 4,
        dino: { dim: 64, depth: 2, heads: 4, numRegisters: 4, posGrid: 37 },
      });
      expect(cfg.assumed).toEqual([]);
      // Without config.json the head counts the shapes cannot show are assumed (the decoder's), and said so.
      expect(inferPi3Config(model.tensors).assumed).toEqual(['encoder.heads', 'heads.heads']);
      // A config that contradicts the weights, an odd decoder and a missing tensor are BAD_CHECKPOINT.
      expect(() => inferPi3Config(model.tensors, { dec_depth: 24 })).toThrow(
        expect.objectContaining({ code: 'BAD_CHECKPOINT' }),
      );
      const odd = new Map([...model.tensors].filter(([k]) => !k.startsWith('decoder.35.')));
      expect(() => inferPi3Config(odd)).toThrow(/alternate in pairs/);
      const noReg = new Map([...model.tensors].filter(([k]) => k !== 'register_token'));
      expect(() => inferPi3Config(noReg)).toThrow(expect.objectContaining({ code: 'BAD_CHECKPOINT' }));
    });

    it('in token and frame chunks (a 32 KiB buffer limit): the same chunking as VGGT, the same outputs', async () => {
      // pi3-tiny has VGGT-tiny's widths (C 64, MLP 256) and 40 tokens per frame: 4 token chunks, 1-frame local chunks.
      const { model, cfg, S, H, W, ref } = await loadPi3Fixture();
      const trunk = await createPi3Trunk(model, cfg, {
        target: { ep: 'wasm' },
        limits: { maxStorageBufferBindingSize: 32 * 1024 },
      });
      const images = Float32Array.from(await ref('images'));
      const out = await trunk.run(images, { S, H, W }, { layers: [0] });
      expect(out.chunks).toEqual({ dino: 3, frame: 3, global: 4 });
      const { blocks } = await pi3DecoderOutputs(trunk, images, { S, H, W });
      for (const b of PI3_DECODER_REFS)
        expect(relError(blocks.get(b)!, await ref(`decoder.${b}`)), `decoder.${b}`).toBeLessThanOrEqual(1e-4);
      await trunk.dispose();
    });

    for (const sessions of ['per-type', 'per-block'] as const) {
      it(`reproduces decoder.{${PI3_DECODER_REFS.join(',')}} to ≤ 1e-4 relative error (sessions '${sessions}')`, async () => {
        const { model, cfg, S, H, W, ref } = await loadPi3Fixture();
        const trunk = await createPi3Trunk(model, cfg, { target: { ep: 'wasm' }, sessions });
        const t0 = performance.now();
        const { blocks, hidden } = await pi3DecoderOutputs(trunk, Float32Array.from(await ref('images')), { S, H, W });
        console.info(`[pi3 trunk wasm ${sessions}] run ${(performance.now() - t0).toFixed(0)} ms`);
        const P = 5 + (H / 14) * (W / 14);
        expect(hidden.length).toBe(S * P * 2 * cfg.embedDim);
        for (const b of PI3_DECODER_REFS) {
          const want = await ref(`decoder.${b}`);
          const got = blocks.get(b)!;
          expect(got.length).toBe(want.length);
          const e = relError(got, want);
          console.info(`[pi3 trunk wasm ${sessions}] decoder.${b}: relError ${e.toExponential(2)}`);
          expect(e).toBeLessThanOrEqual(1e-4);
        }
        await trunk.dispose();
      });
    }
  },
);
