/**
 * π³'s encoder + decoder on the shared trunk ({@link Aggregator}): the DINOv2 encoder (`encoder.*`), then the
 * decoder's 36 blocks as 18 pairs of a frame block (`decoder.2i`) and a global block (`decoder.2i+1`). What
 * differs from VGGT is only the {@link TrunkLayout}: LayerNorm eps 1e-6 in the decoder blocks (their q/k norms keep
 * PyTorch's 1e-5), and 5 register tokens, the same for every frame, before each frame's patches (no camera token,
 * no reference frame: π³ is permutation-equivariant).
 *
 * Trunk layer `i` (what {@link Aggregator.run} returns) is `cat(decoder[2i] output, decoder[2i+1] output)`, so the
 * last layer, `depth − 1`, is exactly the reference's `decode()` output that π³'s heads read.
 */
import { check } from '../../errors.js';
import { Aggregator, type AggregatorOptions, type TrunkLayout } from '../trunk/aggregator.js';
import type { WeightReader } from '../trunk/blocks.js';
import type { Pi3Config } from './config.js';

/** LayerNorm eps of the decoder blocks' norm1/norm2 (`partial(nn.LayerNorm, eps=1e-6)` in the reference). */
export const PI3_DECODER_EPS = 1e-6;
/** LayerNorm eps of the decoder's q/k norms (the attention's default `nn.LayerNorm`). */
export const PI3_QK_EPS = 1e-5;

/** π³'s trunk layout for `config` (its RoPE base; registers tiled over the frames). */
export function pi3Layout(config: Pick<Pi3Config, 'ropeBase'>): TrunkLayout {
  return {
    encoder: 'encoder',
    frameBlock: (i) => `decoder.${2 * i}`,
    globalBlock: (i) => `decoder.${2 * i + 1}`,
    eps: PI3_DECODER_EPS,
    qkEps: PI3_QK_EPS,
    ropeBase: config.ropeBase,
    async specialTokens(reader, c) {
      const K = c.patchStartIdx;
      const C = c.embedDim;
      const registers = await reader.read('register_token');
      check(registers.length === K * C, `register_token must be [1, 1, ${K}, ${C}]`);
      return (S) => {
        const special = new Float32Array(S * K * C);
        for (let s = 0; s < S; s++) special.set(registers, s * K * C);
        return special;
      };
    },
  };
}

/** Decoder block `b` (0…decoderDepth−1) as the trunk sees it: pair `b >> 1`, its frame or its global block. */
export function decoderBlock(b: number): { pair: number; kind: 'frame' | 'global' } {
  check(Number.isInteger(b) && b >= 0, `decoder block ${b} is not an index`);
  return { pair: b >> 1, kind: b % 2 === 0 ? 'frame' : 'global' };
}

/** Options of {@link createPi3Trunk}: the trunk's, less the layout (π³'s). */
export type Pi3TrunkOptions = Omit<AggregatorOptions, 'layout' | 'prefix'>;

/**
 * The π³ encoder + decoder as a trunk on `opts.target`; `run(images, shape, { layers: [config.depth − 1] })` gives
 * the heads' input `[S, 5 + P, 2·C]`.
 *
 * @example
 * const trunk = await createPi3Trunk(st, inferPi3Config(st.tensors, json), { target: { ep: 'wasm' } });
 * const { layers } = await trunk.run(images, { S, H, W }, { layers: [trunk.config.depth - 1] });
 */
export function createPi3Trunk(reader: WeightReader, config: Pi3Config, opts: Pi3TrunkOptions): Promise<Aggregator> {
  return Aggregator.create(reader, config, { ...opts, layout: pi3Layout(config) });
}
