import { describe, expect, it } from 'vitest';
import { inferPi3Config } from '../../../src/model/pi3/config';
import { createPi3Trunk } from '../../../src/model/pi3/trunk';
import { relError } from '../../helpers/random';
import { havePi3Fixture, loadPi3Fixture, PI3_DECODER_REFS, pi3DecoderOutputs } from '../../fixtures/pi3-tiny';

describe.skipIf(!havePi3Fixture)('π³ encoder + decoder on the shared trunk (wasm EP) vs the float64 reference (pi3-tiny)', () => {
  it('reads the architecture from the shapes: 2 encoder blocks, 36 decoder blocks = 18 pairs, 5 registers', async () => {
    const { model, cfg, json } = await loadPi3Fixture();
    expect(cfg).toMatchObject({
      model: 'pi3', embedDim: json.dec_dim, numHeads: json.dec_heads, headDim: 16, decoderDepth: 36, depth: 18,
      patchSize: 14, numRegisterTokens: 5, patchStartIdx: 5, ropeBase: 100, headHeads: 4,
      dino: { dim: 64, depth: 2, heads: 4, numRegisters: 4, posGrid: 37 },
    });
    expect(cfg.assumed).toEqual([]);
    // Without config.json the head counts the shapes cannot show are assumed (the decoder's), and said so.
    expect(inferPi3Config(model.tensors).assumed).toEqual(['encoder.heads', 'heads.heads']);
    // A config that contradicts the weights, an odd decoder and a missing tensor are BAD_CHECKPOINT.
    expect(() => inferPi3Config(model.tensors, { dec_depth: 24 })).toThrow(expect.objectContaining({ code: 'BAD_CHECKPOINT' }));
    const odd = new Map([...model.tensors].filter(([k]) => !k.startsWith('decoder.35.')));
    expect(() => inferPi3Config(odd)).toThrow(/alternate in pairs/);
    const noReg = new Map([...model.tensors].filter(([k]) => k !== 'register_token'));
    expect(() => inferPi3Config(noReg)).toThrow(expect.objectContaining({ code: 'BAD_CHECKPOINT' }));
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
});
