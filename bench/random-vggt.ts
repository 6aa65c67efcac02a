// A VGGT-shaped aggregator checkpoint with random weights, for speed measurements (no weights are downloaded).
// Widths, heads and depths are parameters, so the same code makes a VGGT-1B-shaped model on a real GPU.
import { buildSafetensors, type Entry } from '../test/cpu/model/st-helpers';

export interface RandomVggtShape {
  dim: number;
  heads: number;
  depth: number;
  dinoDepth: number;
  registers?: number;
  /** Also a camera head and a point DPT head (VGGT's layout; what calibration needs). */
  predictionHeads?: { cameraHeads: number; trunkDepth: number; features: number; outChannels: [number, number, number, number] };
}

export function randomVggtCheckpoint(shape: RandomVggtShape, seed = 1): { bytes: Uint8Array; config: Record<string, unknown> } {
  const { dim: C, heads: H, depth, dinoDepth, registers = 4 } = shape;
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
  const entries: Entry[] = [];
  const add = (name: string, dims: number[], scale: number, offset = 0) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + scale * rand();
    entries.push({ name, dtype: 'F32', shape: dims, bytes: new Uint8Array(data.buffer) });
  };
  const block = (p: string, qk: boolean, C = shape.dim) => {
    const d = C / H;
    add(`${p}.norm1.weight`, [C], 0.1, 1); add(`${p}.norm1.bias`, [C], 0.02);
    add(`${p}.attn.qkv.weight`, [3 * C, C], 1 / Math.sqrt(C)); add(`${p}.attn.qkv.bias`, [3 * C], 0.02);
    if (qk) for (const n of ['q_norm', 'k_norm']) { add(`${p}.attn.${n}.weight`, [d], 0.1, 1); add(`${p}.attn.${n}.bias`, [d], 0.02); }
    add(`${p}.attn.proj.weight`, [C, C], 1 / Math.sqrt(C)); add(`${p}.attn.proj.bias`, [C], 0.02);
    add(`${p}.ls1.gamma`, [C], 0.05, 0.1);
    add(`${p}.norm2.weight`, [C], 0.1, 1); add(`${p}.norm2.bias`, [C], 0.02);
    add(`${p}.mlp.fc1.weight`, [4 * C, C], 1 / Math.sqrt(C)); add(`${p}.mlp.fc1.bias`, [4 * C], 0.02);
    add(`${p}.mlp.fc2.weight`, [C, 4 * C], 1 / Math.sqrt(4 * C)); add(`${p}.mlp.fc2.bias`, [C], 0.02);
    add(`${p}.ls2.gamma`, [C], 0.05, 0.1);
  };
  const pe = 'aggregator.patch_embed';
  add(`${pe}.cls_token`, [1, 1, C], 0.02); add(`${pe}.pos_embed`, [1, 1370, C], 0.02);
  add(`${pe}.register_tokens`, [1, 4, C], 0.02); add(`${pe}.mask_token`, [1, C], 0.02);
  add(`${pe}.patch_embed.proj.weight`, [C, 3, 14, 14], 1 / Math.sqrt(3 * 196)); add(`${pe}.patch_embed.proj.bias`, [C], 0.02);
  for (let i = 0; i < dinoDepth; i++) block(`${pe}.blocks.${i}`, false);
  add(`${pe}.norm.weight`, [C], 0.1, 1); add(`${pe}.norm.bias`, [C], 0.02);
  add('aggregator.camera_token', [1, 2, 1, C], 0.02); add('aggregator.register_token', [1, 2, registers, C], 0.02);
  for (let i = 0; i < depth; i++) { block(`aggregator.frame_blocks.${i}`, true); block(`aggregator.global_blocks.${i}`, true); }
  const config: Record<string, unknown> = { embed_dim: C, num_heads: H, depth, dino_depth: dinoDepth, dino_heads: H, num_register_tokens: registers };
  const hd = shape.predictionHeads;
  if (hd) {
    const D = 2 * C; // the heads read [frame ‖ global] tokens
    const lin = (n: string, o: number, i: number) => { add(`${n}.weight`, [o, i], 1 / Math.sqrt(i)); add(`${n}.bias`, [o], 0.02); };
    const conv = (n: string, o: number, i: number, k: number, bias = true) => {
      add(`${n}.weight`, [o, i, k, k], 1 / Math.sqrt(i * k * k));
      if (bias) add(`${n}.bias`, [o], 0.02);
    };
    const ch = 'camera_head';
    lin(`${ch}.embed_pose`, D, 9);
    add(`${ch}.empty_pose_tokens`, [1, 1, 9], 0.02);
    lin(`${ch}.poseLN_modulation.1`, 3 * D, D);
    lin(`${ch}.pose_branch.fc1`, D / 2, D);
    lin(`${ch}.pose_branch.fc2`, 9, D / 2);
    for (const n of ['token_norm', 'trunk_norm']) { add(`${ch}.${n}.weight`, [D], 0.1, 1); add(`${ch}.${n}.bias`, [D], 0.02); }
    for (let i = 0; i < hd.trunkDepth; i++) block(`${ch}.trunk.${i}`, false, D);
    const ph = 'point_head';
    const F = hd.features, oc = hd.outChannels;
    add(`${ph}.norm.weight`, [D], 0.1, 1); add(`${ph}.norm.bias`, [D], 0.02);
    oc.forEach((o, k) => conv(`${ph}.projects.${k}`, o, D, 1));
    // ConvTranspose weights are [in, out, k, k]
    add(`${ph}.resize_layers.0.weight`, [oc[0], oc[0], 4, 4], 1 / Math.sqrt(oc[0] * 16)); add(`${ph}.resize_layers.0.bias`, [oc[0]], 0.02);
    add(`${ph}.resize_layers.1.weight`, [oc[1], oc[1], 2, 2], 1 / Math.sqrt(oc[1] * 4)); add(`${ph}.resize_layers.1.bias`, [oc[1]], 0.02);
    conv(`${ph}.resize_layers.3`, oc[3], oc[3], 3);
    oc.forEach((o, k) => conv(`${ph}.scratch.layer${k + 1}_rn`, F, o, 3, false));
    for (let r = 1; r <= 4; r++) {
      conv(`${ph}.scratch.refinenet${r}.out_conv`, F, F, 1);
      for (const u of r === 4 ? [2] : [1, 2]) for (const c of [1, 2]) conv(`${ph}.scratch.refinenet${r}.resConfUnit${u}.conv${c}`, F, F, 3);
    }
    conv(`${ph}.scratch.output_conv1`, F / 2, F, 3);
    conv(`${ph}.scratch.output_conv2.0`, 32, F / 2, 3);
    conv(`${ph}.scratch.output_conv2.2`, 4, 32, 1);
    Object.assign(config, { camera_heads: hd.cameraHeads, camera_trunk_depth: hd.trunkDepth, dpt_features: F, dpt_out_channels: oc });
  }
  return { bytes: buildSafetensors(entries), config };
}
