/**
 * Read a π³ (Pi3, yyfz/Pi3) architecture from the checkpoint's tensor shapes, so that the tiny fixture and the
 * full yyfz233/Pi3 (ViT-L encoder, 36 decoder blocks of width 1024, 16 heads) load through one code path.
 *
 * π³'s decoder is one list of blocks, even = frame attention, odd = global attention; the shared trunk sees it as
 * `depth` = decoder blocks / 2 pairs (frame block `decoder.2i`, global block `decoder.2i+1`). Head counts the
 * shapes do not show (encoder, head decoders) come from a config.json-like override or default to the decoder's
 * (true for yyfz233/Pi3: 16/16/16) and are then listed in `assumed`.
 *
 * @example
 * const st = await openSafetensors(await fileSource('model.safetensors'));
 * const cfg = inferPi3Config(st.tensors, JSON.parse(await readFile('config.json', 'utf8')));
 * cfg.depth; // 18 global layers for yyfz233/Pi3
 */
import { HessError } from '../../errors.js';
import { checkBlock, inferDinoShapes, Shapes, type TensorShapes, type TrunkConfig } from '../config.js';

/** π³'s architecture as read from a checkpoint (the trunk part; the heads read their own shapes). */
export interface Pi3Config extends TrunkConfig {
  readonly model: 'pi3';
  /** Decoder blocks (36 in yyfz233/Pi3): `depth` = decoderDepth / 2 frame/global pairs. */
  readonly decoderDepth: number;
  /** Register tokens per frame (5), the same for every frame; no camera token. */
  readonly numRegisterTokens: number;
  /** RoPE frequency base (100: the reference's `pos_type='rope100'`). */
  readonly ropeBase: number;
  /** Attention heads of the point, conf and camera decoders. */
  readonly headHeads: number;
  /** Fields that came from neither the shapes nor the override, but from a default (e.g. 'encoder.heads'). */
  readonly assumed: readonly string[];
}

/** A config.json-like override (snake_case, as in the pi3-tiny fixture); unknown keys are ignored. */
export interface Pi3ConfigOverride {
  encoder_dim?: number;
  encoder_depth?: number;
  encoder_heads?: number;
  encoder_registers?: number;
  dec_dim?: number;
  dec_heads?: number;
  dec_depth?: number;
  register_tokens?: number;
  head_dec_heads?: number;
  rope_freq?: number;
  patch_size?: number;
  [key: string]: unknown;
}

function bad(message: string): HessError {
  return new HessError(
    'BAD_CHECKPOINT',
    `π³ checkpoint: ${message}`,
    'use a π³ checkpoint (e.g. yyfz233/Pi3 model.safetensors)',
  );
}

function readOverride(o: Pi3ConfigOverride | undefined, key: keyof Pi3ConfigOverride & string): number | undefined {
  if (!o || o[key] === undefined || o[key] === null) return undefined;
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (key !== 'rope_freq' && !Number.isSafeInteger(v))) {
    throw bad(
      `config field ${key} must be a positive ${key === 'rope_freq' ? 'number' : 'integer'} (got ${String(v)})`,
    );
  }
  return v;
}

/** Whether `tensors` look like a π³ checkpoint (an `encoder.` DINOv2, a `decoder.` block list, `register_token`). */
export function isPi3Checkpoint(tensors: TensorShapes): boolean {
  return (
    tensors.has('register_token') &&
    tensors.has('encoder.patch_embed.proj.weight') &&
    tensors.has('decoder.0.attn.qkv.weight')
  );
}

/**
 * Infer π³'s architecture from tensor shapes (and `override` for what shapes cannot tell). Throws
 * `BAD_CHECKPOINT` when a key tensor is missing, shapes are inconsistent, or `override` contradicts them.
 *
 * @example
 * const cfg = inferPi3Config(st.tensors, { encoder_heads: 4, head_dec_heads: 4 });
 */
export function inferPi3Config(tensors: TensorShapes, override?: Pi3ConfigOverride): Pi3Config {
  if (!tensors || typeof (tensors as { get?: unknown }).get !== 'function')
    throw bad('expected a Map of tensor name → { shape }');
  const s = new Shapes(tensors, bad);
  const assumed: string[] = [];
  const agree = (key: keyof Pi3ConfigOverride & string, inferred: number) => {
    const v = readOverride(override, key);
    if (v !== undefined && v !== inferred) throw bad(`config says ${key} = ${v} but the weights say ${inferred}`);
  };

  // --- decoder: one list, even = frame, odd = global ---
  const reg = s.expect('register_token', [1, 1, -1, -1]);
  const numRegisterTokens = reg[2];
  const embedDim = reg[3];
  const decoderDepth = s.count('decoder');
  if (decoderDepth === 0) throw bad('no decoder.* tensors');
  if (decoderDepth % 2 !== 0)
    throw bad(`${decoderDepth} decoder blocks: frame and global blocks must alternate in pairs`);
  const headDim = s.expect('decoder.0.attn.q_norm.weight', [-1])[0];
  if (headDim === 0 || embedDim % headDim !== 0)
    throw bad(`decoder width ${embedDim} is not a multiple of the head width ${headDim}`);
  const numHeads = embedDim / headDim;
  const mlpHiddenDim = s.expect('decoder.0.mlp.fc1.weight', [-1, embedDim])[0];
  for (let i = 0; i < decoderDepth; i++) checkBlock(s, `decoder.${i}`, embedDim, mlpHiddenDim, headDim);
  agree('dec_dim', embedDim);
  agree('dec_heads', numHeads);
  agree('dec_depth', decoderDepth);
  agree('register_tokens', numRegisterTokens);

  // --- DINOv2 encoder (its normalised patch tokens go straight into the decoder: same width) ---
  const dino = inferDinoShapes(s, 'encoder');
  if (dino.dim !== embedDim) throw bad(`encoder width ${dino.dim} differs from the decoder width ${embedDim}`);
  agree('encoder_dim', dino.dim);
  agree('encoder_depth', dino.depth);
  agree('encoder_registers', dino.numRegisters);
  agree('patch_size', dino.patchSize);
  let encoderHeads = readOverride(override, 'encoder_heads');
  if (encoderHeads === undefined) {
    encoderHeads = numHeads;
    assumed.push('encoder.heads');
  }
  if (dino.dim % encoderHeads !== 0) throw bad(`encoder width ${dino.dim} is not divisible by ${encoderHeads} heads`);
  let headHeads = readOverride(override, 'head_dec_heads');
  if (headHeads === undefined) {
    headHeads = numHeads;
    assumed.push('heads.heads');
  }

  return {
    model: 'pi3',
    embedDim,
    numHeads,
    headDim,
    depth: decoderDepth / 2,
    decoderDepth,
    mlpHiddenDim,
    patchSize: dino.patchSize,
    numRegisterTokens,
    patchStartIdx: numRegisterTokens,
    ropeBase: readOverride(override, 'rope_freq') ?? 100,
    headHeads,
    dino: {
      dim: dino.dim,
      depth: dino.depth,
      heads: encoderHeads,
      headDim: dino.dim / encoderHeads,
      mlpHiddenDim: dino.mlpHiddenDim,
      posGrid: dino.posGrid,
      imgSize: dino.posGrid * dino.patchSize,
      numRegisters: dino.numRegisters,
    },
    assumed,
  };
}
