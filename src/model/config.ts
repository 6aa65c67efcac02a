/**
 * Read a VGGT architecture from the checkpoint's tensor shapes, so that no width or depth is hard-coded
 * (VGGT-1B and the small test fixture share one code path).
 *
 * Head counts are not visible in most shapes: the aggregator's head count is `embedDim / headDim`, with
 * `headDim` read from the q_norm weight length. DINO's and the camera trunk's head counts have no per-head
 * tensor, so they come from an optional config.json-like override, or default to the aggregator's head count
 * (true for VGGT-1B: 16/16/16); such defaults are listed in `assumed`.
 *
 * @example
 * const st = await openSafetensors(await fileSource('model.safetensors'));
 * const cfg = inferVggtConfig(st.tensors, JSON.parse(await readFile('config.json', 'utf8')));
 */
import { HessError } from '../errors.js';

/** Configuration of one DPT head (depth or point). */
export interface DptHeadConfig {
  /** `features` (width of the fusion path, 256 in VGGT-1B). */
  readonly features: number;
  /** `out_channels` of the four projections ([256, 512, 1024, 1024] in VGGT-1B). */
  readonly outChannels: readonly [number, number, number, number];
  /** Channels of the final conv: 2 for depth (value + confidence), 4 for points (xyz + confidence). */
  readonly outputDim: number;
}

/** The camera head's trunk. */
export interface CameraHeadConfig {
  /** Token width (2 × embedDim). */
  readonly dim: number;
  readonly heads: number;
  readonly headDim: number;
  readonly trunkDepth: number;
  readonly mlpHiddenDim: number;
  /** Width of the pose encoding (9: T(3), quat(4), FoV(2)). */
  readonly poseDim: number;
}

/** The DINOv2 patch encoder both models start with (ViT-L/14 with 4 registers in VGGT-1B and π³). */
export interface DinoConfig {
  readonly dim: number;
  readonly depth: number;
  readonly heads: number;
  readonly headDim: number;
  readonly mlpHiddenDim: number;
  /** Side of the square pos-embed grid (37). */
  readonly posGrid: number;
  /** posGrid × patchSize (518). */
  readonly imgSize: number;
  /** DINO's own register tokens (dropped after the DINO blocks). */
  readonly numRegisters: number;
}

/** DINOv2 ViT-L/14 with 4 registers at 518²: the encoder of VGGT-1B and of yyfz233/Pi3. */
export const DINOV2_VITL14_REG: DinoConfig = {
  dim: 1024,
  depth: 24,
  heads: 16,
  headDim: 64,
  mlpHiddenDim: 4096,
  posGrid: 37,
  imgSize: 518,
  numRegisters: 4,
};

/**
 * The part of an architecture the shared trunk runs (`Aggregator`): a DINOv2
 * encoder, then `depth` pairs of a frame block and a global block (VGGT: frame_blocks.i / global_blocks.i; π³:
 * decoder.2i / decoder.2i+1), each frame's tokens led by `patchStartIdx` special tokens.
 */
export interface TrunkConfig {
  /** Width of the alternating blocks. */
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  /** Pairs of (frame block, global block): 24 in VGGT-1B, 18 in π³. */
  readonly depth: number;
  readonly mlpHiddenDim: number;
  readonly patchSize: number;
  /** Special tokens per frame before the patches (VGGT: camera + 4 registers; π³: 5 registers). */
  readonly patchStartIdx: number;
  readonly dino: DinoConfig;
}

/** VGGT architecture as read from a checkpoint. */
export interface VggtConfig extends TrunkConfig {
  /** Aggregator width (1024 in VGGT-1B). */
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  /** Frame blocks = global blocks = depth (24 in VGGT-1B). */
  readonly depth: number;
  readonly mlpHiddenDim: number;
  readonly patchSize: number;
  /** VGGT register tokens per frame (4). */
  readonly numRegisterTokens: number;
  /** 1 camera token + registers. */
  readonly patchStartIdx: number;
  readonly dino: DinoConfig;
  readonly camera: CameraHeadConfig | null;
  readonly depthHead: DptHeadConfig | null;
  readonly pointHead: DptHeadConfig | null;
  readonly hasTrackHead: boolean;
  /** Fields that came from neither the shapes nor the override, but from a default (e.g. 'dino.heads'). */
  readonly assumed: readonly string[];
}

/** A config.json-like override (snake_case, as written next to the fixture weights); unknown keys are ignored. */
export interface VggtConfigOverride {
  embed_dim?: number;
  num_heads?: number;
  depth?: number;
  dino_depth?: number;
  dino_heads?: number;
  dino_img_size?: number;
  patch_size?: number;
  num_register_tokens?: number;
  camera_heads?: number;
  camera_trunk_depth?: number;
  dpt_features?: number;
  dpt_out_channels?: readonly number[];
  [key: string]: unknown;
}

/** Anything that maps tensor names to shapes (e.g. `Safetensors.tensors`). */
export type TensorShapes = ReadonlyMap<string, { readonly shape: readonly number[] }>;

function bad(message: string): HessError {
  return new HessError(
    'BAD_CHECKPOINT',
    `VGGT checkpoint: ${message}`,
    'use a VGGT checkpoint (e.g. facebook/VGGT-1B model.safetensors)',
  );
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Tensor-shape queries that fail with `BAD_CHECKPOINT` (through `fail`, which names the model). */
export class Shapes {
  constructor(
    private readonly t: TensorShapes,
    private readonly fail: (message: string) => HessError = bad,
  ) {}

  /** The model's BAD_CHECKPOINT error for `message`. */
  error(message: string): HessError {
    return this.fail(message);
  }

  has(name: string): boolean {
    return this.t.has(name);
  }

  get(name: string): readonly number[] {
    const e = this.t.get(name);
    if (!e) throw this.fail(`missing tensor ${name}`);
    return e.shape;
  }

  /** Shape of `name`, checked against `expected` (-1 = any, but the rank must match). */
  expect(name: string, expected: readonly number[]): readonly number[] {
    const s = this.get(name);
    if (s.length !== expected.length || expected.some((d, i) => d !== -1 && d !== s[i])) {
      throw this.fail(
        `${name} has shape ${fmt(s)}, expected ${fmt(expected.map((d) => (d === -1 ? NaN : d))).replace(/NaN/g, '*')}`,
      );
    }
    return s;
  }

  /** Number of consecutive `prefix.{i}.` groups; throws on gaps. */
  count(prefix: string): number {
    const idx = new Set<number>();
    const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)\\.`);
    for (const k of this.t.keys()) {
      const m = re.exec(k);
      if (m) idx.add(Number(m[1]));
    }
    for (let i = 0; i < idx.size; i++)
      if (!idx.has(i)) throw this.fail(`${prefix}.${i} is missing (found ${idx.size} blocks)`);
    return idx.size;
  }

  hasPrefix(prefix: string): boolean {
    for (const k of this.t.keys()) if (k.startsWith(prefix)) return true;
    return false;
  }
}

/** Check one transformer block's tensors (q/k norms of width `headDim` when not null). */
export function checkBlock(s: Shapes, p: string, dim: number, hidden: number, headDim: number | null): void {
  for (const n of [
    'norm1.weight',
    'norm1.bias',
    'norm2.weight',
    'norm2.bias',
    'attn.proj.bias',
    'mlp.fc2.bias',
    'ls1.gamma',
    'ls2.gamma',
  ]) {
    s.expect(`${p}.${n}`, [dim]);
  }
  s.expect(`${p}.attn.qkv.weight`, [3 * dim, dim]);
  s.expect(`${p}.attn.qkv.bias`, [3 * dim]);
  s.expect(`${p}.attn.proj.weight`, [dim, dim]);
  s.expect(`${p}.mlp.fc1.weight`, [hidden, dim]);
  s.expect(`${p}.mlp.fc1.bias`, [hidden]);
  s.expect(`${p}.mlp.fc2.weight`, [dim, hidden]);
  if (headDim !== null) {
    for (const n of ['q_norm.weight', 'q_norm.bias', 'k_norm.weight', 'k_norm.bias'])
      s.expect(`${p}.attn.${n}`, [headDim]);
  }
}

function dptHead(s: Shapes, p: string, tokenDim: number): DptHeadConfig {
  s.expect(`${p}.norm.weight`, [tokenDim]);
  const oc = [0, 1, 2, 3].map((k) => s.expect(`${p}.projects.${k}.weight`, [-1, tokenDim, 1, 1])[0]);
  const features = s.expect(`${p}.scratch.layer1_rn.weight`, [-1, oc[0], 3, 3])[0];
  for (let k = 1; k < 4; k++) s.expect(`${p}.scratch.layer${k + 1}_rn.weight`, [features, oc[k], 3, 3]);
  s.expect(`${p}.resize_layers.0.weight`, [oc[0], oc[0], 4, 4]);
  s.expect(`${p}.resize_layers.1.weight`, [oc[1], oc[1], 2, 2]);
  s.expect(`${p}.resize_layers.3.weight`, [oc[3], oc[3], 3, 3]);
  const half = s.expect(`${p}.scratch.output_conv1.weight`, [-1, features, 3, 3])[0];
  const hidden = s.expect(`${p}.scratch.output_conv2.0.weight`, [-1, half, 3, 3])[0];
  const outputDim = s.expect(`${p}.scratch.output_conv2.2.weight`, [-1, hidden, 1, 1])[0];
  return { features, outChannels: [oc[0], oc[1], oc[2], oc[3]], outputDim };
}

function readOverride(o: VggtConfigOverride | undefined, key: keyof VggtConfigOverride & string): number | undefined {
  if (!o || o[key] === undefined || o[key] === null) return undefined;
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)
    throw bad(`config field ${key} must be a positive integer (got ${String(v)})`);
  return v;
}

/**
 * The DINOv2 encoder under `pe` (VGGT: 'aggregator.patch_embed', π³: 'encoder'), from its shapes: width, patch
 * size, pos-embed grid, registers, depth and MLP width (heads have no per-head tensor: the caller decides).
 */
export function inferDinoShapes(
  s: Shapes,
  pe: string,
): {
  dim: number;
  patchSize: number;
  posGrid: number;
  numRegisters: number;
  depth: number;
  mlpHiddenDim: number;
} {
  const proj = s.expect(`${pe}.patch_embed.proj.weight`, [-1, 3, -1, -1]);
  const dim = proj[0];
  const patchSize = proj[2];
  if (proj[3] !== patchSize || patchSize === 0)
    throw s.error(`${pe}.patch_embed.proj.weight has non-square kernel ${fmt(proj)}`);
  s.expect(`${pe}.patch_embed.proj.bias`, [dim]);
  s.expect(`${pe}.cls_token`, [1, 1, dim]);
  const pos = s.expect(`${pe}.pos_embed`, [1, -1, dim]);
  const posGrid = Math.round(Math.sqrt(pos[1] - 1));
  if (pos[1] < 2 || posGrid * posGrid !== pos[1] - 1)
    throw s.error(`${pe}.pos_embed has ${pos[1]} rows, not 1 + a square`);
  const numRegisters = s.has(`${pe}.register_tokens`) ? s.expect(`${pe}.register_tokens`, [1, -1, dim])[1] : 0;
  const depth = s.count(`${pe}.blocks`);
  if (depth === 0) throw s.error(`no ${pe}.blocks.* tensors`);
  const mlpHiddenDim = s.expect(`${pe}.blocks.0.mlp.fc1.weight`, [-1, dim])[0];
  for (let i = 0; i < depth; i++) checkBlock(s, `${pe}.blocks.${i}`, dim, mlpHiddenDim, null);
  s.expect(`${pe}.norm.weight`, [dim]);
  s.expect(`${pe}.norm.bias`, [dim]);
  return { dim, patchSize, posGrid, numRegisters, depth, mlpHiddenDim };
}

/**
 * Infer the VGGT architecture from tensor shapes (and `override` for what shapes cannot tell).
 * Throws `BAD_CHECKPOINT` when a key tensor is missing, shapes are inconsistent, or `override` contradicts them.
 *
 * @example
 * const cfg = inferVggtConfig(st.tensors, { camera_heads: 16, dino_heads: 16 });
 * cfg.embedDim; // 1024 for VGGT-1B
 */
export function inferVggtConfig(tensors: TensorShapes, override?: VggtConfigOverride): VggtConfig {
  if (!tensors || typeof (tensors as { get?: unknown }).get !== 'function')
    throw bad('expected a Map of tensor name → { shape }');
  const s = new Shapes(tensors);
  const assumed: string[] = [];
  const agree = (key: keyof VggtConfigOverride & string, inferred: number) => {
    const v = readOverride(override, key);
    if (v !== undefined && v !== inferred) throw bad(`config says ${key} = ${v} but the weights say ${inferred}`);
  };

  // --- aggregator special tokens and blocks ---
  const cam = s.expect('aggregator.camera_token', [1, 2, 1, -1]);
  const embedDim = cam[3];
  const reg = s.expect('aggregator.register_token', [1, 2, -1, embedDim]);
  const numRegisterTokens = reg[2];
  const depth = s.count('aggregator.frame_blocks');
  const globalDepth = s.count('aggregator.global_blocks');
  if (depth === 0) throw bad('no aggregator.frame_blocks.* tensors');
  if (globalDepth !== depth) throw bad(`${depth} frame blocks but ${globalDepth} global blocks`);
  const headDim = s.expect('aggregator.frame_blocks.0.attn.q_norm.weight', [-1])[0];
  if (headDim === 0 || embedDim % headDim !== 0)
    throw bad(`embed dim ${embedDim} is not a multiple of the head dim ${headDim}`);
  const numHeads = embedDim / headDim;
  const mlpHiddenDim = s.expect('aggregator.frame_blocks.0.mlp.fc1.weight', [-1, embedDim])[0];
  for (let i = 0; i < depth; i++) {
    checkBlock(s, `aggregator.frame_blocks.${i}`, embedDim, mlpHiddenDim, headDim);
    checkBlock(s, `aggregator.global_blocks.${i}`, embedDim, mlpHiddenDim, headDim);
  }
  agree('embed_dim', embedDim);
  agree('num_heads', numHeads);
  agree('depth', depth);
  agree('num_register_tokens', numRegisterTokens);

  // --- DINO patch embed ---
  const {
    dim: dinoDim,
    patchSize,
    posGrid,
    numRegisters,
    depth: dinoDepth,
    mlpHiddenDim: dinoMlp,
  } = inferDinoShapes(s, 'aggregator.patch_embed');
  if (dinoDim !== embedDim) throw bad(`DINO width ${dinoDim} differs from the aggregator width ${embedDim}`);
  agree('patch_size', patchSize);
  agree('dino_depth', dinoDepth);
  agree('dino_img_size', posGrid * patchSize);
  let dinoHeads = readOverride(override, 'dino_heads');
  if (dinoHeads === undefined) {
    dinoHeads = numHeads;
    assumed.push('dino.heads');
  }
  if (dinoDim % dinoHeads !== 0) throw bad(`DINO width ${dinoDim} is not divisible by ${dinoHeads} heads`);

  // --- camera head ---
  let camera: CameraHeadConfig | null = null;
  if (s.hasPrefix('camera_head.')) {
    const dim = s.expect('camera_head.token_norm.weight', [-1])[0];
    if (dim !== 2 * embedDim) throw bad(`camera head width ${dim} is not 2 × ${embedDim}`);
    s.expect('camera_head.trunk_norm.weight', [dim]);
    const trunkDepth = s.count('camera_head.trunk');
    if (trunkDepth === 0) throw bad('no camera_head.trunk.* tensors');
    const hidden = s.expect('camera_head.trunk.0.mlp.fc1.weight', [-1, dim])[0];
    for (let i = 0; i < trunkDepth; i++) checkBlock(s, `camera_head.trunk.${i}`, dim, hidden, null);
    const poseDim = s.expect('camera_head.empty_pose_tokens', [1, 1, -1])[2];
    s.expect('camera_head.embed_pose.weight', [dim, poseDim]);
    s.expect('camera_head.poseLN_modulation.1.weight', [3 * dim, dim]);
    const branch = s.expect('camera_head.pose_branch.fc1.weight', [-1, dim])[0];
    s.expect('camera_head.pose_branch.fc2.weight', [poseDim, branch]);
    agree('camera_trunk_depth', trunkDepth);
    let heads = readOverride(override, 'camera_heads');
    if (heads === undefined) {
      heads = numHeads;
      assumed.push('camera.heads');
    }
    if (dim % heads !== 0) throw bad(`camera head width ${dim} is not divisible by ${heads} heads`);
    camera = { dim, heads, headDim: dim / heads, trunkDepth, mlpHiddenDim: hidden, poseDim };
  }

  // --- DPT heads ---
  const depthHead = s.hasPrefix('depth_head.') ? dptHead(s, 'depth_head', 2 * embedDim) : null;
  const pointHead = s.hasPrefix('point_head.') ? dptHead(s, 'point_head', 2 * embedDim) : null;
  const dpt = depthHead ?? pointHead;
  if (dpt) {
    agree('dpt_features', dpt.features);
    const oc = override?.dpt_out_channels;
    if (oc !== undefined && oc !== null) {
      if (!Array.isArray(oc) || oc.length !== 4 || oc.some((v, i) => v !== dpt.outChannels[i])) {
        throw bad(`config says dpt_out_channels = ${JSON.stringify(oc)} but the weights say ${fmt(dpt.outChannels)}`);
      }
    }
  }
  if (depthHead && pointHead) {
    if (
      depthHead.features !== pointHead.features ||
      depthHead.outChannels.some((v, i) => v !== pointHead.outChannels[i])
    ) {
      throw bad('depth_head and point_head have different widths');
    }
  }

  return {
    embedDim,
    numHeads,
    headDim,
    depth,
    mlpHiddenDim,
    patchSize,
    numRegisterTokens,
    patchStartIdx: 1 + numRegisterTokens,
    dino: {
      dim: dinoDim,
      depth: dinoDepth,
      heads: dinoHeads,
      headDim: dinoDim / dinoHeads,
      mlpHiddenDim: dinoMlp,
      posGrid,
      imgSize: posGrid * patchSize,
      numRegisters,
    },
    camera,
    depthHead,
    pointHead,
    hasTrackHead: s.hasPrefix('track_head.'),
    assumed,
  };
}
