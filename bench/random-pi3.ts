// π³-shaped checkpoints with random weights (the twin of random-vggt.ts): yyfz/Pi3's tensor names (encoder.* DINOv2
// with registers, register_token, decoder.{0…2·depth−1} alternating frame/global blocks, the point/conf/camera
// decoders and heads), widths and depths as parameters, the same per-tensor PRNG streams and file writer.
import { checkpointChunks, checkpointLayout, type TensorSpec } from './random-vggt.js';

export interface RandomPi3Shape {
  /** Encoder and decoder width. */
  dim: number;
  heads: number;
  /** Frame/global pairs: 36 decoder blocks = 18 in yyfz233/Pi3. */
  depth: number;
  encoderDepth: number;
  /** Head decoders: width, depth, heads; camera head width. */
  headDim: number;
  headDepth: number;
  headHeads: number;
  cameraDim: number;
  /** Register tokens per frame (5) and DINO's own (4). */
  registers?: number;
  encoderRegisters?: number;
  posGrid?: number;
}

/** The tensors of a π³ of `shape` (init as random-vggt.ts: ±1/√fan_in, LayerNorm 1 ± 0.1, LayerScale 0.1 ± 0.05). */
export function pi3TensorSpecs(shape: RandomPi3Shape): TensorSpec[] {
  const {
    dim: C,
    heads: H,
    depth,
    encoderDepth,
    headDim: D,
    headDepth,
    cameraDim: K,
    registers = 5,
    encoderRegisters = 4,
    posGrid = 37,
  } = shape;
  const specs: TensorSpec[] = [];
  const add = (name: string, dims: number[], scale: number, offset = 0) =>
    specs.push({ name, shape: dims, scale, offset });
  const norm = (p: string, n: number) => {
    add(`${p}.weight`, [n], 0.1, 1);
    add(`${p}.bias`, [n], 0.02);
  };
  const lin = (p: string, o: number, i: number) => {
    add(`${p}.weight`, [o, i], 1 / Math.sqrt(i));
    add(`${p}.bias`, [o], 0.02);
  };
  const block = (p: string, C: number, opts: { qk?: number; ls?: boolean }) => {
    norm(`${p}.norm1`, C);
    lin(`${p}.attn.qkv`, 3 * C, C);
    if (opts.qk) {
      norm(`${p}.attn.q_norm`, opts.qk);
      norm(`${p}.attn.k_norm`, opts.qk);
    }
    lin(`${p}.attn.proj`, C, C);
    if (opts.ls) add(`${p}.ls1.gamma`, [C], 0.05, 0.1);
    norm(`${p}.norm2`, C);
    lin(`${p}.mlp.fc1`, 4 * C, C);
    lin(`${p}.mlp.fc2`, C, 4 * C);
    if (opts.ls) add(`${p}.ls2.gamma`, [C], 0.05, 0.1);
  };
  add('encoder.cls_token', [1, 1, C], 0.02);
  add('encoder.pos_embed', [1, 1 + posGrid * posGrid, C], 0.02);
  if (encoderRegisters) add('encoder.register_tokens', [1, encoderRegisters, C], 0.02);
  add('encoder.patch_embed.proj.weight', [C, 3, 14, 14], 1 / Math.sqrt(3 * 196));
  add('encoder.patch_embed.proj.bias', [C], 0.02);
  for (let i = 0; i < encoderDepth; i++) block(`encoder.blocks.${i}`, C, { ls: true });
  norm('encoder.norm', C);
  add('register_token', [1, 1, registers, C], 0.02);
  for (let i = 0; i < 2 * depth; i++) block(`decoder.${i}`, C, { qk: C / H, ls: true });
  for (const [dec, out] of [
    ['point_decoder', D],
    ['conf_decoder', D],
    ['camera_decoder', K],
  ] as const) {
    lin(`${dec}.projects`, D, 2 * C);
    for (let i = 0; i < headDepth; i++) block(`${dec}.blocks.${i}`, D, {});
    lin(`${dec}.linear_out`, out, D);
  }
  lin('point_head.proj', 3 * 14 * 14, D);
  lin('conf_head.proj', 14 * 14, D);
  for (let i = 0; i < 2; i++) for (const k of [1, 2, 3]) lin(`camera_head.res_conv.${i}.res_conv${k}`, K, K);
  lin('camera_head.more_mlps.0', K, K);
  lin('camera_head.more_mlps.2', K, K);
  lin('camera_head.fc_t', 3, K);
  lin('camera_head.fc_rot', 9, K);
  return specs;
}

/** The config.json of such a checkpoint (what the shapes cannot say: head counts), as the pi3-tiny fixture's. */
export function pi3ConfigJson(shape: RandomPi3Shape): Record<string, unknown> {
  return {
    model: 'pi3',
    encoder_dim: shape.dim,
    encoder_depth: shape.encoderDepth,
    encoder_heads: shape.heads,
    dec_dim: shape.dim,
    dec_heads: shape.heads,
    dec_depth: 2 * shape.depth,
    register_tokens: shape.registers ?? 5,
    head_dec_heads: shape.headHeads,
    rope_freq: 100,
    patch_size: 14,
  };
}

/** A π³ of `shape` with random weights, in memory (small models), and its config.json. */
export function randomPi3Checkpoint(
  shape: RandomPi3Shape,
  seed = 1,
): { bytes: Uint8Array; config: Record<string, unknown> } {
  const specs = pi3TensorSpecs(shape);
  const { header, dataBytes } = checkpointLayout(specs, 'F32');
  const bytes = new Uint8Array(8 + header.byteLength + dataBytes);
  let p = 0;
  for (const c of checkpointChunks(specs, { dtype: 'F32', seed })) {
    bytes.set(c, p);
    p += c.byteLength;
  }
  return { bytes, config: pi3ConfigJson(shape) };
}
