// VGGT-shaped checkpoints with random weights, for speed and memory measurements (no weights are downloaded).
// Widths, heads and depths are parameters: the same code makes the tiny test sizes and exactly facebook/VGGT-1B's
// tensor names and shapes (VGGT_1B, 1,403 tensors: aggregator incl. DINOv2 ViT-L/14-reg, camera, depth and point
// heads; the track head, 394 tensors that camera/depth/points never use, is left out).
//
// Every tensor's values come from its own PRNG stream seeded by (seed, name), so a tensor is the same whatever
// order it is written in. Files are written like Python's safetensors writes them (tensors sorted by name, the
// header in the same order), either in memory (small models) or streamed to disk in bounded chunks
// (writeRandomVggt: VGGT-1B is 4.76 GB in F32, past what one ArrayBuffer can hold).
import { f32ToF16Bits } from '../src/attention/f16.js';
import type { Dtype } from '../src/model/source/safetensors.js';

export interface RandomVggtShape {
  dim: number;
  heads: number;
  depth: number;
  dinoDepth: number;
  /** VGGT register tokens per frame (4). */
  registers?: number;
  /** DINO's own register tokens (4 in dinov2_vitl14_reg). */
  dinoRegisters?: number;
  /** Side of DINO's square position grid (37: img_size 518 / patch 14). */
  posGrid?: number;
  /** Camera head and DPT heads (VGGT's layout). `depthHead` defaults to false for backward compatibility. */
  predictionHeads?: {
    cameraHeads: number;
    trunkDepth: number;
    features: number;
    outChannels: [number, number, number, number];
    /** Also the depth head (default false: camera + point head, what calibration needs). */
    depthHead?: boolean;
    /** Point head (default true). */
    pointHead?: boolean;
  };
}

/** facebook/VGGT-1B without the track head: 1,190,596,120 parameters in 1,403 tensors. */
export const VGGT_1B: Readonly<RandomVggtShape> = Object.freeze<RandomVggtShape>({
  dim: 1024,
  heads: 16,
  depth: 24,
  dinoDepth: 24,
  registers: 4,
  dinoRegisters: 4,
  posGrid: 37,
  predictionHeads: {
    cameraHeads: 16,
    trunkDepth: 4,
    features: 256,
    outChannels: [256, 512, 1024, 1024],
    depthHead: true,
    pointHead: true,
  },
});

/** How a tensor's values are drawn: `offset + scale · u`, u uniform in [-1, 1). */
export interface TensorSpec {
  name: string;
  shape: number[];
  scale: number;
  offset: number;
}

/**
 * The tensors of a VGGT of `shape`, in model order. Init scaled like a trained network so that activations stay
 * finite through 72 blocks: linear/conv weights uniform ±1/√fan_in, LayerNorm weights 1 ± 0.1, biases ±0.02,
 * LayerScale gammas 0.1 ± 0.05, tokens and position embeddings ±0.02.
 */
export function vggtTensorSpecs(shape: RandomVggtShape): TensorSpec[] {
  const { dim: C, heads: H, depth, dinoDepth, registers = 4, dinoRegisters = 4, posGrid = 37 } = shape;
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
  const conv = (p: string, o: number, i: number, k: number, bias = true) => {
    add(`${p}.weight`, [o, i, k, k], 1 / Math.sqrt(i * k * k));
    if (bias) add(`${p}.bias`, [o], 0.02);
  };
  const block = (p: string, qk: boolean, C: number) => {
    const d = C / H;
    norm(`${p}.norm1`, C);
    lin(`${p}.attn.qkv`, 3 * C, C);
    if (qk) {
      norm(`${p}.attn.q_norm`, d);
      norm(`${p}.attn.k_norm`, d);
    }
    lin(`${p}.attn.proj`, C, C);
    add(`${p}.ls1.gamma`, [C], 0.05, 0.1);
    norm(`${p}.norm2`, C);
    lin(`${p}.mlp.fc1`, 4 * C, C);
    lin(`${p}.mlp.fc2`, C, 4 * C);
    add(`${p}.ls2.gamma`, [C], 0.05, 0.1);
  };
  const pe = 'aggregator.patch_embed';
  add(`${pe}.cls_token`, [1, 1, C], 0.02);
  add(`${pe}.pos_embed`, [1, 1 + posGrid * posGrid, C], 0.02);
  if (dinoRegisters) add(`${pe}.register_tokens`, [1, dinoRegisters, C], 0.02);
  add(`${pe}.mask_token`, [1, C], 0.02);
  conv(`${pe}.patch_embed.proj`, C, 3, 14);
  for (let i = 0; i < dinoDepth; i++) block(`${pe}.blocks.${i}`, false, C);
  norm(`${pe}.norm`, C);
  add('aggregator.camera_token', [1, 2, 1, C], 0.02);
  add('aggregator.register_token', [1, 2, registers, C], 0.02);
  for (let i = 0; i < depth; i++) {
    block(`aggregator.frame_blocks.${i}`, true, C);
    block(`aggregator.global_blocks.${i}`, true, C);
  }
  const hd = shape.predictionHeads;
  if (hd) {
    const D = 2 * C; // the heads read [frame ‖ global] tokens
    const ch = 'camera_head';
    lin(`${ch}.embed_pose`, D, 9);
    add(`${ch}.empty_pose_tokens`, [1, 1, 9], 0.02);
    lin(`${ch}.poseLN_modulation.1`, 3 * D, D);
    lin(`${ch}.pose_branch.fc1`, D / 2, D);
    lin(`${ch}.pose_branch.fc2`, 9, D / 2);
    norm(`${ch}.token_norm`, D);
    norm(`${ch}.trunk_norm`, D);
    // Trunk blocks at width D: no q/k norm, so nothing depends on their head count.
    const trunk = (p: string) => {
      norm(`${p}.norm1`, D);
      lin(`${p}.attn.qkv`, 3 * D, D);
      lin(`${p}.attn.proj`, D, D);
      add(`${p}.ls1.gamma`, [D], 0.05, 0.1);
      norm(`${p}.norm2`, D);
      lin(`${p}.mlp.fc1`, 4 * D, D);
      lin(`${p}.mlp.fc2`, D, 4 * D);
      add(`${p}.ls2.gamma`, [D], 0.05, 0.1);
    };
    for (let i = 0; i < hd.trunkDepth; i++) trunk(`${ch}.trunk.${i}`);
    const dpt = (ph: string, outputDim: number) => {
      const F = hd.features;
      const oc = hd.outChannels;
      norm(`${ph}.norm`, D);
      oc.forEach((o, k) => conv(`${ph}.projects.${k}`, o, D, 1));
      // ConvTranspose weights are [in, out, k, k]
      add(`${ph}.resize_layers.0.weight`, [oc[0], oc[0], 4, 4], 1 / Math.sqrt(oc[0] * 16));
      add(`${ph}.resize_layers.0.bias`, [oc[0]], 0.02);
      add(`${ph}.resize_layers.1.weight`, [oc[1], oc[1], 2, 2], 1 / Math.sqrt(oc[1] * 4));
      add(`${ph}.resize_layers.1.bias`, [oc[1]], 0.02);
      conv(`${ph}.resize_layers.3`, oc[3], oc[3], 3);
      oc.forEach((o, k) => conv(`${ph}.scratch.layer${k + 1}_rn`, F, o, 3, false));
      for (let r = 1; r <= 4; r++) {
        conv(`${ph}.scratch.refinenet${r}.out_conv`, F, F, 1);
        for (const u of r === 4 ? [2] : [1, 2])
          for (const c of [1, 2]) conv(`${ph}.scratch.refinenet${r}.resConfUnit${u}.conv${c}`, F, F, 3);
      }
      conv(`${ph}.scratch.output_conv1`, F / 2, F, 3);
      conv(`${ph}.scratch.output_conv2.0`, 32, F / 2, 3);
      conv(`${ph}.scratch.output_conv2.2`, outputDim, 32, 1);
    };
    if (hd.depthHead) dpt('depth_head', 2);
    if (hd.pointHead ?? true) dpt('point_head', 4);
  }
  return specs;
}

/** The config.json `convert` writes beside model.safetensors (what the shapes cannot say). */
export function vggtConfigJson(shape: RandomVggtShape): Record<string, unknown> {
  const { dim, heads, depth, dinoDepth, registers = 4, posGrid = 37 } = shape;
  const config: Record<string, unknown> = {
    embed_dim: dim,
    num_heads: heads,
    depth,
    dino_depth: dinoDepth,
    dino_heads: heads,
    dino_img_size: posGrid * 14,
    patch_size: 14,
    num_register_tokens: registers,
  };
  const hd = shape.predictionHeads;
  if (hd)
    Object.assign(config, {
      camera_heads: hd.cameraHeads,
      camera_trunk_depth: hd.trunkDepth,
      dpt_features: hd.features,
      dpt_out_channels: hd.outChannels,
    });
  return config;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** 32-bit FNV-1a of the name mixed with the seed: one independent stream per tensor. */
function tensorSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h || 1;
}

/**
 * Fill `out` (a slice of one tensor's values, `state` carried across slices) with `offset + scale · u`, encoded as
 * `dtype` (F32 or F16). Returns the advanced PRNG state (xorshift32).
 */
function fillValues(out: Uint8Array, count: number, spec: TensorSpec, dtype: 'F32' | 'F16', state: number): number {
  let s = state;
  const { scale, offset } = spec;
  if (dtype === 'F32') {
    const v = new Float32Array(out.buffer, out.byteOffset, count);
    for (let i = 0; i < count; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      v[i] = offset + scale * ((s >>> 0) / 2147483648 - 1);
    }
  } else {
    const v = new Uint16Array(out.buffer, out.byteOffset, count);
    for (let i = 0; i < count; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      v[i] = f32ToF16Bits(offset + scale * ((s >>> 0) / 2147483648 - 1));
    }
  }
  return s;
}

/** The safetensors header (names sorted, as Python's safetensors writes them) and the tensors in file order. */
export function checkpointLayout(
  specs: TensorSpec[],
  dtype: 'F32' | 'F16',
): { header: Uint8Array; order: TensorSpec[]; dataBytes: number } {
  const order = [...specs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const size = dtype === 'F32' ? 4 : 2;
  const header: Record<string, unknown> = {
    __metadata__: { format: 'pt', generator: 'hess-vggt bench/random-vggt.ts (random weights)' },
  };
  let off = 0;
  for (const t of order) {
    const n = numel(t.shape) * size;
    header[t.name] = { dtype: dtype as Dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - ((8 + text.length) % 8)) % 8); // data section 8-byte aligned, as the Python writer does
  return { header: new TextEncoder().encode(text), order, dataBytes: off };
}

/** Largest piece of values generated at once (bounded memory however large the tensor). */
const CHUNK_VALUES = 1 << 20;

/**
 * A checkpoint as consecutive byte chunks: length prefix, header, then each tensor in ≤ 4 MiB pieces. A chunk's
 * buffer is reused for the next one: copy or write it before pulling the next.
 */
export function* checkpointChunks(
  specs: TensorSpec[],
  opts: { dtype?: 'F32' | 'F16'; seed?: number } = {},
): Generator<Uint8Array> {
  const dtype = opts.dtype ?? 'F32';
  const seed = opts.seed ?? 1;
  const { header, order } = checkpointLayout(specs, dtype);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(header.byteLength), true);
  yield prefix;
  yield header;
  const size = dtype === 'F32' ? 4 : 2;
  const buf = new Uint8Array(CHUNK_VALUES * size);
  for (const t of order) {
    const n = numel(t.shape);
    let state = tensorSeed(seed, t.name);
    for (let done = 0; done < n; done += CHUNK_VALUES) {
      const count = Math.min(CHUNK_VALUES, n - done);
      state = fillValues(buf, count, t, dtype, state);
      yield buf.subarray(0, count * size);
    }
  }
}

/**
 * A random VGGT checkpoint in memory (small models: one Uint8Array, RangeError past the engine's ArrayBuffer
 * limit; use {@link writeRandomVggt} for VGGT-1B sizes).
 */
export function randomVggtCheckpoint(
  shape: RandomVggtShape,
  seed = 1,
  dtype: 'F32' | 'F16' = 'F32',
): { bytes: Uint8Array; config: Record<string, unknown> } {
  const specs = vggtTensorSpecs(shape);
  const { header, dataBytes } = checkpointLayout(specs, dtype);
  const bytes = new Uint8Array(8 + header.byteLength + dataBytes);
  let p = 0;
  for (const c of checkpointChunks(specs, { dtype, seed })) {
    bytes.set(c, p);
    p += c.byteLength;
  }
  return { bytes, config: vggtConfigJson(shape) };
}

/**
 * Stream a random VGGT checkpoint to `dir/model.safetensors` (+ `dir/config.json`, as `convert` writes it) without
 * holding it in memory: the header first, then each tensor in ≤ 4 MiB chunks. Writes to a temporary name and
 * renames at the end, so an interrupted run never leaves a truncated model.safetensors behind.
 */
export async function writeRandomVggt(
  dir: string,
  shape: RandomVggtShape,
  opts: { dtype?: 'F32' | 'F16'; seed?: number } = {},
): Promise<{ file: string; bytes: number; tensors: number; params: number }> {
  const fs = await import('node:fs/promises');
  await fs.mkdir(dir, { recursive: true });
  const file = `${dir}/model.safetensors`;
  const tmp = `${file}.partial`;
  const fh = await fs.open(tmp, 'w');
  const specs = vggtTensorSpecs(shape);
  let bytes = 0;
  try {
    for (const chunk of checkpointChunks(specs, opts)) {
      for (let done = 0; done < chunk.byteLength; )
        done += (await fh.write(chunk, done, chunk.byteLength - done)).bytesWritten;
      bytes += chunk.byteLength;
    }
  } finally {
    await fh.close();
  }
  await fs.writeFile(`${dir}/config.json`, `${JSON.stringify(vggtConfigJson(shape), null, 2)}\n`);
  await fs.rename(tmp, file);
  return { file, bytes, tensors: specs.length, params: specs.reduce((a, t) => a + numel(t.shape), 0) };
}
